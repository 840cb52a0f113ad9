"""Work runs off the GUI thread and reports back on it; sync callbacks from worker threads
reach the sync panel as signals; errors are plain sentences, never tracebacks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.domain.errors import ValidationError
from app.domain.roles import Role
from app.main import build_backend
from app.services.sync_status import (
    AttentionItem,
    Resolution,
    SyncProgress,
    SyncState,
    SyncStatus,
)
from app.store.crypto import FAST_FOR_TESTS
from app.ui.app_controller import AppController
from app.ui.errors import COULD_NOT_COMPLETE
from app.ui.operation import OperationRunner
from app.ui.sync_panel import EditValueDialog
from tests.ui.conftest import (
    CLINICIAN,
    CLINICIAN_PASS,
    ControllerFactory,
    Shown,
    create_confirmed,
    open_as,
    register_patient,
)
from tests.ui.helpers import TIMEOUT, cell


def test_work_runs_off_the_gui_thread_and_reports_on_it(qtbot: QtBot, qapp: QApplication) -> None:
    shown = Shown()
    ops = OperationRunner(present_error=shown)
    threads: dict[str, object] = {}

    def work() -> int:
        threads["work"] = QThread.currentThread()
        return 42

    def done(value: int) -> None:
        threads["done"] = QThread.currentThread()
        threads["value"] = value

    busy: list[int] = []
    ops.busy_changed.connect(lambda n, _label: busy.append(n))
    ops.run(work, success=done)
    qtbot.waitUntil(lambda: "value" in threads, timeout=TIMEOUT)
    assert threads["value"] == 42
    assert threads["done"] is qapp.thread()
    assert threads["work"] is not qapp.thread()
    assert busy == [1, 0]
    assert shown.messages == []


def test_errors_are_shown_as_plain_sentences(qtbot: QtBot) -> None:
    shown = Shown()
    ops = OperationRunner(present_error=shown)

    def refused() -> None:
        raise ValidationError("Dose is required", "dose")

    def broken() -> None:
        raise RuntimeError("Traceback: row for Achieng Odhiambo")  # must never be shown

    ops.run(refused)
    ops.run(broken)
    qtbot.waitUntil(lambda: len(shown.messages) == 2, timeout=TIMEOUT)
    assert sorted(shown.messages) == sorted(["Dose is required.", COULD_NOT_COMPLETE])
    assert not any("Achieng" in m or "Traceback" in m for m in shown.messages)


def test_a_result_for_a_deleted_widget_is_dropped(qtbot: QtBot) -> None:
    ops = OperationRunner(present_error=Shown())
    owner = QWidget()
    delivered: list[object] = []
    gate = threading.Event()
    ops.run(lambda: gate.wait(5) and "done", success=delivered.append, owner=owner)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not _alive(owner), timeout=TIMEOUT)
    gate.set()
    qtbot.waitUntil(lambda: ops.idle, timeout=TIMEOUT)
    assert delivered == []


def _alive(widget: QWidget) -> bool:
    return bool(shiboken6.isValid(widget))


class FakeSync:
    """A SyncControl whose worker calls back from its own thread."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[SyncStatus], None]] = []
        self.resolved: list[tuple[str, Resolution, str | None]] = []
        self.sync_requests: list[object] = []
        self.current = SyncStatus(SyncState.IDLE, server_url="https://fhir.example.org/fhir")

    def status(self) -> SyncStatus:
        return self.current

    def sync_now(self) -> None:
        self.sync_requests.append(threading.current_thread())

    def subscribe(self, callback: Callable[[SyncStatus], None]) -> None:
        self.callbacks.append(callback)
        callback(self.current)

    def resolve(self, command_id: str, resolution: Resolution, edited: str | None = None) -> None:
        self.resolved.append((command_id, resolution, edited))

    def reconfigure(self) -> None:
        return None

    def stop(self) -> None:
        self.callbacks.clear()

    def report_from_worker(self, status: SyncStatus) -> None:
        self.current = status
        worker = threading.Thread(target=lambda: [cb(status) for cb in self.callbacks])
        worker.start()
        worker.join()


