"""Every file operation of the flows that must survive a crash at any point -- creating a
vault, writing key slots, rotate-key, backup and restore -- goes through this module, so that
a test can stop the flow after any single operation ("crash injection") and prove that the
next run recovers. See docs/security/crash-safety.md.

Files are created 0600 and directories 0700, always. Temporary files and scratch directories
are hidden (a leading dot) and carry an advisory lock while their owner runs, so the next run
can tell a leftover of a crash (lock free: removed) from a running operation (left alone).

The test seam: `crash_hook(hook)` installs a process-global function called after each
operation with a label such as ``"replace vault.db.next -> vault.db"``; raising
`SimulatedCrash` from it stops the flow there, as a kill would (cleanup code that does file
operations is stopped too: the hook keeps raising once it has). With `power_cut` the crash also
loses what was not yet durable, the worst a power cut may do: file contents written since their
last fsync are truncated, and creations, renames and removals in a directory since its last
fsync are undone (newest first; files a rename replaced or an unlink removed come back from
hard links kept for the purpose).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

Hook = Callable[[str], None]
_hook: Hook | None = None
_crashed = False  # the hook raised SimulatedCrash: no further operation may happen
# With a power-cut hook: how to undo each effect not yet durable, with the fsync that makes it
# durable (a directory, or a file's inode); and where replaced or removed files are kept.
_volatile: list[tuple[object, Callable[[], None]]] | None = None
_shadow_dir: Path | None = None
_inode_paths: dict[int, Path] = {}
TEMP_SUFFIX = ".tmp"


class SimulatedCrash(BaseException):
    """Raised by a test's hook to stop a flow after a file operation, like SIGKILL would."""


@contextlib.contextmanager
def crash_hook(hook: Hook, *, power_cut: Path | None = None) -> Iterator[None]:
    """Call `hook(label)` after every file operation while the block runs (tests only). With
    `power_cut` (an empty directory on the same file system, for the hard links) a crash also
    loses everything not yet durable (see the module docstring)."""
    global _hook, _crashed, _volatile, _shadow_dir
    previous, _hook = _hook, hook
    if power_cut is not None:
        _volatile, _shadow_dir = [], power_cut
        _inode_paths.clear()
    try:
        yield
    finally:
        if _crashed and _volatile is not None:
            for _, undo in reversed(_volatile):
                with contextlib.suppress(OSError):
                    undo()
        _hook, _crashed, _volatile, _shadow_dir = previous, False, None, None
        _inode_paths.clear()
        if power_cut is not None:
            for leftover in power_cut.iterdir():
                leftover.unlink()


def _record(durable_by: object, undo: Callable[[], None]) -> None:
    if _volatile is not None:
        _volatile.append((durable_by, undo))


def _durable(key: object) -> None:
    if _volatile is not None:
        _volatile[:] = [(k, undo) for k, undo in _volatile if k != key]


def _kept(path: Path) -> Path | None:
    """A hard link to the file at `path` (about to be replaced or removed), for an undo."""
    if _shadow_dir is None or not path.is_file():
        return None
    keep = _shadow_dir / f"{len(_volatile or ())}-{secrets.token_hex(4)}"
    os.link(path, keep)
    return keep


def _created(path: Path, fd: int) -> None:
    """A new file: its name is not durable until its directory is fsynced, nor its content
    until it is."""
    if _volatile is None:
        return
    inode = os.fstat(fd).st_ino
    _inode_paths[inode] = path
    _record(path.parent, lambda: path.unlink())
    _record(("inode", inode), lambda: _truncate(inode))


def _truncate(inode: int) -> None:
    path = _inode_paths.get(inode)
    if path is not None and path.exists() and path.stat().st_ino == inode:
        os.truncate(path, 0)


def checkpoint(label: str) -> None:
    """Mark a point where a crash may happen after a write someone else did (SQLite)."""
    global _crashed
    if _hook is not None:
        try:
            _hook(label)
        except SimulatedCrash:
            _crashed = True
            raise


def _guard() -> None:
    """Before each operation: a simulated crash stops everything that would follow it."""
    if _crashed:
        raise SimulatedCrash("the process is dead")


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


# -- files ------------------------------------------------------------------------------------


@contextlib.contextmanager
def new_file(path: Path) -> Iterator[BinaryIO]:
    """A new file (never an existing one: FileExistsError), mode 0600, open for writing."""
    _guard()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    _created(path, fd)
    with os.fdopen(fd, "wb") as fh:
        yield fh
    checkpoint(f"write {_name(path)}")


def create_file(path: Path, data: bytes = b"") -> None:
    """A new file holding `data` (an empty one reserves the name and mode for SQLite)."""
    with new_file(path) as fh:
        fh.write(data)


def fsync_file(path: Path) -> None:
    _guard()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
        _durable(("inode", os.fstat(fd).st_ino))
    finally:
        os.close(fd)
    checkpoint(f"fsync {_name(path)}")


def fsync_dir(path: Path) -> None:
    """Make the renames and unlinks in directory `path` durable (not possible on Windows)."""
    _guard()
    if sys.platform != "win32":
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _durable(path)
    checkpoint(f"fsync {path.name}/")


