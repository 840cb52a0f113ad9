"""Every task form takes input where the clinician types it (issue 12).

Each form is opened the way the app opens it (menu action, toolbar, schedule button), filled
with the keyboard only -- keys sent to whatever widget has focus, Tab or Enter between
fields, Ctrl+Enter to save -- and the command the form sent is checked field by field. A form
that opened on Save, or tabbed Save → Cancel → first field, recorded BP 110/70, HR 96, RR 24 as
"BP 96/24" and put a birth date into Given name; these tests would have caught both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.ui import formatting
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.chart.actions import SPECS
from app.ui.chart_text import describe
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.patient_forms import RegisterPatientDialog
from app.ui.forms.schedule_forms import BookFollowUpDialog, MoveAppointmentDialog
from tests.ui.conftest import CLINICIAN, open_demo_chart
from tests.ui.helpers import TIMEOUT
from tests.ui.keyboard_driving import (
    CTRL,
    KEYPAD,
    App,
    Key,
    chain_of,
    chart_form,
    chosen,
    errors,
    fields,
    focused,
    name_of,
    new_patient_form,
    overdue_form,
    press,
    save,
    saved,
    schedule_form,
    schedule_page,
    shown,
    spying_app,
    tab,
    to_hours,
    tomorrow_at,
    typed,
    walk_tabs,
)

# -- the app, and what its forms send ------------------------------------------------------


@pytest.fixture
def app(
    qtbot: QtBot, controller: AppController, seeded: Backend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    """The demo clinic open as the clinician, on the full chart; commands are captured on
    their way to the services (and still recorded)."""
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    yield spying_app(window, patient_id, monkeypatch)


# -- focus and tab order -------------------------------------------------------------------


def check_focus_and_tabs(form: CommandFormDialog, what: str) -> None:
    expected = chain_of(form)
    assert focused() is expected[0], (what, name_of(focused()), name_of(expected[0]))
    seen = walk_tabs(form, len(expected))
    assert [name_of(w) for w in seen] == [name_of(w) for w in [*expected, expected[0]]], what
    assert seen == [*expected, expected[0]], what
    assert not any(b.isDefault() for b in form.findChildren(QPushButton)), what


def test_every_form_starts_in_its_first_field_and_tabs_in_visual_order(
    qtbot: QtBot, app: App
) -> None:
    form = chart_form(qtbot, app, "encounter")
    typed("Fever")
    save(qtbot, form)  # so that "finish encounter" applies
    actions = app.window.chart.chart_actions
    qtbot.waitUntil(lambda: actions.actions["finish_encounter"].isEnabled(), timeout=TIMEOUT)
    # A second record merged in by keyboard, so that "Undo merge…" applies.
    app.session.clinic.commands.execute(
        c.RegisterPatient(given="A", family="Twice", birth_date="1971-03-12", sex="female"),
        app.session.actor,
    )
    form = chart_form(qtbot, app, "merge")
    typed("Twice")
    tab(2)
    typed("registered twice")
    tab()
    press(Key.Key_Space)
    save(qtbot, form)
    qtbot.waitUntil(lambda: actions.actions["undo_merge"].isEnabled(), timeout=TIMEOUT)
    for key in SPECS:
        form = chart_form(qtbot, app, key)
        check_focus_and_tabs(form, key)
        form.reject()
    form = new_patient_form(qtbot, app)
    check_focus_and_tabs(form, "new patient")
    assert name_of(focused()) == "Given name"
    form.reject()
    schedule = app.window.schedule
    app.window.show_page(1)
    qtbot.waitUntil(lambda: schedule.loads_done > 0, timeout=TIMEOUT)
    schedule.last_form = None
    schedule.book()
    form = shown(qtbot, lambda: schedule.last_form)
    check_focus_and_tabs(form, "book from the schedule")
    assert name_of(focused()) == "Find patient"
    form.reject()
    overdue = schedule.overdue_table
    qtbot.waitUntil(lambda: overdue.rowCount() == 1, timeout=TIMEOUT)
    overdue.selectRow(0)
    for button in (schedule.attended_button, schedule.no_show_button, schedule.move_button):
        schedule.last_form = None
        button.click()
        form = shown(qtbot, lambda: schedule.last_form)
        check_focus_and_tabs(form, button.text())
        form.reject()


def test_a_form_shown_directly_also_starts_in_its_first_field(qtbot: QtBot, app: App) -> None:
    """show() (or exec) instead of open(): the same first focus and tab order."""
    form = RegisterPatientDialog(app.session, app.window)
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    form.activateWindow()
    qtbot.waitUntil(form.isActiveWindow, timeout=TIMEOUT)
    check_focus_and_tabs(form, "shown directly")
    assert name_of(focused()) == "Given name"


# -- vitals: the reported case -------------------------------------------------------------


def test_vitals_typed_with_tab_are_recorded_in_the_fields_they_were_typed_into(
    qtbot: QtBot, app: App
) -> None:
    form = chart_form(qtbot, app, "vitals")
    assert form.rows["encounter_id"].widget.currentData() == ""  # type: ignore[attr-defined]
    fields("110", "70", "96", "24")
    command = saved(qtbot, app, form, c.RecordVitals)
    assert (command.systolic, command.diastolic) == (110, 70)
    assert (command.heart_rate, command.respiratory_rate) == (96, 24)
    assert command.temperature is command.spo2 is command.weight is command.height is None
    assert command.taken_at is None  # "now": the time was not touched
    assert command.encounter_id is None  # no encounter in progress on the demo chart
    chart = app.window.chart
    qtbot.waitUntil(
        lambda: (
            chart.current is not None
            and chart.current.last_vitals is not None
            and chart.current.last_vitals.data["measurements"].get("respiratory_rate") == 24
        ),
        timeout=TIMEOUT,
    )
    assert chart.current is not None and chart.current.last_vitals is not None
    assert chart.current.last_vitals.data["measurements"] == {
        "systolic": 110,
        "diastolic": 70,
        "heart_rate": 96,
        "respiratory_rate": 24,
    }


def test_enter_in_a_field_moves_on_and_never_submits(qtbot: QtBot, app: App) -> None:
    form = chart_form(qtbot, app, "vitals")
    for value, name in (("110", "Systolic BP"), ("70", "Diastolic BP"), ("96", "Heart rate")):
        assert name_of(focused()) == name
        typed(value)
        press(Key.Key_Return)
    typed("24")
    press(Key.Key_Enter, KEYPAD)  # the keypad's Enter too
    qtbot.wait(50)
    assert app.sent.commands == [] and form.isVisible() and form.last_changes is None
    assert name_of(focused()) == "Temperature"
    typed("38.4")
    command = saved(qtbot, app, form, c.RecordVitals, keypad=True)  # Ctrl+Enter on the keypad saves
    assert (command.systolic, command.diastolic, command.heart_rate) == (110, 70, 96)
    assert (command.respiratory_rate, command.temperature) == (24, 38.4)


def test_space_types_into_the_focused_field_and_presses_only_a_focused_button(
    qtbot: QtBot, app: App
) -> None:
    form = new_patient_form(qtbot, app)
    typed("Mary Anne")  # the space is part of the name
    press(Key.Key_Space)
    qtbot.wait(50)
    assert app.sent.commands == [] and form.isVisible()
    assert form.rows["given"].widget.text() == "Mary Anne "  # type: ignore[attr-defined]
    # Enter walks on to Save, and only there does the space bar press it.
    for _ in range(8):
        press(Key.Key_Return)
    assert app.sent.commands == []
    assert focused() is form.save_button
    press(Key.Key_Space)
    qtbot.waitUntil(lambda: bool(errors(form)), timeout=TIMEOUT)
    command = app.sent.last(c.RegisterPatient)
    assert isinstance(command, c.RegisterPatient) and command.given == "Mary Anne"
    assert form.last_changes is None  # refused (no family name): shown in the form


# -- every form, filled by keyboard --------------------------------------------------------


def test_new_patient_by_keyboard_puts_each_value_in_its_field(qtbot: QtBot, app: App) -> None:
    form = new_patient_form(qtbot, app)
    fields("Amina", "Wekesa", "1984-03-12", "f", "+254 700 123 456", "Eldoret, Langas", "")
    tab()
    typed("30887766")
    command = saved(qtbot, app, form, c.RegisterPatient)
    assert (command.given, command.family, command.birth_date) == ("Amina", "Wekesa", "1984-03-12")
    assert (command.sex, command.phone) == ("female", "+254 700 123 456")
    assert command.address == "Eldoret, Langas"
    assert command.identifiers == (c.Identifier("National ID", "30887766"),)
    chart = app.window.chart
    qtbot.waitUntil(
        lambda: chart.current is not None and chart.current.patient.given == "Amina",
        timeout=TIMEOUT,
    )
    assert chart.current is not None and chart.current.patient.birth_date == "1984-03-12"


def test_demographics_by_keyboard_changes_only_the_field_typed_over(qtbot: QtBot, app: App) -> None:
    form = chart_form(qtbot, app, "demographics")
    tab(4)  # given, family, birth date, sex -> phone (its text selected, as Tab does)
    typed("+254 733 000 111")
    command = saved(qtbot, app, form, c.UpdateDemographics)
    assert command.patient_id == app.patient_id
    assert command.changes == {
        "phone": c.FieldChange(new="+254 733 000 111", expected="+254 712 480 316")
    }


def test_start_and_finish_an_encounter_by_keyboard(qtbot: QtBot, app: App) -> None:
    form = chart_form(qtbot, app, "encounter")
    typed("Cough for 3 days")
    tab()  # "Started": the day part is selected; ↓ makes it yesterday
    press(Key.Key_Down)
    command = saved(qtbot, app, form, c.StartEncounter)
    assert command.reason == "Cough for 3 days" and command.patient_id == app.patient_id
    assert command.started_at == formatting.to_iso(app.session.now_q().addDays(-1))
    chart = app.window.chart
    qtbot.waitUntil(
        lambda: chart.chart_actions.actions["finish_encounter"].isEnabled(), timeout=TIMEOUT
    )
    assert chart.current is not None
    (started,) = [e for e in chart.current.encounters if e.status == "in-progress"]
    form = chart_form(qtbot, app, "finish_encounter")
    assert name_of(focused()) == "Encounter"
    finish = saved(qtbot, app, form, c.FinishEncounter)
    assert finish.encounter_id == started.item_id and finish.finished_at is None


def test_diagnosis_and_resolving_a_problem_by_keyboard(qtbot: QtBot, app: App) -> None:
    form = chart_form(qtbot, app, "diagnosis")
    typed("upper respiratory")  # words pick from the list: ↓ and Enter take the match
    press(Key.Key_Down)
    press(Key.Key_Return)
    assert focused() is form.rows["code"].widget  # choosing from the list stays there
    tab()
    typed("Since Monday")
    command = saved(qtbot, app, form, c.RecordDiagnosis)
    assert (command.code, command.text) == ("J06.9", "Since Monday")
    assert command.onset is None and command.encounter_id is None
    chart = app.window.chart
    qtbot.waitUntil(
        lambda: chart.current is not None and len(chart.current.problems) == 3, timeout=TIMEOUT
    )
    assert chart.current is not None
    form = chart_form(qtbot, app, "resolve")
    problems = form.rows["diagnosis_id"].widget
    second = problems.itemData(1)  # type: ignore[attr-defined]
    press(Key.Key_Down)  # the next problem in the list
    resolve = saved(qtbot, app, form, c.ResolveDiagnosis)
    assert resolve.diagnosis_id == second and resolve.resolved_at is None


def test_allergy_and_its_status_by_keyboard(qtbot: QtBot, app: App) -> None:
    form = chart_form(qtbot, app, "allergy")
    fields("Latex", "", "Rash", "mo", "h")  # combos: typing picks the entry that starts so
    command = saved(qtbot, app, form, c.RecordAllergy)
    assert (command.substance, command.category, command.reaction) == ("Latex", None, "Rash")
    assert (command.severity, command.criticality) == ("moderate", "high")
    chart = app.window.chart
    qtbot.waitUntil(
        lambda: chart.current is not None and len(chart.current.allergies) == 3,
        timeout=TIMEOUT,
    )
    form = chart_form(qtbot, app, "allergy_status")
    allergy = chosen(form, "allergy_id")
    fields("", "r")  # keep the allergy shown first; status "Resolved"
    status = saved(qtbot, app, form, c.UpdateAllergyStatus)
    assert (status.allergy_id, status.status) == (allergy, "resolved")


def test_prescribe_change_dose_and_stop_by_keyboard(qtbot: QtBot, app: App) -> None:
    form = chart_form(qtbot, app, "prescribe")
    typed("paracetamol")
    press(Key.Key_Escape)  # close the suggestions; the typed name stays
    assert form.isVisible()
    tab()
    fields("500", "", "", "t", "5", "After meals")
    command = saved(qtbot, app, form, c.PrescribeMedication)
    assert (command.drug, command.dose, command.dose_unit) == ("paracetamol", 500, "mg")
    assert (command.route, command.frequency, command.duration_days) == ("oral", "TID", 5)
    assert command.instructions == "After meals" and command.override_reason is None

    chart = app.window.chart
    qtbot.waitUntil(
        lambda: chart.current is not None and len(chart.current.medications) == 3,
        timeout=TIMEOUT,
    )
    form = chart_form(qtbot, app, "change_dose")
    picked = chosen(form, "prescription_id")
    fields("", "250", "", "", "Kidney function")
    change = saved(qtbot, app, form, c.ChangeDose)
    assert (change.prescription_id, change.dose, change.reason) == (
        picked,
        250,
        "Kidney function",
    )

    form = chart_form(qtbot, app, "discontinue")
    picked = chosen(form, "prescription_id")
    fields("", "Course completed")
    stop = saved(qtbot, app, form, c.DiscontinueMedication)
    assert (stop.prescription_id, stop.reason) == (picked, "Course completed")


def test_note_keeps_its_lines_and_entered_in_error_by_keyboard(qtbot: QtBot, app: App) -> None:
    form = chart_form(qtbot, app, "note")
    typed("Chest clear.")
    press(Key.Key_Return)  # a new line in the note, not the next field
    typed("Review in 2 weeks.")
    command = saved(qtbot, app, form, c.AddNote)
    assert command.text == "Chest clear.\nReview in 2 weeks." and command.encounter_id is None

    form = chart_form(qtbot, app, "entered_in_error")
    item = chosen(form, "item_id")
    fields("", "Recorded on the wrong chart")
    mark = saved(qtbot, app, form, c.MarkEnteredInError)
    assert (mark.item_id, mark.reason) == (item, "Recorded on the wrong chart")


# -- the schedule --------------------------------------------------------------------------


def test_book_a_follow_up_from_the_chart_by_keyboard(qtbot: QtBot, app: App) -> None:
    form = chart_form(qtbot, app, "follow_up")
    assert name_of(focused()) == "Clinician"
    tab()  # Start: tomorrow 09:00 is offered; make it 11:00
    to_hours()
    typed("11")
    tab()
    press(Key.Key_Up)  # 15 -> 20 minutes
    tab()
    typed("BP review")
    command = saved(qtbot, app, form, c.ScheduleFollowUp)
    assert (command.patient_id, command.clinician) == (app.patient_id, CLINICIAN)
    assert (command.start, command.duration_minutes) == (tomorrow_at(app, 11), 20)
    assert command.reason == "BP review"


def test_book_from_the_schedule_finding_the_patient_by_keyboard(qtbot: QtBot, app: App) -> None:
    schedule = schedule_page(qtbot, app)
    form = schedule_form(qtbot, schedule, schedule.book)
    assert isinstance(form, BookFollowUpDialog) and form.picker is not None
    typed("odhiambo")
    qtbot.waitUntil(lambda: form.picker.results.count() == 1, timeout=TIMEOUT)  # type: ignore[union-attr]
    fields("", "", "", "", "", "Wound check")  # results, clinician, start, duration, reason
    command = saved(qtbot, app, form, c.ScheduleFollowUp)
    assert (command.patient_id, command.clinician) == (app.patient_id, CLINICIAN)
    assert (command.start, command.duration_minutes) == (tomorrow_at(app, 9), 15)
    assert command.reason == "Wound check"


def test_move_a_follow_up_by_keyboard(qtbot: QtBot, app: App) -> None:
    form, appointment = overdue_form(qtbot, app, "move")
    assert isinstance(form, MoveAppointmentDialog)
    was = form.appointment.start
    press(Key.Key_Up)  # the day part is selected: one day later
    tab()
    press(Key.Key_Up)  # 15 -> 20 minutes
    command = saved(qtbot, app, form, c.RescheduleAppointment)
    assert (command.appointment_id, command.expected_start) == (appointment, was)
    assert command.start == formatting.to_iso(formatting.to_qdatetime(was).addDays(1))
    assert command.duration_minutes == 20


def test_cancel_a_follow_up_by_keyboard(qtbot: QtBot, app: App) -> None:
    form, appointment = overdue_form(qtbot, app, "cancel")
    typed("Patient travelled")
    command = saved(qtbot, app, form, c.CancelAppointment)
    assert (command.appointment_id, command.reason) == (appointment, "Patient travelled")


def test_attended_is_confirmed_with_the_space_bar_on_its_focused_button(
    qtbot: QtBot, app: App
) -> None:
    form, appointment = overdue_form(qtbot, app, "attended")
    assert focused() is form.save_button  # nothing to fill in: the confirm button
    press(Key.Key_Space)
    qtbot.waitUntil(lambda: form.last_changes is not None, timeout=TIMEOUT)
    command = app.sent.last(c.MarkAttended)
    assert isinstance(command, c.MarkAttended) and command.appointment_id == appointment


def test_no_show_is_confirmed_with_ctrl_enter(qtbot: QtBot, app: App) -> None:
    form, appointment = overdue_form(qtbot, app, "no_show")
    command = saved(qtbot, app, form, c.MarkNoShow)
    assert command.appointment_id == appointment


def test_an_implausible_pair_is_shown_under_the_diastolic(qtbot: QtBot, app: App) -> None:
    """Were the values still typed into the wrong boxes, the pair would be refused."""
    form = chart_form(qtbot, app, "vitals")
    fields("96", "24")
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(errors(form)), timeout=TIMEOUT)
    assert errors(form) == {
        "diastolic": "Systolic 96 and diastolic 24 mmHg are not a plausible pair (pulse pressure "
        "72 mmHg): with a systolic under 120 the diastolic should be more than a quarter of it. "
        "Check that each value is in its own field."
    }
    assert focused() is form.rows["diastolic"].widget and form.last_changes is None


def close_suggestions(qtbot: QtBot, form: CommandFormDialog) -> None:
    """Esc closes the name suggestions if they are open (Esc on the form itself would ask
    to discard it); the form is active again, as a window manager makes it when a pop-up
    goes (the offscreen platform leaves a closed pop-up "active")."""
    if QApplication.activePopupWidget() is not None:
        press(Key.Key_Escape)
    form.activateWindow()
    qtbot.waitUntil(form.isActiveWindow, timeout=TIMEOUT)


def test_a_brand_name_meets_the_penicillin_allergy_and_the_override_shows_on_the_chart(
    qtbot: QtBot, app: App
) -> None:
    chart = app.window.chart
    assert chart.header.allergies.text().count("HIGH criticality") == 1  # Penicillins
    form = chart_form(qtbot, app, "prescribe")
    typed("Augmentin")
    close_suggestions(qtbot, form)  # the typed name stays
    tab()
    fields("625", "", "", "t", "5", "")
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(errors(form).get("override_reason")), timeout=TIMEOUT)
    assert "Penicillins" in errors(form)["override_reason"]
    reason = form.rows["override_reason"].widget
    qtbot.waitUntil(lambda: QApplication.focusWidget() is reason, timeout=TIMEOUT)
    typed("No alternative in stock; watched for 1 hour")
    command = saved(qtbot, app, form, c.PrescribeMedication)
    assert command.override_reason == "No alternative in stock; watched for 1 hour"
    qtbot.waitUntil(
        lambda: chart.current is not None and len(chart.current.medications) == 3,
        timeout=TIMEOUT,
    )
    assert chart.current is not None
    (given,) = [m for m in chart.current.medications if m.data["drug"] == "Augmentin"]
    assert describe(given).endswith(
        "— given despite allergy: No alternative in stock; watched for 1 hour"
    )


def test_a_drug_not_in_the_medicine_list_needs_an_acknowledgement_and_is_marked(
    qtbot: QtBot, app: App
) -> None:
    form = chart_form(qtbot, app, "prescribe")
    typed("Zentraxil")
    close_suggestions(qtbot, form)
    tab()
    fields("10", "", "", "", "3")
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: bool(errors(form).get("unchecked_acknowledged")), timeout=TIMEOUT)
    assert "not in the medicine list" in errors(form)["unchecked_acknowledged"]
    assert app.window.chart.current is not None
    assert len(app.window.chart.current.medications) == 2  # nothing recorded yet
    box = form.unchecked  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: QApplication.focusWidget() is box, timeout=TIMEOUT)
    press(Key.Key_Space)  # tick "Prescribe it without the checks"
    command = saved(qtbot, app, form, c.PrescribeMedication)
    assert command.unchecked_acknowledged
    chart = app.window.chart
    qtbot.waitUntil(
        lambda: chart.current is not None and len(chart.current.medications) == 3,
        timeout=TIMEOUT,
    )
    assert chart.current is not None
    (unchecked,) = [m for m in chart.current.medications if m.data["drug"] == "Zentraxil"]
    assert "not in the medicine list: allergies and duplicates not checked" in describe(unchecked)
