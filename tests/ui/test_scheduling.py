"""Booking on the schedule: the clinician is picked from the device's clinicians, times go in
5-minute steps, a time in the past is confirmed first, a booking on another day says where it
went, a no-show stays on the "missed" list until the patient is booked again, and the action
buttons stay in reach in a small window (1366×768 at 150 %: 910×512)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication, QComboBox, QDateTimeEdit, QMessageBox
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.i18n.formatting import weekday_day, weekday_day_short
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.formatting import qdatetime_of
from app.ui.forms.schedule_forms import BookFollowUpDialog, SlotTimeField
from app.ui.main_window import MainView
from app.ui.schedule_view import ScheduleView
from tests.clock import SettableClock
from tests.ui.conftest import (
    CLINICIAN,
    CLINICIAN_PASS,
    STAFF,
    STAFF_PASS,
    open_as,
    register_patient,
)
from tests.ui.helpers import TIMEOUT, cell, fill, submit_ok, submit_refused

PASSPHRASES = {STAFF: STAFF_PASS, CLINICIAN: CLINICIAN_PASS}


def _at(moment: datetime) -> datetime:
    """`moment` in local time on a whole 5 minutes (down), no seconds."""
    local = moment.astimezone()
    return local.replace(minute=local.minute - local.minute % 5, second=0, microsecond=0)


def _schedule(qtbot: QtBot, controller: AppController, user: str, passphrase: str) -> MainView:
    window = open_as(controller, qtbot, user, passphrase)
    window.show_page(1)
    qtbot.waitUntil(lambda: window.schedule.loads_done > 0, timeout=TIMEOUT)
    return window


def _book_form(qtbot: QtBot, schedule: ScheduleView, family: str = "Otieno") -> BookFollowUpDialog:
    schedule.last_form = None
    schedule.book()
    form = schedule.last_form
    assert isinstance(form, BookFollowUpDialog) and form.picker is not None
    qtbot.waitUntil(form.isVisible, timeout=TIMEOUT)
    qtbot.keyClicks(form.picker.query, family)
    qtbot.waitUntil(lambda: form.picker.results.count() == 1, timeout=TIMEOUT)
    return form


def _clinician(form: BookFollowUpDialog) -> QComboBox:
    combo = form.rows["clinician"].widget
    assert isinstance(combo, QComboBox)
    return combo


def _start(form: BookFollowUpDialog) -> SlotTimeField:
    assert isinstance(form.start, SlotTimeField)
    return form.start


def _pick_clinician_by_typing(qtbot: QtBot, form: BookFollowUpDialog) -> None:
    combo = _clinician(form)
    combo.setFocus()
    qtbot.wait(QApplication.keyboardInputInterval() + 50)  # a new search, not more of one
    qtbot.keyClicks(combo, CLINICIAN[:3])  # a fixed list: typing jumps to the name
    assert combo.currentText() == CLINICIAN


def _booking(
    qtbot: QtBot, controller: AppController, seeded: Backend, user: str = STAFF
) -> tuple[MainView, BookFollowUpDialog]:
    """A registered patient, the schedule opened as `user` and the booking form on that patient."""
    register_patient(seeded)
    window = _schedule(qtbot, controller, user, PASSPHRASES[user])
    return window, _book_form(qtbot, window.schedule)


def test_the_clinician_is_one_of_the_devices_clinicians(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, form = _booking(qtbot, controller, seeded)
    combo = _clinician(form)
    # the clinician user only: not the admin, not the front desk; nothing chosen for staff
    assert [combo.itemText(i) for i in range(combo.count())] == [CLINICIAN]
    assert not combo.isEditable() and combo.currentIndex() == -1
    fill(form, start=(window.session.now() + timedelta(days=1)).isoformat())
    assert submit_refused(qtbot, form) == {"clinician": "Clinician is required."}
    if out := os.environ.get("FIELDCHART_SCREENSHOT_DIR"):
        form.grab().save(str(Path(out) / "book-form.png"))
    combo.setFocus()
    qtbot.keyClicks(combo, "Dr Amani")  # no such user: the list does not take it
    assert combo.findText("Dr Amani") == -1 and combo.currentText() != "Dr Amani"
    _pick_clinician_by_typing(qtbot, form)
    submit_ok(qtbot, form)
    assert form.last_changes is not None
    qtbot.waitUntil(
        lambda: (
            any(
                a.clinician == CLINICIAN
                for a in window.schedule.rows[id(window.schedule.day_table)]
            )
            or not window.schedule.notice.isHidden()
        ),
        timeout=TIMEOUT,
    )


def test_a_clinician_booking_finds_themself_chosen(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    _, form = _booking(qtbot, controller, seeded, CLINICIAN)
    assert _clinician(form).currentText() == CLINICIAN
    form.reject()


def test_times_go_in_five_minute_steps(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, form = _booking(qtbot, controller, seeded)
    _pick_clinician_by_typing(qtbot, form)
    field = _start(form)
    base = _at(window.session.now() + timedelta(days=2)).replace(hour=9, minute=0)
    field.setDateTime(qdatetime_of(base))
    field.setFocus()
    field.setSelectedSection(QDateTimeEdit.Section.MinuteSection)
    qtbot.keyClick(field, Qt.Key.Key_Up)
    assert field.time().toString("HH:mm") == "09:05"
    qtbot.keyClick(field, Qt.Key.Key_Up)
    qtbot.keyClick(field, Qt.Key.Key_Down)
    assert field.time().toString("HH:mm") == "09:05"
    # typed minutes off the step are rounded when the field is left
    field.setSelectedSection(QDateTimeEdit.Section.MinuteSection)
    qtbot.keyClicks(field, "38")
    assert field.time().toString("HH:mm") == "09:38"
    qtbot.keyClick(field, Qt.Key.Key_Return)  # Enter moves on, like Tab
    assert field.time().toString("HH:mm") == "09:40"
    submit_ok(qtbot, form)
    clinic = window.session.clinic
    (booked,) = [a for a in clinic.queries.schedule(base.date()) if a.status == "booked"]
    assert booked.start.endswith(":00") and booked.start[11:16] == "09:40"


def test_a_booking_in_the_past_is_confirmed_first(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, form = _booking(qtbot, controller, seeded)
    _pick_clinician_by_typing(qtbot, form)
    earlier = _at(window.session.now() - timedelta(hours=2))
    fill(form, start=earlier.isoformat())
    form.submit()
    question = form.past_question
    assert question is not None and question.isVisible()
    assert "is in the past" in question.text() and earlier.strftime("%H:%M") in question.text()
    question.button(QMessageBox.StandardButton.No).click()
    assert form.past_question is None and form.last_changes is None and form.isVisible()
    form.submit()
    question = form.past_question
    assert question is not None
    yes = question.button(QMessageBox.StandardButton.Yes)
    assert yes.text() == "Book in the past"
    yes.click()
    qtbot.waitUntil(lambda: form.last_changes is not None, timeout=TIMEOUT)
    overdue = window.schedule.overdue_table
    qtbot.waitUntil(lambda: overdue.rowCount() == 1, timeout=TIMEOUT)


@pytest.mark.parametrize("week", [False, True])
def test_a_booking_on_another_day_says_where_it_went(
    qtbot: QtBot, controller: AppController, seeded: Backend, week: bool
) -> None:
    register_patient(seeded)
    window = _schedule(qtbot, controller, STAFF, STAFF_PASS)
    schedule = window.schedule
    schedule.week_mode.setChecked(week)
    qtbot.waitUntil(lambda: schedule.loads_done > 1 or not week, timeout=TIMEOUT)
    form = _book_form(qtbot, schedule)
    _pick_clinician_by_typing(qtbot, form)
    later = _at(window.session.now() + timedelta(days=3)).replace(hour=10, minute=0)
    fill(form, start=later.isoformat())
    submit_ok(qtbot, form)
    if week:  # three days on is in the week shown: it simply appears there
        day = schedule.day_table
        qtbot.waitUntil(lambda: len(schedule.rows[id(day)]) == 1, timeout=TIMEOUT)
        assert schedule.notice.isHidden()
        return
    assert not schedule.notice.isHidden()
    said = schedule.notice.label.text()
    assert said == f"Booked {weekday_day(later.date())} at 10:00 — not on the day shown."
    assert schedule.show_day_button.text() == f"Show {weekday_day_short(later.date())}"
    schedule.show_day_button.click()
    assert schedule.shown_days() == (later.date(), later.date())
    qtbot.waitUntil(lambda: schedule.day_table.rowCount() == 1, timeout=TIMEOUT)
    assert schedule.notice.isHidden()


def test_a_no_show_stays_on_the_missed_list_until_booked_again(
    qtbot: QtBot, controller: AppController, seeded: Backend, clock: SettableClock
) -> None:
    patient_id = register_patient(seeded)
    clinic = seeded.unlock(STAFF, STAFF_PASS)
    try:
        start = clock.now - timedelta(hours=1)
        command = c.ScheduleFollowUp(
            patient_id=patient_id, clinician=CLINICIAN, start=start.isoformat(timespec="seconds")
        )
        clinic.commands.execute(command, clinic.vault.actor)
    finally:
        clinic.close()
    window = _schedule(qtbot, controller, STAFF, STAFF_PASS)
    schedule = window.schedule
    overdue, missed = schedule.overdue_table, schedule.missed_table
    qtbot.waitUntil(lambda: overdue.rowCount() == 1, timeout=TIMEOUT)
    assert missed.rowCount() == 0 and schedule.side.tabText(2) == "Missed (0)"
    overdue.selectRow(0)
    schedule.no_show_button.click()
    assert schedule.last_form is not None
    submit_ok(qtbot, schedule.last_form)
    qtbot.waitUntil(lambda: missed.rowCount() == 1, timeout=TIMEOUT)
    assert overdue.rowCount() == 0 and schedule.side.tabText(2) == "Missed (1)"
    assert cell(missed, 0, 1) == "Otieno, Juma"
    # from the missed list, Book books that patient again
    schedule.side.setCurrentIndex(2)
    missed.selectRow(0)
    assert "missed" in schedule.selection_label.text()
    schedule.last_form = None
    schedule.book_button.click()
    qtbot.waitUntil(lambda: schedule.last_form is not None, timeout=TIMEOUT)
    form = schedule.last_form
    assert isinstance(form, BookFollowUpDialog) and form.picker is None
    assert form.patient is not None and form.patient.patient_id == patient_id
    _pick_clinician_by_typing(qtbot, form)
    fill(form, start=_at(clock.now + timedelta(days=1)).isoformat())
    submit_ok(qtbot, form)
    qtbot.waitUntil(lambda: missed.rowCount() == 0, timeout=TIMEOUT)
    assert schedule.side.tabText(2) == "Missed (0)"


def test_the_actions_stay_in_reach_at_910_by_512(
    qtbot: QtBot, controller: AppController, seeded: Backend, tmp_path: Path
) -> None:
    window = _schedule(qtbot, controller, STAFF, STAFF_PASS)
    window.resize(910, 512)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(100)
    QApplication.processEvents()
    assert window.size().toTuple() == (910, 512)
    schedule = window.schedule
    frame = QRect(QPoint(0, 0), window.size())
    for button in (
        schedule.book_button,
        schedule.move_button,
        schedule.cancel_button,
        schedule.attended_button,
        schedule.no_show_button,
        schedule.open_button,
    ):
        assert button.isVisible(), button.text()
        corner = button.mapTo(window, QPoint(0, 0))
        place = QRect(corner, button.size())
        assert frame.contains(place), (button.text(), place.getRect())
        assert button.width() >= button.sizeHint().width(), button.text()  # not squeezed
    image = window.grab().toImage()
    assert image.save(str(tmp_path / "schedule-910x512.png"))
    if out := os.environ.get("FIELDCHART_SCREENSHOT_DIR"):
        image.save(str(Path(out) / "schedule-910x512.png"))
