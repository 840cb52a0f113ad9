"""The hypertension protocol's suggestion on the chart summary, used like a clinician would:
a blood pressure typed into the vitals form, the panel appears; Accept… opens the change-dose
or prescription form pre-filled, and after it is saved the follow-up form on the suggested
day; Decline… needs a reason and then says declined. Nothing is recorded by the panel itself.
The summary with the panel is rendered at 1366×768 (FIELDCHART_SCREENSHOT_DIR keeps it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.chart.protocol_panel import ProtocolPanelWidget
from app.ui.forms.medication_forms import ChangeDoseDialog, PrescribeDialog
from app.ui.forms.protocol_forms import DeclineSuggestionDialog
from app.ui.forms.schedule_forms import BookFollowUpDialog
from tests.ui.conftest import CLINICIAN, CLINICIAN_PASS, STAFF, STAFF_PASS, open_as, open_demo_chart
from tests.ui.demo import record_demo_clinic
from tests.ui.helpers import TIMEOUT
from tests.ui.keyboard_driving import (
    CTRL,
    App,
    Key,
    Sent,
    chart_form,
    chosen,
    errors,
    fields,
    focused,
    press,
    save,
    shown,
    typed,
)
from tests.ui.layout_checks import clipped_labels, out_of_reach


@pytest.fixture
def app(qtbot: QtBot, controller: AppController, seeded: Backend) -> Iterator[App]:
    """The demo clinic as the clinician, on the demo patient's chart: hypertension (I10),
    amlodipine 5 mg once daily, the last blood pressure 132/84 (at target)."""
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    window.chart.show_tab(0)
    yield App(window, patient_id, Sent())


def panel_of(app: App) -> ProtocolPanelWidget:
    return app.window.chart.summary.protocol


def panel_says(qtbot: QtBot, app: App, words: str) -> ProtocolPanelWidget:
    panel = panel_of(app)
    qtbot.waitUntil(lambda: panel.isVisible() and words in panel.title.text(), timeout=TIMEOUT)
    return panel


def record_bp_by_keyboard(qtbot: QtBot, app: App, systolic: str, diastolic: str) -> None:
    form = chart_form(qtbot, app, "vitals")
    fields(systolic, diastolic)
    save(qtbot, form)


def click(qtbot: QtBot, button: QPushButton) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_accept_prefills_the_dose_change_then_the_follow_up(qtbot: QtBot, app: App) -> None:
    panel = panel_says(qtbot, app, "Continue amlodipine 5 mg")  # 132/84: at target
    record_bp_by_keyboard(qtbot, app, "156", "96")
    panel = panel_says(qtbot, app, "Increase amlodipine from 5 to 10 mg once daily")
    assert "step 2" in panel.detail.text() and "156/96" in panel.detail.text()
    notes_before = len(app.window.chart.current.notes)  # type: ignore[union-attr]

    click(qtbot, panel.accept_button)
    form = shown(qtbot, lambda: panel.last_form)
    assert isinstance(form, ChangeDoseDialog)
    assert focused() is form.rows["prescription_id"].widget  # the first field, not Save
    rx = panel.suggestion.prescription_id  # type: ignore[union-attr]
    assert chosen(form, "prescription_id") == rx
    assert form.dose.text() == "10" and form.dose_unit.currentText() == "mg"
    assert chosen(form, "frequency") == "QD"
    assert form.reason.text() == "Hypertension protocol step 2"
    save(qtbot, form)  # Ctrl+Enter: the clinician saves it

    follow = shown(qtbot, lambda: panel.last_form)
    assert isinstance(follow, BookFollowUpDialog)
    expected = app.session.today() + timedelta(days=30)
    picked = follow.start.dateTime()  # type: ignore[attr-defined]
    assert (picked.date().toPython(), picked.time().hour()) == (expected, 9)
    assert follow.reason.text() == "Hypertension review (protocol)"
    save(qtbot, follow)

    # The dose is 10 mg now: the next suggestion is step 3; nothing else was recorded.
    def booked() -> list[object]:
        chart = app.window.chart.current
        return [
            a
            for a in (chart.appointments if chart else [])
            if a.data.get("reason") == "Hypertension review (protocol)"
        ]

    qtbot.waitUntil(lambda: len(booked()) == 1, timeout=TIMEOUT)
    panel = panel_says(qtbot, app, "Add losartan 50 mg once daily")
    chart = app.window.chart.current
    assert chart is not None and len(chart.notes) == notes_before
    (amlodipine,) = [m for m in chart.medications if m.item_id == rx]
    assert amlodipine.data["dose"] == 10

    click(qtbot, panel.accept_button)
    prescribe = shown(qtbot, lambda: panel.last_form)
    assert isinstance(prescribe, PrescribeDialog)
    assert focused() is prescribe.drug
    assert (prescribe.drug.text(), prescribe.dose.text()) == ("losartan", "50")
    assert prescribe.dose_unit.currentText() == "mg"
    assert (chosen(prescribe, "route"), chosen(prescribe, "frequency")) == ("oral", "QD")
    prescribe.reject()  # not saved: nothing is prescribed
    qtbot.waitUntil(lambda: not prescribe.isVisible(), timeout=TIMEOUT)
    assert not any(m.data["drug"] == "losartan" for m in chart.medications)


def test_decline_needs_a_reason_then_the_panel_says_declined(qtbot: QtBot, app: App) -> None:
    record_bp_by_keyboard(qtbot, app, "150", "95")
    panel = panel_says(qtbot, app, "Increase amlodipine")
    chart = app.window.chart.current
    assert chart is not None
    notes_before = len(chart.notes)

    click(qtbot, panel.decline_button)
    form = shown(qtbot, lambda: panel.last_form)
    assert isinstance(form, DeclineSuggestionDialog)
    assert focused() is form.reason
    press(Key.Key_Return, CTRL)  # no reason: refused, with the message under the field
    qtbot.waitUntil(lambda: bool(errors(form)), timeout=TIMEOUT)
    assert errors(form) == {"reason": "Reason is required."}
    assert form.isVisible() and form.last_changes is None

    typed("Patient wants to try less salt first")
    save(qtbot, form)
    panel = panel_says(qtbot, app, "suggestion declined")
    assert "Patient wants to try less salt first" in panel.detail.text()
    assert not panel.accept_button.isVisible() and not panel.decline_button.isVisible()
    chart = app.window.chart.current
    assert chart is not None and len(chart.notes) == notes_before + 1
    assert any(
        n.data["text"].startswith("Hypertension protocol suggestion declined: Increase amlodipine")
        for n in chart.notes
    )


def test_the_summary_with_the_panel_at_1366x768(qtbot: QtBot, app: App, tmp_path: Path) -> None:
    window = app.window
    window.resize(1366, 768)
    record_bp_by_keyboard(qtbot, app, "162", "98")
    panel = panel_says(qtbot, app, "Increase amlodipine")
    qtbot.wait(200)
    QApplication.processEvents()
    problems = out_of_reach(panel) + clipped_labels(panel)
    assert not problems, "\n".join(problems)
    chosen_dir = os.environ.get("FIELDCHART_SCREENSHOT_DIR")
    out = Path(chosen_dir) if chosen_dir else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    image = window.grab().toImage()
    assert image.save(str(out / "protocol-panel-1366x768.png"))
    assert image.width() >= 1366 and image.height() >= 700


def test_no_panel_without_hypertension_or_for_a_past_view(qtbot: QtBot, app: App) -> None:
    panel_says(qtbot, app, "Continue")
    clinic = app.session.clinic
    other = clinic.commands.execute(
        c.RegisterPatient(given="Asha", family="Kimaro", birth_date="1990-01-02", sex="female"),
        clinic.vault.actor,
    ).patient_id
    clinic.commands.execute(
        c.RecordVitals(patient_id=other, systolic=170, diastolic=100), clinic.vault.actor
    )
    app.window.open_patient(other)
    qtbot.waitUntil(
        lambda: (
            app.window.chart.current is not None
            and app.window.chart.current.patient.patient_id == other
        ),
        timeout=TIMEOUT,
    )
    qtbot.wait(300)
    assert not panel_of(app).isVisible()


def test_very_high_bp_accept_books_the_follow_up_today(qtbot: QtBot, app: App) -> None:
    record_bp_by_keyboard(qtbot, app, "190", "112")
    panel = panel_says(qtbot, app, "See today; refer urgently if organ damage")
    assert "190/112" in panel.detail.text()
    click(qtbot, panel.accept_button)
    follow = shown(qtbot, lambda: panel.last_form)
    assert isinstance(follow, BookFollowUpDialog)
    start = follow.start.dateTime()  # type: ignore[attr-defined]
    now = app.session.now_q()
    # Today at 09:00, or within the quarter hour once 09:00 has passed.
    at_nine = start.date() == now.date() and (start.time().hour(), start.time().minute()) == (9, 0)
    assert now < start and (at_nine or start <= now.addSecs(15 * 60))
    follow.reject()


def test_staff_see_the_suggestion_but_only_a_clinician_acts_on_it(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    clinic = seeded.unlock(CLINICIAN, CLINICIAN_PASS)
    patient_id = record_demo_clinic(clinic, CLINICIAN)
    clinic.commands.execute(
        c.RecordVitals(patient_id=patient_id, systolic=154, diastolic=95), clinic.vault.actor
    )
    clinic.close()
    window = open_as(controller, qtbot, STAFF, STAFF_PASS)
    window.open_patient(patient_id)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    window.chart.show_tab(0)
    panel = window.chart.summary.protocol
    qtbot.waitUntil(
        lambda: panel.isVisible() and "Increase amlodipine" in panel.title.text(), timeout=TIMEOUT
    )
    assert not panel.accept_button.isEnabled() and not panel.decline_button.isEnabled()
    assert "clinician" in panel.accept_button.toolTip()
    assert "clinician" in panel.decline_button.toolTip()
