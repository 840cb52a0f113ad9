"""The sync panel shows a first sync's progress as a person reads it: "Downloading records:
1,200 of 8,000 — about 2 min left", with the bar at 1,200 of 8,000 (issue 14)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.domain.roles import Role
from app.main import build_backend
from app.services.sync_status import SyncProgress, SyncState, SyncStatus
from app.store.crypto import FAST_FOR_TESTS
from tests.ui.conftest import (
    CLINICIAN,
    CLINICIAN_PASS,
    ControllerFactory,
    create_confirmed,
    open_as,
)
from tests.ui.helpers import TIMEOUT
from tests.ui.test_operation_and_sync import FakeSync


def syncing(progress: SyncProgress) -> SyncStatus:
    return SyncStatus(
        SyncState.SYNCING, server_url="https://fhir.example.org/fhir", progress=progress
    )


def test_the_panel_shows_counts_and_time_left(
    qtbot: QtBot, tmp_path: Path, make_controller: ControllerFactory
) -> None:
    fake = FakeSync()
    backend = build_backend(tmp_path / "vault", kdf=FAST_FOR_TESTS, sync_for=lambda _c: fake)
    created = create_confirmed(backend, "admin", "admin passphrase")
    backend.users(created.clinic).add_user(CLINICIAN, Role.CLINICIAN, CLINICIAN_PASS)
    created.clinic.close()
    window = open_as(make_controller(backend), qtbot, CLINICIAN, CLINICIAN_PASS)
    window.show_page(2)
    panel = window.sync_panel
    assert not panel.progress_text.isVisible()

    fake.report_from_worker(syncing(SyncProgress("pull", 1200, 8000, seconds_left=130)))
    expected = "Downloading records: 1,200 of 8,000 — about 2 min left"
    qtbot.waitUntil(lambda: panel.progress_text.text() == expected, timeout=TIMEOUT)
    assert panel.progress_text.isVisible() and panel.progress.isVisible()
    assert (panel.progress.value(), panel.progress.maximum()) == (1200, 8000)
    assert panel.progress.format() == expected

    # A server that does not say how many: the count alone, the bar busy.
    fake.report_from_worker(syncing(SyncProgress("pull", 500, 0)))
    qtbot.waitUntil(
        lambda: panel.progress_text.text() == "Downloading records: 500", timeout=TIMEOUT
    )
    assert panel.progress.maximum() == 0

    fake.report_from_worker(SyncStatus(SyncState.IDLE, server_url="https://fhir.example.org"))
    qtbot.waitUntil(lambda: not panel.progress_text.isVisible(), timeout=TIMEOUT)
    assert not panel.progress.isVisible()


def test_time_left_reads_as_a_person_says_it() -> None:
    def left(seconds: float) -> str:
        return SyncProgress("pull", 1, 2, seconds_left=seconds).text()

    assert left(20) == "Downloading records: 1 of 2 — less than a minute left"
    assert left(130) == "Downloading records: 1 of 2 — about 2 min left"
    assert left(3 * 3600) == "Downloading records: 1 of 2 — about 3 h left"
    assert SyncProgress("push", 3, 10).text() == "Sending changes: 3 of 10"
