"""Telling a vault's surroundings failing (its lock held, its disk full or broken) from the vault
itself being damaged.

SQLite reports a full disk while it creates the WAL or its shared-memory index as a
"disk I/O error", and a lock it waited for in vain as "database is locked"; both used to be
read as "not a FieldChart vault, or truncated or corrupted", which sends IT after a backup
when freeing space or waiting would do. `storage_failure` names the cause instead.

SQLCipher's errors carry no error code in Python, only SQLite's fixed English messages
(sqlite3ErrStr), so the messages are what is matched.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from app.store.errors import DiskFullError, DiskIOError, StorageUnavailableError, VaultBusyError

#: What a held lock or a full or failing disk raises from below the store's own checks (the
#: database driver's errors and the operating system's): callers outside the store catch
#: these and ask `storage_failure` what they mean, without importing the driver themselves.
STORAGE_EXCEPTIONS: tuple[type[Exception], ...] = (SQLAlchemyError, OSError)

# Below this much free space an I/O error while opening or writing is taken for a full disk:
# SQLite needs a 32 KiB shared-memory index and a few pages of WAL to do anything at all.
LOW_SPACE_BYTES = 1024 * 1024

_BUSY = ("database is locked", "database table is locked", "database schema is locked")
_FULL = ("database or disk is full",)
_IO = ("disk i/o error",)
_CANNOT_OPEN = ("unable to open database file",)
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def storage_failure(
    exc: BaseException, where: Path | None = None
) -> StorageUnavailableError | None:
    """The storage cause of `exc` (or of an exception it wraps or was raised from) as a
    StorageUnavailableError with a plain message, or None if it is not one. `where` is the
    vault's directory: its free space tells a full disk from a failing one."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno is not None:
            if cause.errno in _FULL_ERRNOS:
                return DiskFullError()
            if cause.errno == errno.EIO:
                return _full_or_io(where)
            continue
        message = str(cause).lower()
        if any(m in message for m in _BUSY):
            return VaultBusyError()
        if any(m in message for m in _FULL):
            return DiskFullError()
        if any(m in message for m in _IO):
            return _full_or_io(where)
        if any(m in message for m in _CANNOT_OPEN) and _low_on_space(where):
            return DiskFullError()
    return None


def is_disk_full(exc: BaseException) -> bool:
    """True if `exc` (or what it wraps) is the operating system saying the disk is full."""
    return isinstance(storage_failure(exc), DiskFullError)


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc`, the DB-API error a SQLAlchemy error wraps (`orig`), and their causes."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(seen) < 16:
        current = pending.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        orig = getattr(current, "orig", None)
        pending.extend(
            [
                orig if isinstance(orig, BaseException) else None,
                current.__cause__,
                current.__context__,
            ]
        )
    return seen


def _full_or_io(where: Path | None) -> StorageUnavailableError:
    return DiskFullError() if _low_on_space(where) else DiskIOError()


def _low_on_space(where: Path | None) -> bool:
    if where is None:
        return False
    path = Path(where)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free < LOW_SPACE_BYTES
    except OSError:
        return False
