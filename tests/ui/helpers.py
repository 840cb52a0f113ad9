"""Driving forms in the UI tests: fill inputs by field name, submit, wait."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTableWidget,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.domain.commands import RegisterPatient
from app.ui.chart.actions import SPECS
from app.ui.formatting import to_qdatetime
from app.ui.forms.base import CommandFormDialog, TimeField
from app.ui.main_window import MainView

TIMEOUT = 10_000


def type_into(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    """Focus the field (as Tab would) and type, key by key."""
    edit.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(edit.hasFocus, timeout=TIMEOUT)
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Delete)
    QTest.keyClicks(edit, text)
    assert edit.text() == text


def set_input(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QLineEdit):
        widget.setText(str(value))
    elif isinstance(widget, QPlainTextEdit):
        widget.setPlainText(str(value))
    elif isinstance(widget, TimeField):
        widget.setDateTime(to_qdatetime(str(value)))
    elif isinstance(widget, QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, QComboBox):
        index = widget.findData(value)
        if index < 0:
            index = widget.findText(str(value))
        if index >= 0:
            widget.setCurrentIndex(index)
        elif widget.isEditable():
            widget.setEditText(str(value))
        else:
            raise AssertionError(f"{value!r} is not a choice of {widget.accessibleName()}")
    else:
        raise TypeError(type(widget).__name__)


def fill(form: CommandFormDialog, **values: Any) -> None:
    for name, value in values.items():
        set_input(form.rows[name].widget, value)


def submit_ok(qtbot: QtBot, form: CommandFormDialog) -> None:
    """Submit and wait until the command was recorded and the form closed."""
    form.submit()
    qtbot.waitUntil(lambda: form.last_changes is not None or _has_error(form), timeout=TIMEOUT)
    assert form.last_changes is not None, _errors(form)


def submit_refused(qtbot: QtBot, form: CommandFormDialog) -> dict[str, str]:
    """Submit and wait for the refusal; returns the inline errors by field ('' = form level)."""
    form.submit()
    qtbot.waitUntil(lambda: _has_error(form) or form.last_changes is not None, timeout=TIMEOUT)
    assert form.last_changes is None, "the command was recorded"
    return _errors(form)


def _has_error(form: CommandFormDialog) -> bool:
    return bool(_errors(form)) and form.save_button.isEnabled()


def _errors(form: CommandFormDialog) -> dict[str, str]:
    found = {name: form.error_text(name) for name in form.rows if form.error_text(name)}
    if not form.form_error.isHidden():
        found[""] = form.form_error.text()
    return found


def cell(table: QTableWidget, row: int, column: int) -> str:
    """The text a person reads in a table cell (the cell must exist)."""
    item = table.item(row, column)
    assert item is not None, f"no cell at ({row}, {column})"
    return item.text()


def open_chart_form(
    qtbot: QtBot, window: MainView, key: str, selected: str | None = None
) -> CommandFormDialog:
    """The chart action `key`'s form, open and shown."""
    actions = window.chart.chart_actions
    actions.last_form = None
    actions.open(key, selected)
    form = actions.last_form
    assert isinstance(form, CommandFormDialog), key
    qtbot.waitUntil(form.isVisible, timeout=TIMEOUT)
    return form


def enable_every_chart_action(qtbot: QtBot, window: MainView) -> None:
    """An encounter in progress and a second record merged in, so that every chart action
    (Finish encounter…, Undo merge… included) applies to the open chart."""
    chart = window.chart
    submit_ok(qtbot, open_chart_form(qtbot, window, "encounter"))
    qtbot.waitUntil(
        lambda: chart.chart_actions.actions["finish_encounter"].isEnabled(), timeout=TIMEOUT
    )
    services, actor = window.session.clinic, window.session.actor
    other = RegisterPatient(given="A", family="Twice", birth_date="1971-03-12", sex="female")
    other_id = services.commands.execute(other, actor).patient_id
    merge = open_chart_form(qtbot, window, "merge")
    fill(merge, search="Twice", replaced_patient_id=other_id, reason="twice")
    merge.rows["confirm"].widget.setChecked(True)  # type: ignore[attr-defined]
    submit_ok(qtbot, merge)
    qtbot.waitUntil(lambda: chart.chart_actions.actions["undo_merge"].isEnabled(), timeout=TIMEOUT)
    for key in SPECS:
        assert chart.chart_actions.actions[key].isEnabled(), key
