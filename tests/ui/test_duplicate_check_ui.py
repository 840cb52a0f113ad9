"""The New patient form's duplicate check, driven by keyboard: the receptionist types an
existing patient's name spelt another way ("Akieng Odiambo" for Achieng Odhiambo), sees her with
the reasons before anything is registered, and either opens her chart (Enter on the list: the
same person, nothing registered) or registers a new patient anyway (Alt+N)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.ui.forms.patient_forms import RegisterPatientDialog
from tests.ui.helpers import TIMEOUT
from tests.ui.keyboard_driving import (
    CTRL,
    App,
    Key,
    fields,
    focused,
    new_patient_form,
    press,
)
from tests.ui.test_form_keyboard import app  # noqa: F401 (the demo clinic, commands captured)

ALT = Qt.KeyboardModifier.AltModifier


def _typed_variant(qtbot: QtBot, app: App) -> RegisterPatientDialog:  # noqa: F811
    form = new_patient_form(qtbot, app)
    assert isinstance(form, RegisterPatientDialog)
    fields("Akieng", "Odiambo", "1971-03-21", "f")
    # Leaving the birth date already showed the list; Register checks again (the sex changed)
    # and puts the keyboard on the list instead of registering.
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is form.similar.table, timeout=TIMEOUT)
    assert form.similar.isVisible() and form.last_changes is None
    return form


def test_the_same_person_opens_her_chart_and_registers_nothing(
    qtbot: QtBot,
    app: App,  # noqa: F811
    tmp_path: Path,
) -> None:
    form = _typed_variant(qtbot, app)
    [found] = form.similar.patients
    assert found.patient_id == app.patient_id
    assert found.reasons == ("name sounds alike", "birth date one digit apart")
    table = form.similar.table
    texts = [table.item(0, col).text() for col in (0, 3)]  # type: ignore[union-attr]
    assert texts == ["ODHIAMBO, Achieng", "name sounds alike, birth date one digit apart"]
    assert focused() is table  # Enter chooses the selected row
    form.resize(900, 640)  # as it opens on a 1366x768 screen (docs/screens/duplicate-check.png)
    qtbot.wait(50)
    assert form.grab().save(str(tmp_path / "duplicate-check.png"))
    form.resize(910, 512)  # 1366x768 at 150 %: the list, its answers and Register still show
    qtbot.wait(50)
    assert form.grab().save(str(tmp_path / "duplicate-check-small.png"))
    inside = form.rect()
    for widget in (table, form.similar.same_button, form.similar.new_button, form.save_button):
        corner = widget.mapTo(form, widget.rect().bottomRight())
        assert widget.isVisible() and inside.contains(corner), widget.accessibleName()
    other = app.window.chart
    press(Key.Key_Return)
    qtbot.waitUntil(lambda: not form.isVisible(), timeout=TIMEOUT)
    assert not any(isinstance(cmd, c.RegisterPatient) for cmd in app.sent.commands)
    qtbot.waitUntil(
        lambda: other.current is not None and other.current.patient.patient_id == app.patient_id,
        timeout=TIMEOUT,
    )


def test_new_patient_registers_anyway(qtbot: QtBot, app: App) -> None:  # noqa: F811
    form = _typed_variant(qtbot, app)
    press(Key.Key_N, ALT)  # the "New patient" button's mnemonic
    qtbot.waitUntil(lambda: form.last_changes is not None, timeout=TIMEOUT)
    command = app.sent.last(c.RegisterPatient)
    assert (command.given, command.family, command.birth_date) == (
        "Akieng",
        "Odiambo",
        "1971-03-21",
    )
    assert form.last_changes is not None and form.last_changes.patient_id != app.patient_id


def test_nobody_alike_registers_at_once(qtbot: QtBot, app: App) -> None:  # noqa: F811
    form = new_patient_form(qtbot, app)
    fields("Grace", "Chebet", "2002-08-30", "f")
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: form.last_changes is not None, timeout=TIMEOUT)
    assert app.sent.last(c.RegisterPatient).family == "Chebet"  # no list was shown to choose
