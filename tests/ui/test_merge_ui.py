"""Merge with another record… and Undo merge…, driven like a person: the clinician opens the
merge form on the demo chart, types part of the other record's name, arrows to it, sees both
records side by side, types a reason, saves without ticking "same person" (refused, naming
that box), ticks it with the space bar and saves with Ctrl+Enter; the chart's header says what
was merged in and the other record leaves search; Undo merge… separates them again. A
screenshot of the form and of the chart at 1366×768 is saved for a person to look at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.forms.merge_forms import MergeDialog, UndoMergeDialog
from tests.ui.conftest import open_demo_chart
from tests.ui.helpers import TIMEOUT
from tests.ui.keyboard_driving import (
    CTRL,
    App,
    Key,
    chart_form,
    errors,
    focused,
    name_of,
    press,
    save,
    spying_app,
    tab,
    typed,
)

SHOTS = Path(os.environ.get("FIELDCHART_SHOTS", "/tmp/fieldchart-shots"))


@pytest.fixture
def app(
    qtbot: QtBot, controller: AppController, seeded: Backend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    """The demo chart open as the clinician at 1366×768, and a second record of someone to
    merge into it (registered twice, as "Wanjiru Kamau-Dup")."""
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    window.resize(1366, 768)
    session = window.session
    session.clinic.commands.execute(
        c.RegisterPatient(
            patient_id="dup-record", given="Wanjiru", family="Duplicatova",
            birth_date="1975-02-14", sex="female", phone="+254 700 111 222",
        ),
        session.actor,
    )  # fmt: skip
    yield spying_app(window, patient_id, monkeypatch)


def test_a_clinician_merges_by_keyboard_and_undoes(qtbot: QtBot, app: App) -> None:
    form = chart_form(qtbot, app, "merge")
    assert isinstance(form, MergeDialog)
    assert name_of(focused()) == "Find the other record"
    typed("Duplicat")
    tab()
    assert isinstance(focused(), QComboBox) and name_of(focused()) == "Other record"
    qtbot.waitUntil(lambda: form.other.count() == 1, timeout=TIMEOUT)
    assert form.other.currentData() == "dup-record"
    shown = form.comparison.text()
    assert "Duplicatova, Wanjiru" in shown and "+254 700 111 222" in shown
    assert "This chart (stays)" in shown and "Other record (merged in)" in shown
    tab()
    typed("Registered twice at the front desk")
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(errors(form)), timeout=TIMEOUT)
    assert "same person" in errors(form)["confirm"]
    assert isinstance(focused(), QCheckBox)  # the refusal put the focus on the box it names
    press(Key.Key_Space)
    SHOTS.mkdir(parents=True, exist_ok=True)
    form.grab().save(str(SHOTS / "merge-form.png"))
    save(qtbot, form)
    command = app.sent.last(c.MergePatients)
    assert (command.patient_id, command.replaced_patient_id) == (app.patient_id, "dup-record")

    header = app.window.chart.header
    qtbot.waitUntil(
        lambda: "Merged here: Duplicatova, Wanjiru" in header.merge.text(), timeout=TIMEOUT
    )
    assert app.session.clinic.queries.search_patients("Duplicatova") == []
    app.window.grab().save(str(SHOTS / "merged-chart-1366x768.png"))

    undo = chart_form(qtbot, app, "undo_merge")
    assert isinstance(undo, UndoMergeDialog)
    assert name_of(focused()) == "Merged record"
    tab()
    typed("Not the same person after all")
    save(qtbot, undo)
    assert app.sent.last(c.UndoMerge).reason == "Not the same person after all"
    qtbot.waitUntil(lambda: header.merge.isHidden(), timeout=TIMEOUT)
    assert [p.patient_id for p in app.session.clinic.queries.search_patients("Duplicatova")] == [
        "dup-record"
    ]
