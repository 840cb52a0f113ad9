"""A follow-up is booked with one of the device's clinicians (an unknown name is refused where
the device can know), and a no-show stays on the "missed" list until the patient has a later
appointment."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.domain import commands as c
from app.domain.errors import ValidationError
from app.services.clinic import Clinic
from tests.clinic_fixtures import DESK, FakeClock, add_clinician, register
from tests.domain.builders import PID, accept, context, refuse


def book(clinic: Clinic, pid: str, appointment_id: str, start: str, clinician: str = "doc") -> None:
    clinic.commands.execute(
        c.ScheduleFollowUp(
            patient_id=pid, appointment_id=appointment_id, clinician=clinician, start=start
        ),
        DESK,
    )


def test_the_clinicians_are_the_devices_active_clinician_users(clinic: Clinic) -> None:
    assert clinic.queries.clinicians() == ["doc"]  # not the admin, not the front desk
    add_clinician(clinic, "amani")
    assert clinic.queries.clinicians() == ["amani", "doc"]
    clinic.vault.disable_user("amani")
    assert clinic.queries.clinicians() == ["doc"]


def test_a_booking_with_someone_who_is_not_a_clinician_here_is_refused(clinic: Clinic) -> None:
    pid = register(clinic)
    for name in ("Dr Amani", "desk", "Doc"):
        with pytest.raises(ValidationError) as info:
            book(clinic, pid, "ap-1", "2026-11-24T09:00:00Z", clinician=name)
        assert info.value.field == "clinician"
        assert info.value.message == f"{name} is not a clinician on this device; choose one of: doc"
    book(clinic, pid, "ap-1", "2026-11-24T09:00:00Z")
    assert [a.clinician for a in clinic.queries.missed_followups()] == []


def test_the_domain_checks_the_name_only_when_the_device_knows_its_clinicians() -> None:
    command = c.ScheduleFollowUp(
        patient_id=PID, clinician="Dr Amani", start="2026-11-28T10:00:00+03:00"
    )
    assert accept(command).events  # no lookup: nothing to check against
    known = replace(context(), clinicians=lambda: frozenset({"doc"}))
    assert refuse(command, ctx=known, error=ValidationError).field == "clinician"
    assert accept(replace(command, clinician="doc"), ctx=known).events


def test_a_no_show_stays_missed_until_the_patient_is_booked_again(
    clinic: Clinic, clock: FakeClock
) -> None:
    a = register(clinic)
    b = register(clinic, given="Baraka", family="Mwakyusa")
    book(clinic, a, "ap-1", "2026-11-20T10:00:00Z")  # the clock is 2026-11-21T09:00Z
    book(clinic, b, "ap-2", "2026-11-21T08:00:00Z")
    book(clinic, b, "ap-3", "2026-11-21T08:30:00Z")
    for pid, appointment in ((a, "ap-1"), (b, "ap-2")):
        clinic.commands.execute(c.MarkNoShow(patient_id=pid, appointment_id=appointment), DESK)
    clinic.commands.execute(c.MarkAttended(patient_id=b, appointment_id="ap-3"), DESK)
    # b came half an hour later (attended): followed up. a did not.
    assert [x.appointment_id for x in clinic.queries.missed_followups()] == ["ap-1"]

    book(clinic, a, "ap-4", "2026-11-25T09:00:00Z")
    clinic.commands.execute(c.CancelAppointment(patient_id=a, appointment_id="ap-4"), DESK)
    # a cancelled re-booking is no follow-up
    missed = clinic.queries.missed_followups()
    assert [(x.appointment_id, x.patient_name, x.status) for x in missed] == [
        ("ap-1", "Ødegård, Amina", "noshow")
    ]
    book(clinic, a, "ap-5", "2026-11-26T09:00:00Z")
    assert clinic.queries.missed_followups() == []


def test_missed_is_most_recent_first(clinic: Clinic) -> None:
    a = register(clinic)
    b = register(clinic, given="Baraka", family="Mwakyusa")
    book(clinic, a, "ap-1", "2026-11-20T10:00:00Z")
    book(clinic, b, "ap-2", "2026-11-21T08:00:00Z")
    for pid, appointment in ((a, "ap-1"), (b, "ap-2")):
        clinic.commands.execute(c.MarkNoShow(patient_id=pid, appointment_id=appointment), DESK)
    assert [x.appointment_id for x in clinic.queries.missed_followups()] == ["ap-2", "ap-1"]
