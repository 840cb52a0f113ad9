"""A clinician records point-of-care tests with the keyboard, as a person would: the form opens
in its Test field, typing filters the bundled list, the result input follows the test's type,
an impossible value is refused next to its field with nothing recorded, and the Results tab
lists each result with its flag and plots the numeric ones. A screenshot of the Results tab at
1366x768 is saved (FIELDCHART_SCREENSHOT_DIR, else tmp)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.chart.results import COLUMNS, ResultsWidget
from app.ui.chart.view import TABS
from tests.clock import SettableClock
from tests.ui.conftest import open_demo_chart
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
    shown,
    tab,
    typed,
)
from tests.ui.layout_checks import clipped_labels, out_of_reach, overlapping, settle


def results_count(app: App) -> int:
    chart = app.window.chart.current
    return -1 if chart is None else len(chart.test_results)


def test_a_clinician_records_test_results_by_keyboard_and_sees_them_flagged(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    clock: SettableClock,
    tmp_path: Path,
) -> None:
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    app = App(window, patient_id, Sent())
    # Two earlier haemoglobins, so the plot has a course to show.
    session = window.session
    for days, value in ((60, 11.6), (30, 10.2)):
        taken = (clock() - timedelta(days=days)).isoformat()
        session.clinic.commands.execute(
            c.RecordTestResult(
                patient_id=patient_id, test="haemoglobin", value=value, taken_at=taken
            ),
            session.actor,
        )
    window.chart.reload()
    qtbot.waitUntil(lambda: results_count(app) == 2, timeout=TIMEOUT)

    form = chart_form(qtbot, app, "test_result")
    assert name_of(focused()) == "Test"  # never on Save
    typed("haem")  # the list narrows to what contains it; ↓ and Enter take the match
    press(Key.Key_Down)
    press(Key.Key_Return)
    assert form.rows["test"].widget.text() == "Haemoglobin"  # type: ignore[attr-defined]
    tab()
    assert name_of(focused()) == "Value" and isinstance(focused(), QLineEdit)
    typed("7.9")
    out = Path(os.environ.get("FIELDCHART_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    qtbot.wait(150)  # let the rows shown for a numeric test settle before the picture
    assert form.grab().toImage().save(str(out / "record-test-result-form.png"))
    save(qtbot, form)
    qtbot.waitUntil(lambda: results_count(app) == 3, timeout=TIMEOUT)

    form = chart_form(qtbot, app, "test_result")
    typed("malaria")
    press(Key.Key_Down)
    press(Key.Key_Return)
    tab()
    assert name_of(focused()) == "Result" and isinstance(focused(), QComboBox)
    typed("p")  # a combo picks the entry that starts so: Positive
    save(qtbot, form)
    qtbot.waitUntil(lambda: results_count(app) == 4, timeout=TIMEOUT)

    form = chart_form(qtbot, app, "test_result")
    typed("Haemoglobin")
    tab()
    typed("40")
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(errors(form)), timeout=TIMEOUT)
    assert "plausible range" in errors(form)["value"]
    assert focused() is form.rows["value"].widget  # the clinician corrects it right there
    form.reject()
    QApplication.processEvents()
    assert results_count(app) == 4  # nothing recorded

    window.chart.show_tab(TABS.index("Results"))
    results: ResultsWidget = window.chart.results
    table = results.table
    qtbot.waitUntil(lambda: table.rowCount() == 4, timeout=TIMEOUT)
    rows = [[cell(table, r, col) for col in range(len(COLUMNS))] for r in range(4)]
    by_result = {row[2]: row for row in rows}
    assert by_result["Positive"][1] == "Malaria RDT (P. falciparum)"
    assert by_result["Positive"][3] == "Positive" and by_result["Positive"][4] == "Capillary blood"
    assert by_result["7.9 g/dL"][3] == "▼ Low"
    assert rows[0][2] in ("Positive", "7.9 g/dL")  # newest first
    assert list(results.views) == ["haemoglobin"]  # one plot per numeric test

    window.resize(1366, 768)
    window.show()
    qtbot.wait(200)
    QApplication.processEvents()
    assert window.grab().toImage().save(str(out / "results-tab-1366x768.png"))

    # The RDT was someone else's: select it, mark it entered in error from the tab.
    table.selectRow(next(r for r in range(4) if cell(table, r, 2) == "Positive"))
    actions = window.chart.chart_actions
    actions.last_form = None
    retract = next(b for b in results.findChildren(QPushButton) if "entered in error" in b.text())
    QTest.mouseClick(retract, Qt.MouseButton.LeftButton)
    form = shown(qtbot, lambda: actions.last_form)
    assert "Malaria RDT" in form.rows["item_id"].widget.currentText()  # type: ignore[attr-defined]
    tab()
    typed("Result of another patient")
    save(qtbot, form)
    qtbot.waitUntil(lambda: results_count(app) == 3, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: table.rowCount() == 3, timeout=TIMEOUT)


@pytest.mark.parametrize("size", [(1280, 720), (1024, 768), (910, 512)], ids=str)
def test_the_results_tab_fits_every_screen_size(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    clock: SettableClock,
    size: tuple[int, int],
) -> None:
    """Nothing of the Results tab is out of reach, clipped or overlapping, down to 1366x768
    at 150 % (910x512)."""
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    session = window.session
    for days, test, value, word in (
        (20, "haemoglobin", 10.2, None),
        (10, "glucose_capillary", 12.4, None),
        (3, "urine_protein", None, "2+"),
        (1, "haemoglobin", 9.0, None),
    ):
        taken = (clock() - timedelta(days=days)).isoformat()
        session.clinic.commands.execute(
            c.RecordTestResult(
                patient_id=patient_id, test=test, value=value, result=word, taken_at=taken
            ),
            session.actor,
        )
    window.chart.reload()
    app = App(window, patient_id, Sent())
    qtbot.waitUntil(lambda: results_count(app) == 4, timeout=TIMEOUT)
    window.resize(*size)
    window.show()
    window.chart.show_tab(TABS.index("Results"))
    results = window.chart.results
    qtbot.waitUntil(lambda: results.table.rowCount() == 4, timeout=TIMEOUT)
    assert set(results.views) == {"haemoglobin", "glucose_capillary"}
    settle()
    problems = out_of_reach(results) + clipped_labels(results) + overlapping(results)
    assert not problems, "\n".join(problems)
    chosen = os.environ.get("FIELDCHART_SCREENSHOT_DIR")
    if chosen:  # for a person to look at
        Path(chosen).mkdir(parents=True, exist_ok=True)
        window.grab().toImage().save(str(Path(chosen) / f"results-tab-{size[0]}x{size[1]}.png"))


def test_a_urine_strip_is_read_in_one_form_by_keyboard(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    app = App(window, patient_id, Sent())
    form = chart_form(qtbot, app, "dipstick")
    assert name_of(focused()) == "Protein"
    typed("2")  # the grade that starts so: 2+
    tab(3)  # glucose and leukocytes not read
    typed("p")  # nitrite: Positive
    save(qtbot, form)
    qtbot.waitUntil(lambda: results_count(app) == 2, timeout=TIMEOUT)
    chart = window.chart.current
    assert chart is not None
    read = {i.data["test"]: (i.data["result"], i.data["abnormal"]) for i in chart.test_results}
    assert read == {"urine_protein": ("2+", True), "urine_nitrite": ("positive", True)}
