"""Booking, moving, cancelling follow-ups and marking attendance; and retracting any recorded
item as entered in error."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.domain import commands as c
from app.domain.chart import PatientChart
from app.domain.errors import (
    AlreadyDoneError,
    DoubleBookingError,
    NotFoundError,
    PreconditionError,
    RoleError,
    ValidationError,
)
from app.domain.events import (
    AppointmentAttended,
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
    AppointmentScheduled,
    EnteredInError,
)
from tests.clinic_fixtures import DESK
from tests.domain.builders import PID, accept, chart_after, context, refuse

NEXT_WEEK = "2026-11-28T10:00:00+03:00"
THIS_MORNING = "2026-11-21T08:00:00Z"


def book(appointment_id: str = "ap-1", start: str = NEXT_WEEK, **kw: object) -> c.ScheduleFollowUp:
    return c.ScheduleFollowUp(
        patient_id=PID,
        appointment_id=appointment_id,
        clinician="doc",
        start=start,
        **kw,  # type: ignore[arg-type]
    )


def booked(*more: c.Command) -> PatientChart:
    return chart_after(book(), *more)


def test_booking_records_start_and_end_with_the_offset_given() -> None:
    (event,) = accept(book(duration_minutes=30, reason="BP review")).events
    assert event == AppointmentScheduled(
        appointment_id="ap-1",
        clinician="doc",
        start="2026-11-28T10:00:00+03:00",
        end="2026-11-28T10:30:00+03:00",
        reason="BP review",
    )


@pytest.mark.parametrize("minutes", [4, 481, True])
def test_duration_must_be_5_to_480_minutes(minutes: object) -> None:
    err = refuse(book(duration_minutes=minutes), error=ValidationError)
    assert (err.message, err.field) == (
        "Duration must be a whole number of minutes from 5 to 480",
        "duration_minutes",
    )


def test_booking_needs_a_clinician_and_a_proper_start() -> None:
    err = refuse(
        c.ScheduleFollowUp(patient_id=PID, clinician=" ", start=NEXT_WEEK), error=ValidationError
    )
    assert (err.message, err.field) == ("Clinician is required", "clinician")
    err = refuse(book(start="next Tuesday"), error=ValidationError)
    assert (err.message, err.field) == (
        "Start must be a date and time like 2026-11-21T09:30:00+01:00",
        "start",
    )


def test_booking_more_than_a_day_in_the_past_is_refused() -> None:
    assert accept(book(start="2026-11-20T09:00:00Z")).events  # exactly one day ago: a late entry
    err = refuse(book(start="2026-11-20T08:59:00Z"), error=ValidationError)
    assert (err.message, err.field) == ("A follow-up cannot be booked in the past", "start")


def test_double_booking_the_clinician_is_refused() -> None:
    seen: list[tuple[str, datetime, datetime, str | None]] = []

    def clash(clinician: str, start: datetime, end: datetime, ignore: str | None) -> str | None:
        seen.append((clinician, start, end, ignore))
        return "ap-other"

    err = refuse(book(), ctx=context(clash=clash), error=DoubleBookingError)
    assert isinstance(err, DoubleBookingError)
    assert err.message == "doc already has an appointment at that time; choose another slot"
    assert (err.field, err.appointment_id) == ("start", "ap-other")
    ((clinician, start, end, ignore),) = seen
    assert (clinician, ignore) == ("doc", None)
    assert (end - start).total_seconds() == 15 * 60


def test_rescheduling_ignores_the_appointments_own_slot() -> None:
    ignored: list[str | None] = []

    def clash(clinician: str, start: datetime, end: datetime, ignore: str | None) -> str | None:
        ignored.append(ignore)
        return None

    move = c.RescheduleAppointment(
        patient_id=PID, appointment_id="ap-1", start="2026-11-28T10:10:00+03:00"
    )
    (event,) = accept(move, booked(), ctx=context(clash=clash)).events
    assert event == AppointmentRescheduled(
        appointment_id="ap-1",
        start="2026-11-28T10:10:00+03:00",
        end="2026-11-28T10:25:00+03:00",
        previous_start="2026-11-28T10:00:00+03:00",
    )
    assert ignored == ["ap-1"]


def test_rescheduling_can_change_the_duration_only() -> None:
    move = c.RescheduleAppointment(
        patient_id=PID, appointment_id="ap-1", start=NEXT_WEEK, duration_minutes=45
    )
    (event,) = accept(move, booked()).events
    assert isinstance(event, AppointmentRescheduled)
    assert event.end == "2026-11-28T10:45:00+03:00"


def test_rescheduling_to_the_same_time_is_refused() -> None:
    same = c.RescheduleAppointment(
        patient_id=PID,
        appointment_id="ap-1",
        start="2026-11-28T07:00:00Z",  # == 10:00+03:00
    )
    err = refuse(same, booked(), error=AlreadyDoneError)
    assert (err.message, err.field) == ("The appointment is already at that time", "start")


def test_rescheduling_refused_when_someone_else_moved_it() -> None:
    chart = booked(
        c.RescheduleAppointment(patient_id=PID, appointment_id="ap-1", start="2026-11-29T10:00:00Z")
    )
    stale = c.RescheduleAppointment(
        patient_id=PID,
        appointment_id="ap-1",
        start="2026-11-30T10:00:00Z",
        expected_start=NEXT_WEEK,
    )
    err = refuse(stale, chart, error=PreconditionError)
    assert isinstance(err, PreconditionError)
    assert (err.message, err.field) == ("This appointment was moved by someone else", "start")
    assert (err.expected, err.actual) == (NEXT_WEEK, "2026-11-29T10:00:00+00:00")


def test_expected_start_in_another_offset_is_the_same_instant() -> None:
    move = c.RescheduleAppointment(
        patient_id=PID,
        appointment_id="ap-1",
        start="2026-11-30T10:00:00Z",
        expected_start="2026-11-28T07:00:00Z",
    )
    assert accept(move, booked()).events


def test_cancel_attend_and_no_show() -> None:
    cancel = c.CancelAppointment(patient_id=PID, appointment_id="ap-1", reason="travelling")
    assert accept(cancel, booked()).events == [
        AppointmentCancelled(appointment_id="ap-1", reason="travelling")
    ]
    this_morning = chart_after(book("ap-2", start=THIS_MORNING))
    attend = c.MarkAttended(patient_id=PID, appointment_id="ap-2")
    assert accept(attend, this_morning).events == [AppointmentAttended(appointment_id="ap-2")]
    no_show = c.MarkNoShow(patient_id=PID, appointment_id="ap-2")
    assert accept(no_show, this_morning).events == [AppointmentMissed(appointment_id="ap-2")]


def test_attended_from_the_appointments_own_day_on() -> None:
    err = refuse(
        c.MarkAttended(patient_id=PID, appointment_id="ap-1"), booked(), error=ValidationError
    )
    assert (err.message, err.field) == (
        "This appointment is on 2026-11-28; it can be marked attended from that day on",
        "appointment_id",
    )
    # Later the same day (in the booking's own offset) is fine: the patient came early.
    later_today = chart_after(book("ap-2", start="2026-11-21T23:30:00+03:00"))
    attend = c.MarkAttended(patient_id=PID, appointment_id="ap-2")
    assert accept(attend, later_today).events == [AppointmentAttended(appointment_id="ap-2")]


def test_an_appointment_cannot_be_moved_into_the_past() -> None:
    move = c.RescheduleAppointment(
        patient_id=PID, appointment_id="ap-1", start="2026-11-01T09:00:00Z"
    )
    err = refuse(move, booked(), error=ValidationError)
    assert (err.message, err.field) == ("An appointment cannot be moved into the past", "start")


def test_no_show_only_once_the_appointment_has_started() -> None:
    err = refuse(
        c.MarkNoShow(patient_id=PID, appointment_id="ap-1"), booked(), error=ValidationError
    )
    assert (err.message, err.field) == (
        "A patient cannot miss an appointment that has not started yet",
        "appointment_id",
    )


CLOSE_AGAIN = {
    "cancelled": c.CancelAppointment(patient_id=PID, appointment_id="ap-1"),
    "fulfilled": c.MarkAttended(patient_id=PID, appointment_id="ap-1"),
    "noshow": c.MarkNoShow(patient_id=PID, appointment_id="ap-1"),
}


@pytest.mark.parametrize("status", ["cancelled", "fulfilled"])
def test_a_closed_appointment_cannot_be_moved_or_closed_again(status: str) -> None:
    chart = chart_after(book(start=THIS_MORNING), CLOSE_AGAIN[status])
    move = c.RescheduleAppointment(
        patient_id=PID, appointment_id="ap-1", start="2026-12-01T09:00:00Z"
    )
    for again in (*CLOSE_AGAIN.values(), move):
        # Repeating the same close is "already done" (sync treats it as converged).
        same = again is CLOSE_AGAIN[status]
        err = refuse(again, chart, error=ValidationError)
        assert isinstance(err, AlreadyDoneError) == same
        assert (err.message, err.field) == (
            f"This appointment is already {status}",
            "appointment_id",
        )


def test_unknown_appointment() -> None:
    err = refuse(c.CancelAppointment(patient_id=PID, appointment_id="ap-9"), error=NotFoundError)
    assert (err.message, err.field) == (
        "No appointment with this id on the patient's chart",
        "appointment_id",
    )


def test_scheduling_for_an_unknown_patient() -> None:
    err = refuse(book(), chart=None, error=NotFoundError)
    assert err.field == "patient_id"


# -- entered in error ----------------------------------------------------------------------


def test_any_item_can_be_marked_entered_in_error_with_a_reason() -> None:
    chart = chart_after(c.RecordVitals(patient_id=PID, vitals_id="v-1", heart_rate=70))
    mark = c.MarkEnteredInError(patient_id=PID, item_id="v-1", reason=" wrong patient ")
    assert accept(mark, chart).events == [
        EnteredInError(item_id="v-1", item_kind="vitals", reason="wrong patient")
    ]


def test_entered_in_error_refusals() -> None:
    chart = chart_after(c.AddNote(patient_id=PID, note_id="n-1", text="x"))
    err = refuse(
        c.MarkEnteredInError(patient_id=PID, item_id="n-9", reason="x"), chart, error=NotFoundError
    )
    assert (err.message, err.field) == ("No item with this id on the patient's chart", "item_id")
    err = refuse(
        c.MarkEnteredInError(patient_id=PID, item_id="n-1", reason=""), chart, error=ValidationError
    )
    assert (err.message, err.field) == ("Reason is required", "reason")
    twice = chart_after(
        c.AddNote(patient_id=PID, note_id="n-1", text="x"),
        c.MarkEnteredInError(patient_id=PID, item_id="n-1", reason="typo"),
    )
    err = refuse(
        c.MarkEnteredInError(patient_id=PID, item_id="n-1", reason="x"),
        twice,
        error=AlreadyDoneError,
    )
    assert (err.message, err.field) == (
        "This item is already marked as entered in error",
        "item_id",
    )


def test_staff_may_retract_appointments_but_not_clinical_items() -> None:
    chart = chart_after(book(), c.AddNote(patient_id=PID, note_id="n-1", text="x"))
    as_staff = context(actor=DESK)
    retract = c.MarkEnteredInError(
        patient_id=PID, item_id="ap-1", reason="booked for wrong patient"
    )
    assert accept(retract, chart, ctx=as_staff).events
    err = refuse(
        c.MarkEnteredInError(patient_id=PID, item_id="n-1", reason="x"),
        chart,
        ctx=as_staff,
        error=RoleError,
    )
    assert (err.message, err.field) == (
        "Only a clinician may mark clinical items as entered in error",
        "item_id",
    )
