"""A clinician records immunizations with the keyboard, as a person would: the form opens in
its Vaccine field, typing filters the bundled list, the dose number fills in with the next
dose and site and route with the vaccine's usual ones; an expired lot is refused next to its
field with nothing recorded; the Immunizations tab lists the doses given and flags the overdue
ones. Staff find "from a card" ticked and fixed. A screenshot of the tab at 1366x768 is saved
(FIELDCHART_SCREENSHOT_DIR, else tmp)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from PySide6.QtWidgets import QApplication, QCheckBox
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.services.dto import ChartView
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.chart.immunizations import DUE_COLUMNS, GIVEN_COLUMNS, ImmunizationsWidget
from app.ui.chart.view import TABS
from app.ui.main_window import MainView
from tests.clock import SettableClock
from tests.ui.conftest import CLINICIAN, CLINICIAN_PASS, STAFF, STAFF_PASS, open_as
from tests.ui.helpers import TIMEOUT, cell
from tests.ui.keyboard_driving import (
    CTRL,
    App,
    Key,
    Sent,
    chart_form,
    errors,
    focused,
    name_of,
    press,
    save,
    schedule_page,
    tab,
    typed,
)


def child_with_history(backend: Backend, clock: SettableClock) -> str:
    """A girl of 16 weeks: BCG and birth-dose bOPV from her card, pentavalent 1 at 6 weeks;
    the 10-week doses are overdue."""
    born = clock().date() - timedelta(weeks=16)
    clinic = backend.unlock(CLINICIAN, CLINICIAN_PASS)
    try:
        run = clinic.commands.execute
        pid = run(
            c.RegisterPatient(
                given="Neema", family="Mushi", birth_date=born.isoformat(), sex="female"
            ),
            clinic.actor,
        ).patient_id
        for vaccine in ("bcg", "bopv"):
            run(
                c.RecordImmunization(
                    patient_id=pid, vaccine=vaccine, dose_number=1, given_on=born.isoformat(),
                    historical=True, source="Road-to-health card",
                ),
                clinic.actor,
            )  # fmt: skip
        six_weeks = (born + timedelta(weeks=6)).isoformat()
        run(
            c.RecordImmunization(
                patient_id=pid, vaccine="penta", dose_number=1, given_on=six_weeks
            ),
            clinic.actor,
        )
    finally:
        clinic.close()
    return pid


def opened(qtbot: QtBot, controller: AppController, user: str, passphrase: str, pid: str) -> App:
    window: MainView = open_as(controller, qtbot, user, passphrase)
    window.open_patient(pid)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    return App(window, pid, Sent())


def chart_of(app: App) -> ChartView:
    chart = app.window.chart.current
    assert chart is not None
    return chart


def given_count(app: App) -> int:
    chart = app.window.chart.current
    return -1 if chart is None else len(chart.immunizations)


def test_a_clinician_records_a_dose_by_keyboard_and_sees_the_overdue_ones(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    clock: SettableClock,
    tmp_path: Path,
) -> None:
    pid = child_with_history(seeded, clock)
    app = opened(qtbot, controller, CLINICIAN, CLINICIAN_PASS, pid)
    assert given_count(app) == 3

    form = chart_form(qtbot, app, "immunization")
    assert name_of(focused()) == "Vaccine"  # never on Save
    typed("pentav")  # the list narrows to what contains it; ↓ and Enter take the match
    press(Key.Key_Down)
    press(Key.Key_Return)
    assert form.rows["vaccine"].widget.text() == "Pentavalent (DTwP-HepB-Hib)"  # type: ignore[attr-defined]
    tab()
    assert name_of(focused()) == "Dose number"
    assert focused().text() == "2"  # type: ignore[attr-defined]  # the next pentavalent dose
    assert form.rows["site"].widget.currentData() == "left-thigh"  # type: ignore[attr-defined]
    assert form.rows["route"].widget.currentData() == "intramuscular"  # type: ignore[attr-defined]
    tab()  # Date given: empty is now
    tab()
    assert name_of(focused()) == "Lot number"
    typed("PX-2231")
    tab()
    typed((clock().date() - timedelta(days=1)).isoformat())  # expired yesterday
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(errors(form)), timeout=TIMEOUT)
    assert "expired" in errors(form)["lot_expiry"]
    assert focused() is form.rows["lot_expiry"].widget  # corrected right there
    assert given_count(app) == 3  # nothing recorded
    focused().clear()  # type: ignore[attr-defined]
    typed((clock().date() + timedelta(days=200)).isoformat())
    save(qtbot, form)
    qtbot.waitUntil(lambda: given_count(app) == 4, timeout=TIMEOUT)
    [newest] = [i for i in chart_of(app).immunizations if i.data["lot"] == "PX-2231"]
    assert (newest.data["vaccine_id"], newest.data["dose_number"]) == ("penta", 2)
    assert newest.data["historical"] is False and newest.data["site"] == "left-thigh"

    app.window.chart.show_tab(TABS.index("Immunizations"))
    tab_widget: ImmunizationsWidget = app.window.chart.immunizations
    given, due = tab_widget.given, tab_widget.due
    qtbot.waitUntil(lambda: given.rowCount() == 4, timeout=TIMEOUT)
    rows = [[cell(given, r, col) for col in range(len(GIVEN_COLUMNS))] for r in range(4)]
    assert rows[0][1] == "Pentavalent (DTwP-HepB-Hib)" and rows[0][2] == "2"  # newest first
    assert any(r[1] == "BCG" and r[5] == "Card: Road-to-health card" for r in rows)
    due_rows = [
        [cell(due, r, col) for col in range(len(DUE_COLUMNS))] for r in range(due.rowCount())
    ]
    statuses = {(r[0], r[1]): r[3] for r in due_rows}
    assert statuses[("bOPV", "1")].startswith("OVERDUE since")
    assert statuses[("Pneumococcal conjugate (PCV, 3p+0)", "1")].startswith("OVERDUE")
    assert ("Pentavalent / DTP-containing", "2") not in statuses  # just given
    first = due.item(0, 3)
    assert first is not None and first.font().bold()  # overdue ones lead, in bold red

    window = app.window
    window.resize(1366, 768)
    window.show()
    qtbot.wait(200)
    QApplication.processEvents()
    out = Path(os.environ.get("FIELDCHART_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    assert window.grab().toImage().save(str(out / "immunizations-tab-1366x768.png"))


def test_staff_copy_a_card_and_cannot_untick_it(
    qtbot: QtBot, controller: AppController, seeded: Backend, clock: SettableClock
) -> None:
    pid = child_with_history(seeded, clock)
    app = opened(qtbot, controller, STAFF, STAFF_PASS, pid)
    form = chart_form(qtbot, app, "immunization")
    card = form.rows["historical"].widget
    assert isinstance(card, QCheckBox) and card.isChecked() and not card.isEnabled()
    typed("Rotavirus (mono")
    press(Key.Key_Down)
    press(Key.Key_Return)
    tab()
    assert focused().text() == "1"  # type: ignore[attr-defined]
    tab()
    typed((clock().date() - timedelta(weeks=10)).isoformat())
    save(qtbot, form)
    qtbot.waitUntil(lambda: given_count(app) == 4, timeout=TIMEOUT)
    [rota] = [i for i in chart_of(app).immunizations if i.data["vaccine_id"] == "rota"]
    assert rota.data["historical"] is True and rota.data["dose_number"] == 1


def test_the_schedule_lists_children_with_doses_due_and_opens_their_chart(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    clock: SettableClock,
    tmp_path: Path,
) -> None:
    pid = child_with_history(seeded, clock)
    app = opened(qtbot, controller, STAFF, STAFF_PASS, pid)
    schedule = schedule_page(qtbot, app)
    vaccines = schedule.vaccines
    qtbot.waitUntil(lambda: vaccines.loads_done > 0, timeout=TIMEOUT)
    side = schedule.side
    index = side.indexOf(vaccines)
    assert side.tabText(index) == f"Vaccines ({len(vaccines.rows)})" and vaccines.rows
    assert {r.patient_id for r in vaccines.rows} == {pid}
    assert vaccines.rows[0].status == "overdue"
    assert cell(vaccines.table, 0, 0).endswith("overdue") and cell(vaccines.table, 0, 1) == (
        "Mushi, Neema"
    )
    side.setCurrentIndex(index)
    app.window.resize(1366, 768)
    app.window.show()
    qtbot.wait(200)
    QApplication.processEvents()
    out = Path(os.environ.get("FIELDCHART_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    assert app.window.grab().toImage().save(str(out / "schedule-vaccines-1366x768.png"))
    # By keyboard: the list, then Enter on a row opens the chart.
    vaccines.table.setFocus()
    vaccines.table.selectRow(0)
    opened_ids: list[str] = []
    schedule.open_patient.connect(opened_ids.append)
    press(Key.Key_Return)
    qtbot.waitUntil(lambda: opened_ids == [pid], timeout=TIMEOUT)


def test_a_dose_recorded_on_the_wrong_child_is_marked_entered_in_error(
    qtbot: QtBot, controller: AppController, seeded: Backend, clock: SettableClock
) -> None:
    pid = child_with_history(seeded, clock)
    app = opened(qtbot, controller, CLINICIAN, CLINICIAN_PASS, pid)
    [penta] = [i for i in chart_of(app).immunizations if i.data["vaccine_id"] == "penta"]
    form = chart_form(qtbot, app, "entered_in_error", penta.item_id)
    assert "Pentavalent" in form.rows["item_id"].widget.currentText()  # type: ignore[attr-defined]
    tab()
    typed("Recorded on her brother's chart")
    save(qtbot, form)
    qtbot.waitUntil(lambda: given_count(app) == 2, timeout=TIMEOUT)
    due = {(d.series_id, d.dose) for d in chart_of(app).immunizations_due}
    assert ("dtp", 1) in due  # due again