def test_the_sync_panel_follows_the_worker_and_resolves_conflicts(
    qtbot: QtBot, tmp_path: Path, shown: Shown, make_controller: ControllerFactory
) -> None:
    fake = FakeSync()
    backend = build_backend(tmp_path / "vault", kdf=FAST_FOR_TESTS, sync_for=lambda _c: fake)
    created = create_confirmed(backend, "admin", "admin passphrase")
    backend.users(created.clinic).add_user(CLINICIAN, Role.CLINICIAN, CLINICIAN_PASS)
    created.clinic.close()
    controller = make_controller(backend)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window.show_page(2)
    panel = window.sync_panel
    assert panel.state.text() == "Up to date"
    fake.report_from_worker(
        SyncStatus(
            SyncState.SYNCING,
            server_url="https://fhir.example.org/fhir",
            progress=SyncProgress("push", 3, 10),
            pending=7,
        )
    )
    qtbot.waitUntil(lambda: panel.state.text() == "Syncing…", timeout=TIMEOUT)
    assert panel.progress.value() == 3 and panel.progress.maximum() == 10
    assert panel.progress.format() == "Sending changes: 3 of 10"
    assert panel.values["pending"].text() == "7"
    assert not panel.sync_button.isEnabled()
    assert window.sync_label.text().strip() == "Sync: Syncing…"

    item = AttentionItem(
        "cmd-1",
        "UpdateDemographics",
        "p-1",
        "phone",
        "+254 700 1",
        "+254 700 2",
        "Phone was changed on another device",
    )
    fake.report_from_worker(
        SyncStatus(
            SyncState.OFFLINE,
            next_attempt_at="2026-11-21T10:30:00+00:00",
            last_success_at="2026-11-21T09:00:00+00:00",
            needs_attention=1,
            attention=[item],
        )
    )
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=TIMEOUT)
    assert panel.state.text().startswith("Offline — retrying at 21 Nov 2026")
    cells = [cell(panel.table, 0, c) for c in range(5)]
    assert cells[2:4] == ["+254 700 1", "+254 700 2"]
    assert not panel.keep_button.isEnabled()
    panel.table.selectRow(0)
    panel.keep_button.click()
    qtbot.waitUntil(lambda: len(fake.resolved) == 1, timeout=TIMEOUT)
    assert fake.resolved[0] == ("cmd-1", Resolution.KEEP_MINE, None)
    panel.take_button.click()
    panel._edit()
    dialog = panel.findChild(EditValueDialog)
    assert dialog is not None
    dialog.value.setText("+254 700 3")
    dialog.accept()
    qtbot.waitUntil(lambda: len(fake.resolved) == 3, timeout=TIMEOUT)
    assert set(fake.resolved[1:]) == {  # each ran on its own pool thread
        ("cmd-1", Resolution.TAKE_SERVERS, None),
        ("cmd-1", Resolution.EDIT, "+254 700 3"),
    }
    panel.sync_now()
    qtbot.waitUntil(lambda: len(fake.sync_requests) == 1, timeout=TIMEOUT)
    assert fake.sync_requests[0] is not threading.main_thread()
    fake.report_from_worker(
        SyncStatus(
            SyncState.OFFLINE,
            next_attempt_at="2026-11-21T10:30:00+00:00",
            last_error="the server asked us to wait until 10:30",
            waiting_for="rate-limited",
        )
    )
    # The server was reached and asked us to wait: not "Offline", and not a network problem.
    qtbot.waitUntil(lambda: panel.state.text().startswith("Waiting"), timeout=TIMEOUT)
    assert "asked us to wait" in panel.state.text() and "21 Nov 2026" in panel.state.text()
    assert "asked this device to wait" in panel.explanation.text()
    assert "cannot be reached" not in panel.explanation.text()
    fake.report_from_worker(SyncStatus(SyncState.IDLE, needs_attention=2, attention=[item]))
    # Not "Up to date": two changes still wait for a decision, in the panel and the status bar.
    qtbot.waitUntil(lambda: "2 changes need a decision" in panel.state.text(), timeout=TIMEOUT)
    assert window.sync_label.text().strip() == "Sync: Synced; 2 changes need a decision"
    assert shown.messages == []


def test_unconfigured_sync_counts_what_waits_to_be_sent(
    qtbot: QtBot, controller: AppController, seeded: object
) -> None:
    register_patient(controller.backend)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window.show_page(2)
    panel = window.sync_panel
    assert panel.state.text() == "Not configured"
    assert not panel.sync_button.isEnabled()
    assert "Settings" in panel.sync_button.toolTip()
    qtbot.waitUntil(lambda: panel.values["pending"].text() == "1", timeout=TIMEOUT)
