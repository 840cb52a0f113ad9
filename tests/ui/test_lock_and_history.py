"""Auto-lock after idle time, and the chart "as of" a past moment."""

from __future__ import annotations

import gc
import time

import pytest
from PySide6.QtCore import QDateTime, QPoint
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.domain.commands import RecordAllergy
from app.projections import runner
from app.services.settings import DeviceSettings
from app.ui import app_controller
from app.ui.app_controller import LOCKED_NOTICE, AppController
from app.ui.backend import Backend
from app.ui.unlock_dialog import UnlockDialog
from tests.clock import SettableClock
from tests.ui.conftest import CLINICIAN, CLINICIAN_PASS, open_as, register_patient
from tests.ui.helpers import TIMEOUT


def test_idle_time_locks_and_activity_keeps_it_open(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    # 1.5 s: a loaded CI machine can stall the event loop for a good part of a second, which
    # must not count as idleness the moves below did not have.
    controller.auto_lock_override_ms = 1_500
    controller._apply_settings(DeviceSettings())
    # Moving the mouse for twice the idle time keeps resetting the idle clock ...
    for _ in range(13):
        QTest.mouseMove(window.patients.table.viewport(), QPoint(5, 5))
        qtbot.wait(120)
        QTest.mouseMove(window.patients.table.viewport(), QPoint(9, 9))
        qtbot.wait(120)
    assert controller.window is window
    # ... and doing nothing locks.
    qtbot.waitUntil(lambda: controller.window is None, timeout=10_000)
    dialog = controller.dialog
    assert isinstance(dialog, UnlockDialog)
    assert dialog.notice.text() == LOCKED_NOTICE
    assert dialog.user.text() == CLINICIAN  # remembered (a staff name, not patient data)
    assert controller.session is None


def test_a_result_arriving_after_the_lock_is_dropped(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    patient_id = register_patient(seeded)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    delivered: list[object] = []

    def slow() -> str:
        time.sleep(0.3)
        return "late"

    controller.ops.run(slow, success=delivered.append)
    window.chart.show_patient(patient_id)
    controller.lock()
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    assert delivered == []


def test_the_chart_as_it_was_before_an_allergy_was_recorded(
    qtbot: QtBot, controller: AppController, seeded: Backend, clock: SettableClock
) -> None:
    patient_id = register_patient(seeded)
    clock.advance(minutes=5)
    before = clock().astimezone()
    clock.advance(minutes=5)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    session, chart = window.session, window.chart
    done: list[object] = []
    session.execute(
        RecordAllergy(patient_id=patient_id, substance="Sulfa drugs"),
        owner=None,
        success=done.append,
    )
    qtbot.waitUntil(lambda: bool(done), timeout=TIMEOUT)
    window.patients.refresh(select=patient_id)
    qtbot.waitUntil(lambda: chart.current is not None, timeout=TIMEOUT)
    assert chart.current is not None and chart.current.allergy_banner == ["Sulfa drugs"]

    chart.as_of_box.setChecked(True)
    chart.as_of_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(before.timestamp())))
    qtbot.waitUntil(
        lambda: chart.current is not None and chart.current.as_of is not None, timeout=TIMEOUT
    )
    assert chart.current.allergy_banner == []
    assert chart.header.allergies.text() == "No allergies recorded"
    assert chart.header.as_of.isVisibleTo(chart)
    vitals = chart.chart_actions.actions["vitals"]
    assert not vitals.isEnabled()
    assert "as it was on" in vitals.toolTip()

    chart.as_of_box.setChecked(False)
    qtbot.waitUntil(
        lambda: chart.current is not None and chart.current.as_of is None, timeout=TIMEOUT
    )
    assert chart.current.allergy_banner == ["Sulfa drugs"]
    assert chart.chart_actions.actions["vitals"].isEnabled()
    assert chart.header.allergies.objectName() == "allergyBanner"


def test_the_heap_is_settled_once_the_window_is_up_and_released_at_lock(
    qtbot: QtBot, controller: AppController, seeded: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_controller, "SETTLE_HEAP_AFTER_MS", 50)
    gc.unfreeze()
    try:
        open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
        qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=TIMEOUT)
        controller.lock()
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_a_lock_before_the_heap_settles_leaves_it_alone(
    qtbot: QtBot, controller: AppController, seeded: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_controller, "SETTLE_HEAP_AFTER_MS", 200)
    gc.unfreeze()
    open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    controller.lock()
    qtbot.wait(400)
    assert gc.get_freeze_count() == 0


def test_a_rebuild_at_unlock_after_an_upgrade_shows_its_progress(
    qtbot: QtBot, controller: AppController, seeded: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient_id = register_patient(seeded)
    for family in ("Achieng", "Wanjiru", "Mwangi", "Kamau"):
        register_patient(seeded, family=family)
    # A new version of the read models: the next unlock rebuilds them from the log.
    monkeypatch.setattr(runner, "PROJECTIONS_VERSION", runner.PROJECTIONS_VERSION + 1)
    monkeypatch.setattr(runner, "REBUILD_FLUSH", 2)  # report often on a small vault
    controller.start()
    dialog = controller.dialog
    assert isinstance(dialog, UnlockDialog)
    seen: list[tuple[int, int]] = []
    notes: list[str] = []

    def heard(applied: int, total: int) -> None:
        seen.append((applied, total))
        notes.append(dialog.rebuild_note.text())

    dialog.rebuild_progressed.connect(heard)
    dialog.user.setText(CLINICIAN)
    dialog.passphrase.setText(CLINICIAN_PASS)
    dialog.unlock_button.click()
    qtbot.waitUntil(lambda: controller.window is not None, timeout=TIMEOUT)
    total = seen[0][1]
    assert total > 2 and seen[0] == (0, total)
    assert [a for a, _ in seen] == sorted(a for a, _ in seen) and len(seen) > 2
    assert all(t == total for _, t in seen) and all(a <= total for a, _ in seen)
    assert notes[-1].startswith("Updating this device's records for the new version")
    # The rebuilt read models serve the chart as before.
    controller.window.chart.show_patient(patient_id)  # type: ignore[union-attr]
    chart = controller.window.chart  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: chart.header.name.text() == "OTIENO, Juma", timeout=TIMEOUT)
