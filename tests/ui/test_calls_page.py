"""The "Calls" page (issue 17, part 3), driven like a person: Ctrl+8 opens the follow-up call
worklist with the demo patient's overdue follow-up; "Record call…" opens with the focus on
the outcome; "No answer" without a next call date is refused naming the field and records
nothing; with the date typed it is recorded and the row shows the attempt; "Remove from
list…" with a reason takes the patient off. A screenshot at 1366×768 is saved to look at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.i18n.formatting import day
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.calls_view import CallsView
from app.ui.forms import reopen
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.call_forms import RemoveFromListDialog
from tests.ui.conftest import open_demo_chart
from tests.ui.helpers import TIMEOUT, cell
from tests.ui.keyboard_driving import (
    CTRL,
    App,
    Key,
    errors,
    focused,
    press,
    save,
    shown,
    spying_app,
    tab,
    typed,
)
from tests.ui.layout_checks import (
    clipped_labels,
    hidden_part,
    in_view,
    out_of_reach,
    overlapping,
    settle,
)

SHOTS = Path(os.environ.get("FIELDCHART_SHOTS", "/tmp/fieldchart-shots"))


@pytest.fixture
def app(
    qtbot: QtBot, controller: AppController, seeded: Backend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    """The demo clinic (one follow-up overdue by three hours) open as the clinician at
    1366×768; commands are captured on their way to the services."""
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    window.resize(1366, 768)
    yield spying_app(window, patient_id, monkeypatch)


def calls_page(qtbot: QtBot, app: App) -> CallsView:
    window = app.window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=TIMEOUT)
    window.chart.setFocus()
    qtbot.keyClick(QApplication.focusWidget() or window, Key.Key_8, CTRL)
    calls = window.calls
    assert window.stack.currentWidget() is calls
    qtbot.waitUntil(lambda: calls.loads_done > 0 and calls.table.rowCount() > 0, timeout=TIMEOUT)
    return calls


def click_for_form(qtbot: QtBot, calls: CallsView, button_name: str) -> CommandFormDialog:
    table = calls.table
    rect = table.visualRect(table.model().index(0, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    button = getattr(calls, button_name)
    qtbot.waitUntil(button.isEnabled, timeout=TIMEOUT)
    calls.last_form = None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return shown(qtbot, lambda: calls.last_form)


def test_a_call_is_recorded_and_the_patient_removed_by_keyboard(qtbot: QtBot, app: App) -> None:
    calls = calls_page(qtbot, app)
    assert calls.table.rowCount() == 1
    assert cell(calls.table, 0, 2).startswith("overdue ")
    assert (cell(calls.table, 0, 3), cell(calls.table, 0, 4)) == ("0", "today")
    form = click_for_form(qtbot, calls, "call_button")
    assert focused() is form.rows["outcome"].widget
    for _ in range(4):  # Choose…, Agreed to come, Remind later, Wrong number, No answer
        press(Key.Key_Down)
    tab()
    typed("Rang twice, no answer")
    tab()
    assert focused() is form.rows["next_call_on"].widget
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(errors(form)), timeout=TIMEOUT)
    assert errors(form) == {
        "next_call_on": "Next call date is required when the outcome is no-answer."
    }
    assert app.window.session.clinic.queries.calls_of(app.patient_id) == []  # nothing recorded
    next_call = (app.session.today() + timedelta(days=2)).isoformat()
    typed(next_call)
    save(qtbot, form)
    command = app.sent.last(c.RecordCallAttempt)
    assert (command.outcome, command.note, command.next_call_on) == (
        "no-answer",
        "Rang twice, no answer",
        next_call,
    )
    qtbot.waitUntil(lambda: cell(calls.table, 0, 3) == "1 (last: No answer)", timeout=TIMEOUT)
    assert cell(calls.table, 0, 4) == day(date.fromisoformat(next_call))
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert app.window.grab().toImage().save(str(SHOTS / "calls-page-1366x768.png"))

    form = click_for_form(qtbot, calls, "remove_button")
    assert focused() is form.rows["reason"].widget
    typed("Followed up at the district hospital")
    save(qtbot, form)
    assert app.sent.last(c.RemoveFromWorklist).reason == "Followed up at the district hospital"
    # A form left open at a lock is kept as a draft and reopens on the same worklist row.
    named = reopen.describe(form)
    assert named is not None and named[0] == "RemoveFromListDialog"
    again = reopen.build(app.session, *named, app.window)
    assert isinstance(again, RemoveFromListDialog) and isinstance(form, RemoveFromListDialog)
    assert again.row == form.row
    again.deleteLater()
    qtbot.waitUntil(lambda: calls.table.rowCount() == 0, timeout=TIMEOUT)
    assert calls.summary.text() == "0 to call, 0 due today"


def test_the_calls_page_fits_a_1366x768_screen_at_150_percent(qtbot: QtBot, app: App) -> None:
    app.window.resize(910, 512)  # 1366×768 at 150 %, as tests/ui/test_screen_sizes.py
    calls = calls_page(qtbot, app)
    settle()
    qtbot.wait(150)
    problems = out_of_reach(app.window) + clipped_labels(app.window) + overlapping(app.window)
    assert not problems, "\n".join(problems)
    for button in (calls.call_button, calls.remove_button, calls.open_button):
        assert in_view(button), hidden_part(button, scrolled=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert app.window.grab().toImage().save(str(SHOTS / "calls-page-910x512.png"))
