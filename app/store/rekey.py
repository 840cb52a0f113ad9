"""File-level operations on the SQLCipher database that bypass the engine: a consistent online
copy (backups), re-encryption under a new data key (rotate-key), finishing a rotation a crash
cut short, and telling whether another process has a vault open.

Rotation never re-encrypts the live file in place. With the vault to itself (no other
connection: otherwise VaultInUseError), it

1. copies the database with SQLite's online backup API into ``vault.db.next`` (old key),
2. re-encrypts the copy with ``PRAGMA rekey = "x'<new key>'"``, checks it opens with the new
   key (and the old one no longer does) and fsyncs it,
3. writes the key slots that open the new key to ``keyslots.next.json``,
4. writes the commit record ``rotation-commit.json`` -- the commit point --, naming the
   SQLCipher salt (the first 16 bytes, public, fixed for a file's life) of the old and of the
   new database file,
5. renames ``vault.db.next`` over ``vault.db``, then ``keyslots.next.json`` over
   ``keyslots.json``, and removes the commit record.

Recovery (at every open) decides from the commit record alone, never from which ``.next``
files happen to exist: without it the rotation never committed and the ``.next`` files are
discarded (``vault.db`` and ``keyslots.json`` were not touched); with it the rotation rolls
forward, and the salt at the head of ``vault.db`` says whether the database was already
swapped. So a crash at any point, in recovery too, or IT deleting ``vault.db.next``, never
installs slots that do not open the database beside them. Every step is idempotent. Everything
written is ciphertext: no plaintext temp files. See docs/security/crash-safety.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.i18n import N_, _
from app.store import fileops
from app.store.errors import KeyRotationError, NotAVaultError, VaultInUseError

if TYPE_CHECKING:
    from app.store.keyslots import KeySlotFile

DB_FILE = "vault.db"
SLOTS_FILE = "keyslots.json"
NEXT_DB = "vault.db.next"
NEXT_SLOTS = "keyslots.next.json"
COMMIT_RECORD = "rotation-commit.json"
COMMIT_FORMAT = "fieldchart-rotation/1"
SALT_BYTES = 16  # SQLCipher's per-file salt, stored in plaintext at the head of the file
BUSY_MS = 2000
IN_USE = N_(
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


@contextlib.contextmanager
def vault_dir_lock(data_dir: Path) -> Iterator[bool]:
    """An exclusive, non-blocking flock on the vault directory itself (a stable inode, unlike
    the files a rotation or restore renames): held by a running rotation or restore, so that
    another process's open does not mistake its files for the leftovers of a crash. Yields
    whether it was acquired. (No such lock on Windows: there, do not open a vault while
    rotating or restoring it.)"""
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
    fileops.create_file(target)  # 0600 before SQLite opens it; FileExistsError if it exists
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
    fileops.checkpoint(f"SQLite copied {target.name}")
    fileops.fsync_file(target)
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
            raise KeyRotationError(
                _("{name} does not open with the current data key").format(name=db.name)
            ) from None
        try:
            mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
            if str(mode).lower() != "delete":
                raise VaultInUseError(_(IN_USE))
            conn.execute("BEGIN IMMEDIATE")
        except _dbapi().OperationalError:
            raise VaultInUseError(_(IN_USE)) from None
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
    with vault_dir_lock(data_dir) as mine:
        if not mine:
            raise VaultInUseError(_("another rotate-key or restore is running on this vault"))
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
        try:
            fileops.create_file(next_db)  # 0600 before SQLite opens it
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
            fileops.checkpoint(f"SQLite re-encrypted {NEXT_DB}")
            _check_keys(next_db, new_key, old_key, live)
            fileops.fsync_file(next_db)
            old_salt, new_salt = _salt(db), _salt(next_db)
            if not old_salt or old_salt == new_salt:
                raise KeyRotationError(_("the re-encrypted copy cannot be told from the vault"))
            next_slots.save(data_dir / NEXT_SLOTS)
            record = {"format": COMMIT_FORMAT, "old_db_salt": old_salt, "new_db_salt": new_salt}
            fileops.write_atomically(data_dir / COMMIT_RECORD, json.dumps(record).encode())
        except Exception:
            _roll_back(data_dir)  # not committed: the vault is as it was
            raise
        _swap_database(data_dir)  # still inside `exclusive`: nobody sees the old file change
    _roll_forward(data_dir, record)


def _salt(path: Path) -> str:
    """The SQLCipher salt at the head of a database file (hex), "" if it has none."""
    try:
        with path.open("rb") as fh:
            head = fh.read(SALT_BYTES)
    except FileNotFoundError:
        return ""
    return head.hex() if len(head) == SALT_BYTES else ""


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
            _("the re-encrypted copy does not open ({name__})").format(name__=type(exc).__name__)
        ) from None
    finally:
        conn.close()
    original = live.execute("SELECT count(*), coalesce(max(position), 0) FROM events").fetchone()
    if result != "ok" or tuple(copied) != tuple(original):
        raise KeyRotationError(
            _("the re-encrypted copy differs from the vault; nothing was changed")
        )
    conn = raw_connect(path, old_key)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except errors:
        return
    finally:
        conn.close()
    raise KeyRotationError(_("the re-encrypted copy still opens with the old key"))


def interrupted(data_dir: Path) -> bool:
    """Whether a rotation left files behind (cheap: no lock, no reading)."""
    return any((data_dir / name).exists() for name in (NEXT_DB, NEXT_SLOTS, COMMIT_RECORD))


def finish_interrupted(data_dir: Path) -> str | None:
    """Roll an interrupted rotation forward or back (see the module docstring); returns what
    was done ("completed", "rolled back") or None. Needs no key. Leaves a rotation that is
    still running alone."""
    if not interrupted(data_dir):
        return None  # the usual case: nothing to do, no lock taken
    with vault_dir_lock(data_dir) as free:
        return _finish_interrupted(data_dir) if free else None


def _finish_interrupted(data_dir: Path) -> str | None:
    if not interrupted(data_dir):
        return None
    record_path = data_dir / COMMIT_RECORD
    if not record_path.exists():
        _roll_back(data_dir)
        return "rolled back"
    try:
        record = json.loads(record_path.read_bytes())
        old_salt, new_salt = str(record["old_db_salt"]), str(record["new_db_salt"])
        if record.get("format") != COMMIT_FORMAT or not old_salt or old_salt == new_salt:
            raise ValueError(record.get("format"))
    except (OSError, ValueError, KeyError, TypeError):
        raise NotAVaultError(
            _(
                "{COMMIT_RECORD} (left by an interrupted rotate-key) is "
                "damaged; keep every file of this vault and restore it from "
                "a backup"
            ).format(COMMIT_RECORD=COMMIT_RECORD)
        ) from None
    current = _salt(data_dir / DB_FILE)
    if current == old_salt and not (data_dir / NEXT_DB).exists():
        # The new database is gone before it was swapped in (deleted by hand): the old pair
        # is still whole, so the rotation is undone rather than completed.
        _roll_back(data_dir)
        return "rolled back"
    if current not in (old_salt, new_salt):
        raise NotAVaultError(
            _(
                "{DB_FILE} is neither the database before nor after the "
                "interrupted rotate-key that {COMMIT_RECORD} describes; keep "
                "every file and restore from a backup"
            ).format(DB_FILE=DB_FILE, COMMIT_RECORD=COMMIT_RECORD)
        )
    if current == old_salt:
        _swap_database(data_dir)
    _roll_forward(data_dir, record)
    return "completed"


def _roll_back(data_dir: Path) -> None:
    """Discard an uncommitted rotation: the commit record first (so a crash from here on
    still rolls back), then the new files. vault.db and keyslots.json were never touched."""
    fileops.remove_stale_temps(data_dir)
    fileops.unlink(data_dir / COMMIT_RECORD)
    next_db = data_dir / NEXT_DB
    for path in (next_db, *_sidecars(next_db), data_dir / NEXT_SLOTS):
        fileops.unlink(path)
    fileops.fsync_dir(data_dir)


def _swap_database(data_dir: Path) -> None:
    """Committed: the new database replaces the old one (whose sidecars go first: they would
    otherwise be taken for the new file's)."""
    db, next_db = data_dir / DB_FILE, data_dir / NEXT_DB
    for path in _sidecars(db):
        fileops.unlink(path)
    fileops.replace(next_db, db)
    fileops.fsync_dir(data_dir)


def _roll_forward(data_dir: Path, record: dict[str, str]) -> None:
    """After the database swap: install the new slots, then drop the commit record."""
    next_db = data_dir / NEXT_DB
    if _salt(data_dir / DB_FILE) == record["new_db_salt"]:
        for path in (next_db, *_sidecars(next_db)):  # a stray copy (the swap was done)
            fileops.unlink(path)
    if (data_dir / NEXT_SLOTS).exists():
        fileops.replace(data_dir / NEXT_SLOTS, data_dir / SLOTS_FILE)
        fileops.fsync_dir(data_dir)
    fileops.remove_stale_temps(data_dir)
    fileops.unlink(data_dir / COMMIT_RECORD)
    fileops.fsync_dir(data_dir)


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
