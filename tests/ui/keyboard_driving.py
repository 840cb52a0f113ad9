"""Driving a task form from the keyboard alone, as a person would: keys go to whatever has
focus (or to an open pop-up), Tab or Enter between fields, Ctrl+Enter to save. The forms are
opened the way the app opens them; the commands they send are captured (tests/ui/
test_form_keyboard.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from PySide6.QtCore import QDateTime, Qt, QTime
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.ui import formatting
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.keyboard import tab_stops
from app.ui.main_window import MainView
from app.ui.schedule_view import ScheduleView
from app.ui.session import ClinicSession
from tests.ui.helpers import TIMEOUT

C = TypeVar("C", bound=c.Command)

Key = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
KEYPAD = Qt.KeyboardModifier.KeypadModifier


@dataclass
class Sent:
    """The commands the forms handed to the session, in order."""

    commands: list[c.Command] = field(default_factory=list)

    def last(self, kind: type[C]) -> C:
        assert self.commands, "no command was sent"
        command = self.commands[-1]
        assert isinstance(command, kind), command
        return command


@dataclass
class App:
    window: MainView
    patient_id: str
    sent: Sent

    @property
    def session(self) -> ClinicSession:
        return self.window.session


def spying_app(window: MainView, patient_id: str, monkeypatch: pytest.MonkeyPatch) -> App:
    """The window as an App whose commands are captured on their way to the services (and
    still recorded)."""
    sent = Sent()
    execute = window.session.execute

    def spy(command: c.Command, *args: object, **kwargs: object) -> None:
        sent.commands.append(command)
        execute(command, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(window.session, "execute", spy)
    return App(window, patient_id, sent)


def shown(qtbot: QtBot, get: Callable[[], object]) -> CommandFormDialog:
    """Wait for the form the app opened, shown and active, as a person would see it."""
    found: list[CommandFormDialog] = []

    def ready() -> bool:
        form = get()
        if isinstance(form, CommandFormDialog) and form.isVisible():
            found.append(form)
            return True
        return False

    qtbot.waitUntil(ready, timeout=TIMEOUT)
    form = found[-1]
    qtbot.waitExposed(form)
    form.activateWindow()
    qtbot.waitUntil(form.isActiveWindow, timeout=TIMEOUT)
    return form


def chart_form(qtbot: QtBot, app: App, key: str, selected: str | None = None) -> CommandFormDialog:
    actions = app.window.chart.chart_actions
    actions.last_form = None
    actions.open(key, selected)
    return shown(qtbot, lambda: actions.last_form)


def new_patient_form(qtbot: QtBot, app: App) -> CommandFormDialog:
    app.window.last_form = None
    app.window.new_patient()
    return shown(qtbot, lambda: app.window.last_form)


# -- the keyboard --------------------------------------------------------------------------


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has keyboard focus"
    return widget


def keys_go_to() -> QWidget:
    """Where a key goes: an open pop-up (suggestions, a combo's list), else the focus."""
    return QApplication.activePopupWidget() or focused()


def typed(text: str) -> None:
    """Type `text` into whatever has focus, key by key."""
    for char in text:
        QTest.keyClicks(keys_go_to(), char)


def press(key: Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(keys_go_to(), key, modifier)


def tab(times: int = 1) -> None:
    for _ in range(times):
        press(Key.Key_Tab)


def fields(*values: str) -> None:
    """Type each value into the field that has focus, Tab between them."""
    for index, value in enumerate(values):
        if index:
            tab()
        if value:
            typed(value)


def save(qtbot: QtBot, form: CommandFormDialog, keypad: bool = False) -> None:
    """Ctrl+Enter, then wait until the form recorded its command and closed."""
    if keypad:
        press(Key.Key_Enter, CTRL | KEYPAD)
    else:
        press(Key.Key_Return, CTRL)
    qtbot.waitUntil(
        lambda: (
            form.last_changes is not None or not form.form_error.isHidden() or bool(errors(form))
        ),
        timeout=TIMEOUT,
    )
    assert form.last_changes is not None, errors(form) or form.form_error.text()


def saved(
    qtbot: QtBot, app: App, form: CommandFormDialog, kind: type[C], keypad: bool = False
) -> C:
    """Save the form by keyboard; the command it sent, checked to be of `kind`."""
    save(qtbot, form, keypad)
    return app.sent.last(kind)


def chosen(form: CommandFormDialog, name: str) -> object:
    """What the form's pick list `name` has chosen (its current item's data)."""
    return form.rows[name].widget.currentData()  # type: ignore[attr-defined]


def errors(form: CommandFormDialog) -> dict[str, str]:
    return {name: form.error_text(name) for name in form.rows if form.error_text(name)}


def chain_of(form: CommandFormDialog) -> list[QWidget]:
    """Where Tab should stop: the shown fields top to bottom, then Save, then Cancel."""
    stops = [
        stop
        for row in form.rows.values()
        for stop in tab_stops(row.widget)
        if stop.isVisibleTo(form) and stop.isEnabled()
    ]
    cancel = form.buttons.button(form.buttons.StandardButton.Cancel)
    return [*stops, form.save_button, cancel]


def walk_tabs(form: CommandFormDialog, count: int) -> list[QWidget]:
    seen = [focused()]
    for _ in range(count):
        tab()
        seen.append(focused())
    return seen


def name_of(widget: QWidget) -> str:
    return widget.accessibleName() or widget.objectName() or type(widget).__name__


def tomorrow_at(app: App, hour: int) -> str:
    day = formatting.qdate_of(app.session.today()).addDays(1)
    return formatting.to_iso(QDateTime(day, QTime(hour, 0)))


def to_hours() -> None:
    """In a date-and-time field that has focus (the day selected): Ctrl+→ to the hour."""
    for _ in range(3):
        press(Key.Key_Right, CTRL)


def schedule_page(qtbot: QtBot, app: App) -> ScheduleView:
    schedule = app.window.schedule
    app.window.show_page(1)
    qtbot.waitUntil(lambda: schedule.loads_done > 0, timeout=TIMEOUT)
    return schedule


def schedule_form(
    qtbot: QtBot, schedule: ScheduleView, open_it: Callable[[], object]
) -> CommandFormDialog:
    schedule.last_form = None
    open_it()
    return shown(qtbot, lambda: schedule.last_form)


def overdue_form(qtbot: QtBot, app: App, button: str) -> tuple[CommandFormDialog, str]:
    """The form behind a schedule button, for the overdue follow-up (booked 3 hours ago)."""
    schedule = schedule_page(qtbot, app)
    overdue = schedule.overdue_table
    qtbot.waitUntil(lambda: overdue.rowCount() == 1, timeout=TIMEOUT)
    overdue.selectRow(0)
    assert schedule.selected is not None
    appointment = schedule.selected.appointment_id
    return schedule_form(qtbot, schedule, getattr(schedule, f"{button}_button").click), appointment
