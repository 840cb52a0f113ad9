"""The chart's "Referrals" tab (issue 16, part 3), driven like a person: the clinician opens
the tab, clicks "Refer patient…", types the facility and reason, picks the urgency with the
arrow keys, unticks one summary item with the space bar, writes a note and saves with
Ctrl+Enter; a form without a facility is refused naming the field; the referral is cancelled
from the tab. A screenshot of the tab at 1366×768 is saved for a person to look at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QTableWidget
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.referral_forms import ReferPatientDialog
from tests.ui.conftest import open_demo_chart
from tests.ui.helpers import TIMEOUT, cell
from tests.ui.keyboard_driving import (
    CTRL,
    App,
    Key,
    chart_form,
    chosen,
    errors,
    focused,
    name_of,
    press,
    save,
    shown,
    spying_app,
    tab,
    typed,
)

SHOTS = Path(os.environ.get("FIELDCHART_SHOTS", "/tmp/fieldchart-shots"))


@pytest.fixture
def app(
    qtbot: QtBot, controller: AppController, seeded: Backend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    """The demo clinic open as the clinician at 1366×768 on the full chart (one referral
    already made); commands are captured on their way to the services."""
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    window.resize(1366, 768)
    yield spying_app(window, patient_id, monkeypatch)


def open_referrals_tab(qtbot: QtBot, app: App) -> None:
    chart = app.window.chart
    tabs = chart.tabs
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == "Referrals")
    bar = tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert tabs.currentWidget() is chart.referrals


def click_for_form(qtbot: QtBot, app: App, button_name: str) -> CommandFormDialog:
    actions = app.window.chart.chart_actions
    actions.last_form = None
    button = getattr(app.window.chart.referrals, button_name)
    qtbot.waitUntil(button.isEnabled, timeout=TIMEOUT)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return shown(qtbot, lambda: actions.last_form)


def click_row(qtbot: QtBot, table: QTableWidget, row: int) -> None:
    item = table.item(row, 0)
    assert item is not None
    pos = table.visualItemRect(item).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert table.currentRow() == row


def rows_after(qtbot: QtBot, app: App, count: int) -> None:
    table = app.window.chart.referrals.table
    qtbot.waitUntil(lambda: table.rowCount() == count, timeout=TIMEOUT)


def test_a_clinician_refers_by_keyboard_and_cancels_from_the_tab(qtbot: QtBot, app: App) -> None:
    open_referrals_tab(qtbot, app)
    tab_widget = app.window.chart.referrals
    assert tab_widget.table.rowCount() == 1
    assert cell(tab_widget.table, 0, 0) == "Kisumu County Referral Hospital, eye clinic"
    assert cell(tab_widget.table, 0, 3) == "Open"
    assert "Clinical summary as sent:" in tab_widget.detail.toPlainText()
    assert "Allergy: Penicillins" in tab_widget.detail.toPlainText()

    form = click_for_form(qtbot, app, "refer_button")
    assert isinstance(form, ReferPatientDialog)
    assert name_of(focused()) == "Receiving facility"  # never on Save
    typed("Jaramogi Oginga Odinga Teaching and Referral Hospital")
    tab()
    typed("BP 182/112 on two drugs; specialist review")
    tab()
    assert isinstance(focused(), QComboBox) and name_of(focused()) == "Urgency"
    press(Key.Key_Down)  # Routine -> Urgent
    tab()
    first = focused()
    assert isinstance(first, QCheckBox) and first.isChecked()
    assert name_of(first).startswith("Active problems: I10")
    press(Key.Key_Space)  # leave the hypertension problem out of the summary
    assert not first.isChecked()
    boxes = form.summary.boxes
    tab(len(boxes))
    assert name_of(focused()) == "Note"
    typed("Reply letter please")
    ticked = [item_id for item_id, box in boxes.items() if box.isChecked()]
    SHOTS.mkdir(parents=True, exist_ok=True)
    form.grab().save(str(SHOTS / "referral-form.png"))
    save(qtbot, form)
    command = app.sent.last(c.ReferPatient)
    assert (command.to_facility, command.urgency) == (
        "Jaramogi Oginga Odinga Teaching and Referral Hospital",
        "urgent",
    )
    assert command.reason == "BP 182/112 on two drugs; specialist review"
    assert command.note == "Reply letter please"
    assert list(command.summary_item_ids) == ticked and len(ticked) == len(boxes) - 1

    rows_after(qtbot, app, 2)
    assert cell(tab_widget.table, 0, 1) == "Urgent"  # newest first
    click_row(qtbot, tab_widget.table, 0)
    summary = tab_widget.detail.toPlainText()
    assert "Problem: Essential (primary) hypertension" not in summary
    assert "Problem: Type 2 diabetes" in summary and "Reply letter please" in summary

    # Bad input: no facility. Refused next to the field; nothing recorded.
    form = click_for_form(qtbot, app, "refer_button")
    tab()
    typed("Chest pain")
    before = len(app.sent.commands)
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(errors(form)), timeout=TIMEOUT)
    assert errors(form) == {"to_facility": "Receiving facility is required."}
    assert name_of(focused()) == "Receiving facility"
    assert len(app.sent.commands) == before + 1 and form.last_changes is None
    form.reject()
    assert tab_widget.table.rowCount() == 2

    # Cancel the new referral (selected, the first row) from the tab.
    newest = tab_widget.selected_id()
    assert newest is not None and newest == tab_widget._shown[0].item_id
    form = click_for_form(qtbot, app, "cancel_button")
    assert name_of(focused()) == "Referral"
    tab()
    typed("Specialist visits the clinic on Friday")
    save(qtbot, form)
    cancel = app.sent.last(c.CancelReferral)
    assert (cancel.referral_id, cancel.expected_status) == (newest, "active")
    qtbot.waitUntil(
        lambda: cell(tab_widget.table, 0, 3).startswith("Cancelled since"), timeout=TIMEOUT
    )
    assert "Why: Specialist visits the clinic on Friday" in tab_widget.detail.toPlainText()

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "chart-referrals-1366x768.png"
    app.window.grab().save(str(shot))
    assert shot.stat().st_size > 10_000

    # The older referral was made by mistake: entered in error, it leaves the tab.
    mistaken = tab_widget._shown[1].item_id
    form = chart_form(qtbot, app, "entered_in_error", mistaken)
    assert chosen(form, "item_id") == mistaken
    tab()
    typed("Wrong patient")
    save(qtbot, form)
    assert app.sent.last(c.MarkEnteredInError).item_id == mistaken
    rows_after(qtbot, app, 1)
