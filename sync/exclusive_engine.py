"""A sync engine whose every cycle holds the vault's cross-process sync lock
(app/services/sync_lock.py): the app's worker and `fieldchart sync` both get their engine from
`clinic_sync.engine_for`, so neither runs a cycle while the other does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.services.sync_lock import sync_cycle_lock
from app.services.sync_status import SyncProgress
from sync.engine import CycleReport, SyncEngine


class ExclusiveSyncEngine(SyncEngine):
    def __init__(self, *args: Any, data_dir: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._data_dir = data_dir

    def run_cycle(self, progress: Callable[[SyncProgress], None] = lambda _: None) -> CycleReport:
        """One cycle (SyncEngine.run_cycle) under the sync lock; SyncBusyError if another
        process's cycle holds it for longer than the lock's wait."""
        with sync_cycle_lock(self._data_dir):
            return super().run_cycle(progress)
