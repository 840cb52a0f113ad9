"""One writer of the key slots at a time, across processes, and none during a key rotation.

Every change of the key-slot file (add, disable or enable a user, change or reset a
passphrase, create the vault, rotate its keys) holds `keyslots.lock` in the vault directory
from reading the slots until the new file is in place, and reads the slots again *under* the
lock: a process never writes back a copy of the slots that another process changed since it
loaded them. Without this, `passwd` racing `rotate-key` wrote the slots it had loaded (with the
old data key) over the ones the rotation installed, and no passphrase opened the vault again.

A rotation holds the lock from planning (reading the slots) until its new slots are installed,
so a `passwd` or `user add` during it waits, then works on the rotated slots (or gives up after
WAIT_S with a message saying why). See docs/security/key-slot-lock.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from app.i18n import N_, _
from app.store import rekey
from app.store.file_lock import BusyError, exclusive_lock
from app.store.keyslots import KeySlotFile

LOCK_FILE = "keyslots.lock"
# Long enough to outwait a passphrase change or a user added elsewhere (an Argon2id or two),
# short enough that a command waiting behind a long rotation says so instead of hanging.
WAIT_S = 20.0
BUSY = N_(
    "another FieldChart command is changing users or keys of this vault (or rotating its "
    "key); nothing was changed: try again when it has finished"
)


class KeySlotsBusyError(BusyError):
    """Another process holds the key-slot lock (a user or passphrase change, a rotation)."""


class SlotsChangedError(BusyError):
    """The key slots changed in another process between proving a passphrase and writing, in
    a way this change cannot be carried over (e.g. a rotation gave the vault a new key)."""


def slot_lock(
    data_dir: Path, *, wait_s: float | None = None
) -> contextlib.AbstractContextManager[None]:
    """Hold the vault's key-slot lock (see the module docstring); wait at most `wait_s`
    (default WAIT_S) for it."""
    return exclusive_lock(
        Path(data_dir) / LOCK_FILE,
        wait_s=WAIT_S if wait_s is None else wait_s,
        busy=lambda: KeySlotsBusyError(_(BUSY)),
    )


@contextlib.contextmanager
def slot_file_for_update(data_dir: Path, *, wait_s: float | None = None) -> Iterator[KeySlotFile]:
    """The key slots as they are on disk now, read under the key-slot lock, which is held until
    the block ends: change them and `save` them inside the block."""
    data_dir = Path(data_dir)
    with slot_lock(data_dir, wait_s=wait_s):
        # A rotation a crash cut short between its two renames left the current slots in
        # keyslots.next.json: finish it first, or this change would go to the old slots.
        rekey.finish_interrupted(data_dir)
        yield KeySlotFile.load(data_dir / rekey.SLOTS_FILE)


def finish_interrupted_rotation(data_dir: Path) -> None:
    """At open: finish a rotation a crash cut short, unless a process holds the key-slot lock
    (a running rotation, which must be left alone, or a slot change, which finishes it)."""
    data_dir = Path(data_dir)
    if not rekey.interrupted(data_dir):
        return  # the usual case: no lock file created, no lock taken
    with contextlib.suppress(KeySlotsBusyError), slot_lock(data_dir, wait_s=0):
        rekey.finish_interrupted(data_dir)
