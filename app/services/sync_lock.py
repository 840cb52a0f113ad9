"""One sync cycle at a time per vault, across processes.

The desktop app's background worker runs one cycle at a time within its process; a
`fieldchart sync` run by IT or a script meanwhile used to run a second cycle beside it, and the
two pushed some commands twice (each read them as pending before the other marked them sent).
Every cycle now holds `sync.lock` in the vault directory (app/store/file_lock.py): a second
cycle waits up to WAIT_S for the first to end, then gives up with SyncBusyError, whose
message says so (the CLI exits with code 3; the worker tries again later).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from app.i18n import N_, _
from app.store.file_lock import BusyError, exclusive_lock

LOCK_FILE = "sync.lock"
WAIT_S = 10.0
BUSY = N_(
    "another sync of this vault is running (the app's background sync or another "
    "`fieldchart sync`); nothing was changed: try again when it has finished"
)


class SyncBusyError(BusyError):
    """Another process (or thread) is running a sync cycle of this vault."""


def sync_cycle_lock(
    data_dir: Path, *, wait_s: float | None = None
) -> contextlib.AbstractContextManager[None]:
    """Hold the vault's sync lock for one cycle; wait at most `wait_s` (default WAIT_S)."""
    return exclusive_lock(
        Path(data_dir) / LOCK_FILE,
        wait_s=WAIT_S if wait_s is None else wait_s,
        busy=lambda: SyncBusyError(_(BUSY)),
    )
