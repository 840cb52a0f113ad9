"""The Reports page, driven with the keyboard as a clinic manager (a staff user) would: Ctrl+7
opens it on last month; the month picker (Alt+M) goes to this month, whose table counts the
visit and the hypertensive patient recorded; arrow keys move through the indicators and the
plot follows; a file name typed in File (Alt+I) and Enter save the month as CSV, with the
unsynced-commands warning said on the page. Admins find the page greyed out, saying why. A
screenshot at 1366x768 is saved (FIELDCHART_SCREENSHOT_DIR, else tmp)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.main_window import PAGES
from app.ui.reports_view import ADMINS_NO_REPORTS, ReportsView
from tests.clock import SettableClock
from tests.ui.conftest import (
    ADMIN,
    ADMIN_PASS,
    CLINICIAN,
    CLINICIAN_PASS,
    STAFF,
    STAFF_PASS,
    open_as,
)
from tests.ui.helpers import TIMEOUT, cell
from tests.ui.keyboard_driving import CTRL, Key, focused, press, typed
from tests.ui.layout_checks import out_of_reach

ALT = Qt.KeyboardModifier.AltModifier


def hypertensive_visit(backend: Backend) -> None:
    clinic = backend.unlock(CLINICIAN, CLINICIAN_PASS)
    try:
        run, actor = clinic.commands.execute, clinic.actor
        pid = run(
            c.RegisterPatient(
                given="Rehema", family="Kimaro", birth_date="1970-01-01", sex="female"
            ),
            actor,
        ).patient_id
        enc = run(c.StartEncounter(patient_id=pid), actor).item_ids[0]
        run(c.RecordVitals(patient_id=pid, encounter_id=enc, systolic=150, diastolic=95), actor)
        run(c.RecordDiagnosis(patient_id=pid, encounter_id=enc, code="I10", text="HTN"), actor)
    finally:
        clinic.close()


def row_of(view: ReportsView, name: str) -> int:
    return next(r for r in range(view.table.rowCount()) if cell(view.table, r, 0) == name)


def test_a_manager_reads_and_exports_a_month_by_keyboard(
    seeded: Backend,
    controller: AppController,
    qtbot: QtBot,
    clock: SettableClock,
    tmp_path: Path,
) -> None:
    hypertensive_visit(seeded)
    window = open_as(controller, qtbot, STAFF, STAFF_PASS)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=TIMEOUT)
    press(Key.Key_7, CTRL)
    view = window.reports
    assert window.stack.currentWidget() is view
    last_month = clock().astimezone().date().replace(day=1)
    qtbot.waitUntil(lambda: view.table.rowCount() == 10, timeout=TIMEOUT)
    assert view.chosen_month < f"{last_month:%Y-%m}"  # last month first
    assert cell(view.table, row_of(view, "Visits"), 1) == "0"
    press(Key.Key_M, ALT)
    assert focused() is view.month
    press(Key.Key_Up)  # this month (so far)
    qtbot.waitUntil(lambda: cell(view.table, row_of(view, "Visits"), 1) == "1", timeout=TIMEOUT)
    assert view.chosen_month == f"{last_month:%Y-%m}"
    assert cell(view.table, row_of(view, "Hypertension under care"), 1) == "1"
    assert view.warning.isVisible() and "not yet synced" in view.warning.text()
    view.table.setFocus()
    press(Key.Key_Home)
    press(Key.Key_Down)
    press(Key.Key_Down)
    assert view.chart.title() == "Hypertension under care, last 12 months"
    assert view.chart_view.accessibleDescription().endswith(": 1")
    for _ in range(2):
        press(Key.Key_Down)
    assert view.chart.title() == "BP controlled (HEARTS) (%), last 12 months"

    out = tmp_path / "month.csv"
    press(Key.Key_I, ALT)
    assert focused() is view.path
    press(Key.Key_A, CTRL)
    typed(str(out))
    press(Key.Key_Return)
    qtbot.waitUntil(lambda: view.message.text().startswith("Saved"), timeout=TIMEOUT)
    assert "not yet synced" in view.message.text()
    text = out.read_text()
    assert text.startswith("# warning: ")
    assert f"{view.chosen_month},visits,Visits,1,," in text

    window.resize(window.minimumSize())  # 1366x768 at 150 % leaves about this much
    qtbot.wait(200)
    assert not out_of_reach(window), out_of_reach(window)
    window.resize(1366, 768)
    qtbot.wait(300)
    shots = Path(os.environ.get("FIELDCHART_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    assert window.grab().toImage().save(str(shots / "reports-1366x768.png"))


def test_admins_find_the_page_greyed_out(
    seeded: Backend, controller: AppController, qtbot: QtBot
) -> None:
    window = open_as(controller, qtbot, ADMIN, ADMIN_PASS)
    item = window.nav.item(PAGES.index("Reports"))
    assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
    assert item.toolTip() == ADMINS_NO_REPORTS
    assert not window.reports.isEnabled()
