"""File-level operations on the SQLCipher database that bypass the engine: a consistent online
copy (backups), re-encryption under a new data key (rotate-key), finishing a rotation a crash
cut short, and telling whether another process has a vault open.

Rotation never re-encrypts the live file in place. With the vault to itself (no other
connection: otherwise VaultInUseError), it

1. copies the database with SQLite's online backup API into ``vault.db.next`` (old key),
2. re-encrypts the copy with ``PRAGMA rekey = "x'<new key>'"`` and checks it opens with the new
   key (and the old one no longer does),
3. writes the key slots that open the new key to ``keyslots.next.json``,
4. renames ``vault.db.next`` over ``vault.db`` -- the commit point --, then
5. renames ``keyslots.next.json`` over ``keyslots.json``.

A crash before 4 leaves the old pair whole (the ``.next`` files are discarded at the next
open); a crash between 4 and 5 leaves ``keyslots.next.json`` beside the new database, and the
next open finishes the rename. Everything written is ciphertext: no plaintext temp files.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.store.errors import KeyRotationError, VaultInUseError

if TYPE_CHECKING:
    from app.store.keyslots import KeySlotFile

DB_FILE = "vault.db"
SLOTS_FILE = "keyslots.json"
NEXT_DB = "vault.db.next"
NEXT_SLOTS = "keyslots.next.json"
BUSY_MS = 2000
IN_USE = (
    "the vault is open in another FieldChart window or process; close it (or lock it) and try again"
)


def _dbapi() -> Any:
    from app.store.database import _check_driver

    _check_driver()  # no silent fallback to plain SQLite
    import sqlcipher3.dbapi2

    return sqlcipher3.dbapi2


def raw_connect(path: Path, key: bytes | bytearray) -> Any:
    """A DB-API connection keyed with a raw 256-bit key (autocommit; BEGIN is explicit)."""
    conn = _dbapi().connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{bytes(key).hex()}'\"")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        conn.execute("PRAGMA temp_store = MEMORY")
    except BaseException:
        conn.close()
        raise
    return conn


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    if sys.platform != "win32":
        _fsync(path)


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def _rotation_lock(data_dir: Path) -> Iterator[bool]:
    """An exclusive, non-blocking flock on the vault directory itself (a stable inode, unlike
    the files a rotation renames): held by a running rotation, so that another process's
    open does not mistake its files for the leftovers of a crash. Yields whether it was
    acquired. (No such lock on Windows: there, do not open a vault while rotating it.)"""
    if sys.platform == "win32":
        yield True
        return
    import fcntl

    fd = os.open(data_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _sidecars(db: Path) -> list[Path]:
    return [db.with_name(db.name + suffix) for suffix in ("-journal", "-wal", "-shm")]


# -- online copy ------------------------------------------------------------------------


def online_copy(
    source: Path, target: Path, key: bytes | bytearray, during: Callable[[], bytes]
) -> bytes:
    """Copy the database with SQLite's online backup API into `target` (same key), in one
    step inside one read transaction, so the copy is a consistent snapshot even while other
    processes write (WAL readers do not block writers). `during()` runs while that snapshot
    is held (to read the matching key slots); its result is returned."""
    if target.exists():
        raise FileExistsError(target)
    src = raw_connect(source, key)
    try:
        dst = raw_connect(target, key)
        try:
            dst.execute("PRAGMA journal_mode = OFF")  # a scratch file: no journal beside it
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts
            try:
                src.backup(dst)
                extra = during()
            finally:
                src.execute("COMMIT")
        finally:
            dst.close()
    finally:
        src.close()
    _fsync(target)
    os.chmod(target, 0o600)
    return extra


# -- rotation -----------------------------------------------------------------------------


@contextlib.contextmanager
def exclusive(db: Path, key: bytes | bytearray) -> Iterator[Any]:
    """The database to ourselves: leaving WAL mode is only possible for the sole connection,
    and the write transaction then keeps every writer out (and every FieldChart connection:
    they switch to WAL when they connect) until the end. Readers are still allowed, so the
    copy can be taken through a second connection of ours."""
    conn = raw_connect(db, key)
    try:
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except _dbapi().DatabaseError:
            raise KeyRotationError(f"{db.name} does not open with the current data key") from None
        try:
            mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
            if str(mode).lower() != "delete":
                raise VaultInUseError(IN_USE)
            conn.execute("BEGIN IMMEDIATE")
        except _dbapi().OperationalError:
            raise VaultInUseError(IN_USE) from None
        yield conn
    finally:
        conn.close()


def rotate_file(
    data_dir: Path,
    old_key: bytes | bytearray,
    new_key: bytes | bytearray,
    next_slots: KeySlotFile,
    log_key_meta: str = "log_key",
) -> None:
    """Re-encrypt the vault in `data_dir` from `old_key` to `new_key` and install
    `next_slots` (which must open `new_key`); see the module docstring for the steps."""
    with _rotation_lock(data_dir) as mine:
        if not mine:
            raise VaultInUseError("another rotate-key is running on this vault")
        _rotate_file(data_dir, old_key, new_key, next_slots, log_key_meta)


def _rotate_file(
    data_dir: Path,
    old_key: bytes | bytearray,
    new_key: bytes | bytearray,
    next_slots: KeySlotFile,
    log_key_meta: str,
) -> None:
    db, next_db = data_dir / DB_FILE, data_dir / NEXT_DB
    _finish_interrupted(data_dir)
    with exclusive(db, old_key) as live:
        _remove(next_db, *_sidecars(next_db))
        try:
            with contextlib.closing(raw_connect(next_db, old_key)) as copy:
                copy.execute("PRAGMA journal_mode = DELETE")
                # Copied through a second connection: the backup API cannot read through the
                # connection that holds the write lock.
                with contextlib.closing(raw_connect(db, old_key)) as reader:
                    reader.backup(copy)
                # Vaults from before the log key existed seal events with subkeys of their
                # first data key: keep that key for the log, inside the re-encrypted file.
                copy.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                    (log_key_meta, bytes(old_key).hex()),
                )
                copy.execute(f"PRAGMA rekey = \"x'{bytes(new_key).hex()}'\"")
            _check_keys(next_db, new_key, old_key, live)
            _fsync(next_db)
            os.chmod(next_db, 0o600)
            next_slots.save(data_dir / NEXT_SLOTS)
        except BaseException:
            _remove(next_db, *_sidecars(next_db), data_dir / NEXT_SLOTS)
            raise
        os.replace(next_db, db)  # the commit point
        _fsync_dir(data_dir)
    _remove(*_sidecars(db))  # the old file's -shm; never the new file's (it has none yet)
    os.replace(data_dir / NEXT_SLOTS, data_dir / SLOTS_FILE)
    _fsync_dir(data_dir)


def _check_keys(
    path: Path, new_key: bytes | bytearray, old_key: bytes | bytearray, live: Any
) -> None:
    """The re-encrypted copy opens with the new key, holds what the live file holds, and does
    not open with the old key."""
    errors = _dbapi().DatabaseError
    conn = raw_connect(path, new_key)
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
        copied = conn.execute("SELECT count(*), coalesce(max(position), 0) FROM events").fetchone()
    except errors as exc:
        raise KeyRotationError(
            f"the re-encrypted copy does not open ({type(exc).__name__})"
        ) from None
    finally:
        conn.close()
    original = live.execute("SELECT count(*), coalesce(max(position), 0) FROM events").fetchone()
    if result != "ok" or tuple(copied) != tuple(original):
        raise KeyRotationError("the re-encrypted copy differs from the vault; nothing was changed")
    conn = raw_connect(path, old_key)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except errors:
        return
    finally:
        conn.close()
    raise KeyRotationError("the re-encrypted copy still opens with the old key")


def finish_interrupted(data_dir: Path) -> str | None:
    """Roll an interrupted rotation forward or back from which files exist; returns what was
    done ("completed", "rolled back") or None. Needs no key. Leaves a rotation that is still
    running alone."""
    if not ((data_dir / NEXT_SLOTS).exists() or (data_dir / NEXT_DB).exists()):
        return None  # the usual case: nothing to do, no lock taken
    with _rotation_lock(data_dir) as free:
        return _finish_interrupted(data_dir) if free else None


def _finish_interrupted(data_dir: Path) -> str | None:
    db, next_db, next_slots = data_dir / DB_FILE, data_dir / NEXT_DB, data_dir / NEXT_SLOTS
    _remove(next_slots.with_name(next_slots.name + ".tmp"))
    if next_slots.exists() and not next_db.exists() and db.exists():
        os.replace(next_slots, data_dir / SLOTS_FILE)  # the database was already swapped
        _fsync_dir(data_dir)
        return "completed"
    if next_slots.exists() or next_db.exists():
        _remove(next_db, *_sidecars(next_db), next_slots)
        return "rolled back"
    return None


# -- is anybody using it? -------------------------------------------------------------------

_SHM_DMS_BYTE = 128  # SQLite's "dead man switch" lock in the -shm file: held by every
_SHARED_FIRST = 0x40000000 + 2  # connection in WAL mode; the SHARED range of the database
_SHARED_SIZE = 510  # file is held by readers in rollback-journal mode.


def in_use(db: Path) -> bool:
    """True if another process has this database open (POSIX advisory locks, the ones SQLite
    takes). Needs no key. On Windows this cannot be probed safely and returns False.

    Never call it on a database this process has open: POSIX locks are per process, so the
    probe would not see our own connections, and closing its descriptor would drop their
    locks."""
    if sys.platform == "win32":
        return False
    import fcntl

    for path, start, size in (
        (db.with_name(db.name + "-shm"), _SHM_DMS_BYTE, 1),
        (db, _SHARED_FIRST, _SHARED_SIZE),
    ):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        except OSError:
            return True
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, size, start, os.SEEK_SET)
        except OSError:
            return True
        finally:
            os.close(fd)  # also releases the probe lock
    return False