def replace(src: Path, dst: Path) -> None:
    _guard()
    kept = _kept(dst)
    os.replace(src, dst)
    if _volatile is not None:
        inode = dst.stat().st_ino
        if _inode_paths.get(inode) == src:
            _inode_paths[inode] = dst

        def undo() -> None:
            os.replace(dst, src)
            if kept is not None:
                os.replace(kept, dst)

        _record(dst.parent, undo)
    checkpoint(f"replace {_name(src)} -> {_name(dst)}")


def unlink(path: Path) -> bool:
    """Remove a file if it is there; returns whether it was."""
    _guard()
    kept = _kept(path)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    if kept is not None:
        _record(path.parent, lambda: os.replace(kept, path))
    checkpoint(f"unlink {_name(path)}")
    return True


def chmod(path: Path, mode: int) -> None:
    _guard()
    os.chmod(path, mode)
    checkpoint(f"chmod {_name(path)}")


def mkdir(path: Path) -> bool:
    """Create directory `path` (0700, parents too) if missing; returns whether it was."""
    _guard()
    if path.is_dir():
        return False
    top = path
    while not top.parent.exists() and top.parent != top:
        top = top.parent  # the first directory that will be created
    path.mkdir(parents=True, mode=0o700)
    _record(top.parent, lambda: shutil.rmtree(top))
    checkpoint(f"mkdir {_name(path)}")
    fsync_dir(top.parent)  # else a power cut may take the new directory and all in it
    return True


def rmtree(path: Path) -> None:
    """Remove a directory tree one entry at a time (each removal is a crash point)."""
    if not path.is_dir() or path.is_symlink():
        unlink(path)
        return
    for child in sorted(path.iterdir()):
        rmtree(child)
    _guard()
    with contextlib.suppress(FileNotFoundError):
        path.rmdir()
        _record(path.parent, lambda: path.mkdir(mode=0o700))
        checkpoint(f"rmdir {_name(path)}")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` so that a crash leaves either the old or the new content, never a mix
    (hidden temp file, fsync, rename, directory fsync). The temp file is locked while it is
    written, so `remove_stale_temps` leaves a running writer's file alone."""
    _guard()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        _created(tmp, fd)
        _lock(fd, blocking=True)
        _write_all(fd, data)
        checkpoint(f"write {_name(tmp)}")
        os.fsync(fd)
        _durable(("inode", os.fstat(fd).st_ino))
        checkpoint(f"fsync {_name(tmp)}")
        replace(tmp, path)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# -- locks, scratch directories and leftovers ---------------------------------------------------


def _lock(fd: int, *, blocking: bool) -> bool:
    """An exclusive flock on `fd`; False if another holder has it (non-blocking)."""
    if sys.platform == "win32":
        return True  # no advisory locks: see docs/security/crash-safety.md
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


@contextlib.contextmanager
def locked(path: Path) -> Iterator[bool]:
    """A non-blocking exclusive flock on `path` (a file or directory) for the block; yields
    whether it was acquired. Never creates `path`. On Windows (no flock; a directory cannot
    be opened) nothing is ever free: leftovers stay rather than risk a running operation's."""
    if sys.platform == "win32":
        yield False
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield False
        return
    try:
        yield _lock(fd, blocking=False)
    finally:
        os.close(fd)  # also releases the lock


def is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def remove_stale_temps(directory: Path) -> int:
    """Remove the temp files of `write_atomically` that no running writer holds; returns how
    many (they may hold key slots: none may stay behind)."""
    removed = 0
    for entry in _entries(directory):
        if is_temp(entry.name) and entry.is_file():
            with locked(entry) as free:
                if free and unlink(entry):
                    removed += 1
    return removed


@contextlib.contextmanager
def scratch_dir(parent: Path, kind: str) -> Iterator[Path]:
    """A private hidden directory ``.<kind>-<random>`` under `parent`, locked while the block
    runs and removed afterwards (or, after a crash, by `remove_stale_scratch`)."""
    _guard()
    path = parent / f".{kind}-{secrets.token_hex(6)}"
    path.mkdir(mode=0o700)
    _record(parent, lambda: shutil.rmtree(path))
    checkpoint(f"mkdir {_name(path)}")
    fd = os.open(path, os.O_RDONLY) if sys.platform != "win32" else -1
    try:
        if fd >= 0:
            _lock(fd, blocking=True)
        try:
            yield path
        finally:
            rmtree(path)
    finally:
        if fd >= 0:
            os.close(fd)


def scratch_dirs(parent: Path, kind: str) -> list[Path]:
    return [p for p in _entries(parent) if p.name.startswith(f".{kind}-") and p.is_dir()]


def remove_stale_scratch(
    parent: Path, kind: str, before_removal: Callable[[Path], None] | None = None
) -> int:
    """Remove the scratch directories of `kind` whose owner is gone (lock free); returns how
    many. `before_removal(path)` may clean up what the directory refers to first."""
    removed = 0
    for path in scratch_dirs(parent, kind):
        with locked(path) as free:
            if free:
                if before_removal is not None:
                    before_removal(path)
                rmtree(path)
                removed += 1
    return removed


def _entries(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
