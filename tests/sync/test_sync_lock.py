"""One sync cycle at a time per vault across processes (issue 15 item 12): the engine every
cycle comes from holds sync.lock, and the worker treats a cycle held elsewhere like a passing
network failure (the reason shown, the next try after its back-off)."""

from __future__ import annotations

import random
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.services import sync_lock
from app.services.sync_lock import LOCK_FILE, SyncBusyError, sync_cycle_lock
from app.services.sync_status import SyncState
from app.store.errors import StorageUnavailableError
from sync.engine import SyncEngine
from sync.exclusive_engine import ExclusiveSyncEngine
from sync.worker import SyncWorker
from tests.held_lock import held_by_another_thread

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def cycle_running_elsewhere(data_dir: Path) -> AbstractContextManager[None]:
    """The sync lock held by another thread for the block."""
    return held_by_another_thread(lambda: sync_cycle_lock(data_dir, wait_s=1))


class Cycles(ExclusiveSyncEngine):
    """The engine's cycle replaced by a counter: only the lock around it is under test."""

    def __init__(self, data_dir: Path) -> None:  # no gateway, client or mapper needed
        self._data_dir = data_dir
        self.ran = 0


def _count(self: Cycles, progress: Any = None) -> Any:
    self.ran += 1
    return "report"


def test_a_cycle_while_another_holds_the_vault_waits_then_refuses_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SyncEngine, "run_cycle", _count)
    monkeypatch.setattr(sync_lock, "WAIT_S", 0.1)
    engine = Cycles(tmp_path)
    with cycle_running_elsewhere(tmp_path), pytest.raises(SyncBusyError) as caught:
        engine.run_cycle()
    assert engine.ran == 0
    assert str(caught.value) == (
        "another sync of this vault is running (the app's background sync or another "
        "`fieldchart sync`); nothing was changed: try again when it has finished"
    )
    assert isinstance(caught.value, StorageUnavailableError)  # the CLI's exit code 3
    report: Any = engine.run_cycle()  # free again
    assert report == "report" and engine.ran == 1
    assert (tmp_path / LOCK_FILE).exists()


def test_the_worker_shows_a_cycle_held_elsewhere_and_tries_again_later() -> None:
    def run(progress: Any) -> Any:
        raise SyncBusyError(sync_lock.BUSY)

    worker = SyncWorker(
        run,
        server_url="https://fhir.example.org",
        interval_s=300,
        clock=lambda: T0,
        rng=random.Random(3),
        counts=lambda: {"pending": 4},
    )
    worker._tick(manual=True)
    status = worker.status()
    assert status.state is SyncState.OFFLINE
    assert status.last_error == sync_lock.BUSY
    assert status.next_attempt_at is not None
