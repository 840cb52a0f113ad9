"""Front desk books follow-ups, sees a day's list and what is overdue; a clinician is never
double-booked, and moving an appointment within its own slot is fine."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain import commands as c
from app.domain.errors import DoubleBookingError
from app.services.clinic import Clinic
from tests.clinic_fixtures import DESK, DOC, FakeClock, add_clinician, register


def book(
    clinic: Clinic,
    pid: str,
    appointment_id: str,
    start: str,
    clinician: str = "doc",
    minutes: int = 15,
) -> None:
    clinic.commands.execute(
        c.ScheduleFollowUp(
            patient_id=pid,
            appointment_id=appointment_id,
            clinician=clinician,
            start=start,
            duration_minutes=minutes,
        ),
        DESK,
    )


@pytest.fixture
def patients(clinic: Clinic) -> tuple[str, str]:
    return register(clinic, patient_id="pat-a"), register(
        clinic, patient_id="pat-b", given="Baraka", family="Mwakyusa"
    )


def test_a_days_list_in_time_order_with_patient_names(
    clinic: Clinic, patients: tuple[str, str]
) -> None:
    a, b = patients
    book(clinic, a, "ap-2", "2026-11-24T11:00:00+03:00")
    book(clinic, b, "ap-1", "2026-11-24T09:00:00+03:00")
    book(clinic, a, "ap-3", "2026-11-25T09:00:00+03:00")
    day = clinic.queries.schedule(date(2026, 11, 24))
    assert [(a.appointment_id, a.patient_name, a.status) for a in day] == [
        ("ap-1", "Mwakyusa, Baraka", "booked"),
        ("ap-2", "Ødegård, Amina", "booked"),
    ]
    assert day[0].end_utc == "2026-11-24T06:15:00+00:00"
    two_days = clinic.queries.schedule(date(2026, 11, 24), days=2)
    assert [a.appointment_id for a in two_days] == ["ap-1", "ap-2", "ap-3"]


def test_the_day_is_the_bookings_own_local_day(clinic: Clinic, patients: tuple[str, str]) -> None:
    # 00:30 on the 25th in +03:00 is still the 24th in UTC; the clinic sees it on the 25th.
    book(clinic, patients[0], "ap-1", "2026-11-25T00:30:00+03:00")
    assert clinic.queries.schedule(date(2026, 11, 24)) == []
    assert [a.appointment_id for a in clinic.queries.schedule(date(2026, 11, 25))] == ["ap-1"]


def test_overdue_follow_ups_are_booked_ones_whose_time_passed(
    clinic: Clinic, clock: FakeClock, patients: tuple[str, str]
) -> None:
    a, b = patients
    book(clinic, a, "ap-early", "2026-11-21T10:00:00Z")
    book(clinic, b, "ap-late", "2026-11-21T11:00:00Z")
    book(clinic, a, "ap-gone", "2026-11-21T10:30:00Z")
    clinic.commands.execute(c.CancelAppointment(patient_id=a, appointment_id="ap-gone"), DESK)
    assert clinic.queries.overdue_followups() == []
    assert [a.appointment_id for a in clinic.queries.due_today()] == ["ap-early", "ap-late"]
    clock.advance(hours=3)  # 12:00
    assert [a.appointment_id for a in clinic.queries.overdue_followups()] == [
        "ap-early",
        "ap-late",
    ]
    clinic.commands.execute(c.MarkAttended(patient_id=a, appointment_id="ap-early"), DESK)
    clinic.commands.execute(c.MarkNoShow(patient_id=b, appointment_id="ap-late"), DESK)
    assert clinic.queries.overdue_followups() == []
    statuses = {a.appointment_id: a.status for a in clinic.queries.schedule(date(2026, 11, 21))}
    assert statuses == {"ap-early": "fulfilled", "ap-late": "noshow", "ap-gone": "cancelled"}
    assert clinic.queries.due_today() == []


def test_double_booking_is_refused_but_adjacent_slots_are_fine(
    clinic: Clinic, patients: tuple[str, str]
) -> None:
    a, b = patients
    book(clinic, a, "ap-1", "2026-11-24T09:00:00Z", minutes=30)
    with pytest.raises(DoubleBookingError) as info:
        book(clinic, b, "ap-2", "2026-11-24T09:29:00Z")
    assert info.value.appointment_id == "ap-1"
    assert info.value.message == "doc already has an appointment at that time; choose another slot"
    book(clinic, b, "ap-2", "2026-11-24T09:30:00Z")  # starts as ap-1 ends
    book(clinic, b, "ap-3", "2026-11-24T08:45:00Z")  # ends as ap-1 starts
    add_clinician(clinic, "nurse")
    book(clinic, b, "ap-4", "2026-11-24T09:00:00Z", clinician="nurse")


def test_rescheduling_into_the_own_slot_is_allowed(
    clinic: Clinic, patients: tuple[str, str]
) -> None:
    a, b = patients
    book(clinic, a, "ap-1", "2026-11-24T09:00:00Z", minutes=30)
    book(clinic, b, "ap-2", "2026-11-24T09:30:00Z")
    move = c.RescheduleAppointment(
        patient_id=a,
        appointment_id="ap-1",
        start="2026-11-24T08:50:00Z",
        expected_start="2026-11-24T09:00:00+00:00",
    )
    clinic.commands.execute(move, DESK)
    (moved, _) = clinic.queries.schedule(date(2026, 11, 24))
    assert (moved.start, moved.end_utc) == (
        "2026-11-24T08:50:00+00:00",
        "2026-11-24T09:20:00+00:00",
    )
    into_other = c.RescheduleAppointment(
        patient_id=a, appointment_id="ap-1", start="2026-11-24T09:10:00Z"
    )
    with pytest.raises(DoubleBookingError):
        clinic.commands.execute(into_other, DESK)


def test_a_cancelled_or_retracted_slot_can_be_booked_again(
    clinic: Clinic, patients: tuple[str, str]
) -> None:
    a, b = patients
    book(clinic, a, "ap-1", "2026-11-24T09:00:00Z")
    book(clinic, a, "ap-2", "2026-11-24T10:00:00Z")
    clinic.commands.execute(c.CancelAppointment(patient_id=a, appointment_id="ap-1"), DESK)
    clinic.commands.execute(
        c.MarkEnteredInError(patient_id=a, item_id="ap-2", reason="wrong patient"), DESK
    )
    book(clinic, b, "ap-3", "2026-11-24T09:00:00Z")
    book(clinic, b, "ap-4", "2026-11-24T10:00:00Z")
    statuses = [(x.appointment_id, x.status) for x in clinic.queries.schedule(date(2026, 11, 24))]
    assert statuses == [
        ("ap-1", "cancelled"),
        ("ap-3", "booked"),
        ("ap-2", "entered-in-error"),
        ("ap-4", "booked"),
    ]


def test_clinicians_may_schedule_too(clinic: Clinic, patients: tuple[str, str]) -> None:
    clinic.commands.execute(
        c.ScheduleFollowUp(patient_id=patients[0], clinician="doc", start="2026-11-30T09:00:00Z"),
        DOC,
    )
    assert len(clinic.queries.schedule(date(2026, 11, 30))) == 1
