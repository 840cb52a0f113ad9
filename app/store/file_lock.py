"""Exclusive locks between FieldChart processes, on a small lock file beside the vault.

Several processes may work on one vault at once (the desktop app, its sync worker, `fieldchart`
commands run by IT or scripts). Where one of them reads a file, changes it and writes it back
(the key slots, the unlock-failure counter) or runs something that must not run twice at once
(a sync cycle), it holds one of these locks for the whole read-modify-write, so no process
writes back a copy that another has changed meanwhile.

The lock is `flock` on POSIX (released by the kernel when the process dies, so a killed command
never leaves a stale lock) and `msvcrt.locking` on the first byte of the file on Windows (also
released when the process ends). The lock file holds nothing and is never deleted: deleting it
while another process waits on it would let two processes lock two different files.

Waiting is bounded: a process that cannot get the lock within `wait_s` gives up with
`BusyError`, whose message says what holds it and that nothing was changed. A thread that
already holds a lock may take it again (nested use within one process).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from app.store.errors import VaultBusyError

POLL_S = 0.05


class BusyError(VaultBusyError):
    """Another FieldChart process holds a lock this command needs; nothing was changed and the
    command may simply be run again (a StorageUnavailableError: the CLI exits with code 3)."""


_held = threading.local()  # path -> how many times this thread holds it


def _depths() -> dict[str, int]:
    depths: dict[str, int] | None = getattr(_held, "depths", None)
    if depths is None:
        depths = _held.depths = {}
    return depths


@contextlib.contextmanager
def exclusive_lock(
    path: Path,
    *,
    wait_s: float,
    busy: Callable[[], BusyError],
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the exclusive lock on `path` (created if missing, mode 0600) for the block; wait
    up to `wait_s` seconds for it, then raise `busy()`."""
    key = os.path.abspath(path)
    depths = _depths()
    if depths.get(key):
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = monotonic() + wait_s
        while not _try_lock(fd):
            if monotonic() >= deadline:
                raise busy()
            sleep(POLL_S)
        depths[key] = 1
        try:
            yield
        finally:
            depths.pop(key, None)
            _unlock(fd)
    finally:
        os.close(fd)


def is_locked(path: Path) -> bool:
    """True if another process (or another thread of this one) holds the lock on `path`."""
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        if _try_lock(fd):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows builds only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
