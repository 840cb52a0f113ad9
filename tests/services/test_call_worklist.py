"""The follow-up worklist: a patient with a missed or overdue appointment is listed with their
phone, attempts and next call date until a call ends the follow-up, a new booking, or a
removal (a later missed appointment brings them back); the monthly "returned within 30 days
of a call" figure by outcome. Constructed data, hand-moved clock (starts 2026-11-21 09:00Z)."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.errors import ValidationError
from app.services.clinic import Clinic
from tests.clinic_fixtures import DESK, DOC, FakeClock, register, snapshot


def book(clinic: Clinic, pid: str, appointment_id: str, start: str) -> None:
    clinic.commands.execute(
        c.ScheduleFollowUp(
            patient_id=pid, appointment_id=appointment_id, clinician="doc", start=start
        ),
        DESK,
    )


def call(clinic: Clinic, pid: str, outcome: str, **more: object) -> None:
    clinic.commands.execute(c.RecordCallAttempt(patient_id=pid, outcome=outcome, **more), DESK)  # type: ignore[arg-type]


def listed(clinic: Clinic) -> dict[str, tuple[object, ...]]:
    return {
        r.patient_name: (r.missed, r.attempts, r.last_outcome, r.next_call_on, r.due)
        for r in clinic.queries.call_worklist()
    }


def test_a_missed_patient_stays_listed_until_a_call_ends_the_follow_up(
    clinic: Clinic, clock: FakeClock
) -> None:
    pid = register(clinic, given="Amina", family="Otieno", phone="+254 712 480 316")
    book(clinic, pid, "ap-1", "2026-11-24T09:00:00Z")
    assert listed(clinic) == {}  # not yet due
    clock.advance(days=4)  # 2026-11-25
    assert listed(clinic) == {"Otieno, Amina": ("overdue", 0, None, None, True)}
    clinic.commands.execute(c.MarkNoShow(patient_id=pid, appointment_id="ap-1"), DESK)
    (row,) = clinic.queries.call_worklist()
    assert (row.phone, row.appointment_id, row.missed) == ("+254 712 480 316", "ap-1", "missed")
    call(clinic, pid, "no-answer", appointment_id="ap-1", next_call_on="2026-11-27")
    assert listed(clinic) == {"Otieno, Amina": ("missed", 1, "no-answer", "2026-11-27", False)}
    clock.advance(days=2)
    assert listed(clinic)["Otieno, Amina"][-1] is True  # the next call date has come
    call(clinic, pid, "refused", note="feels well")
    assert listed(clinic) == {}
    assert clinic.queries.search_patients("Otieno")  # still findable
    assert [x.outcome for x in clinic.queries.calls_of(pid)] == ["no-answer", "refused"]


def test_a_new_booking_or_a_removal_takes_them_off_and_a_later_miss_brings_them_back(
    clinic: Clinic, clock: FakeClock
) -> None:
    booked = register(clinic, given="Baraka", family="Mwangi")
    removed = register(clinic, given="Chausiku", family="Njeri")
    book(clinic, booked, "ap-b1", "2026-11-22T09:00:00Z")
    book(clinic, removed, "ap-c1", "2026-11-22T10:00:00Z")
    clock.advance(days=2)  # 2026-11-23
    call(clinic, booked, "agreed-to-come")
    assert listed(clinic)["Mwangi, Baraka"] == ("overdue", 1, "agreed-to-come", None, False)
    book(clinic, booked, "ap-b2", "2026-11-26T09:00:00Z")
    clinic.commands.execute(c.RemoveFromWorklist(patient_id=removed, reason="Travelling"), DESK)
    assert set(listed(clinic)) == {"Mwangi, Baraka"}  # ap-b1 is still overdue, not rebooked
    clinic.commands.execute(c.MarkAttended(patient_id=booked, appointment_id="ap-b1"), DESK)
    book(clinic, removed, "ap-c2", "2026-11-25T10:00:00Z")
    assert listed(clinic) == {}
    clock.advance(days=3)  # 2026-11-26 09:00: ap-c2 missed after the removal
    clinic.commands.execute(c.MarkNoShow(patient_id=removed, appointment_id="ap-c2"), DESK)
    assert set(listed(clinic)) == {"Njeri, Chausiku", "Mwangi, Baraka"} or set(listed(clinic)) == {
        "Njeri, Chausiku"
    }
    assert listed(clinic)["Njeri, Chausiku"] == ("missed", 0, None, None, True)


@pytest.mark.parametrize(
    ("outcome", "more", "field"),
    [
        ("busy", {}, "outcome"),
        ("remind-later", {}, "next_call_on"),
        ("no-answer", {"next_call_on": "2026-11-20"}, "next_call_on"),
        ("moved", {"next_call_on": "2026-11-30"}, "next_call_on"),
        (
            "no-answer",
            {"next_call_on": "2026-11-30", "called_at": "2026-11-22T09:00:00Z"},
            "called_at",
        ),
    ],
)
def test_bad_input_names_the_field_and_records_nothing(
    clinic: Clinic, outcome: str, more: dict[str, object], field: str
) -> None:
    pid = register(clinic)
    before = snapshot(clinic)
    with pytest.raises(ValidationError) as info:
        call(clinic, pid, outcome, **more)
    assert info.value.field == field
    assert snapshot(clinic) == before


def test_returned_within_30_days_by_outcome(clinic: Clinic, clock: FakeClock) -> None:
    clock.now = clock.now.replace(year=2026, month=12, day=20)
    came = register(clinic, given="A", family="Came")
    late = register(clinic, given="B", family="Late")
    never = register(clinic, given="C", family="Never")
    october = register(clinic, given="D", family="October")
    call(clinic, came, "agreed-to-come", called_at="2026-11-02T08:00:00Z")
    call(clinic, late, "agreed-to-come", called_at="2026-11-03T08:00:00Z")
    call(clinic, never, "no-answer", called_at="2026-11-30T23:00:00Z", next_call_on="2026-12-21")
    call(
        clinic, october, "remind-later", called_at="2026-10-31T23:00:00Z", next_call_on="2026-12-21"
    )
    clinic.commands.execute(c.RemoveFromWorklist(patient_id=never, reason="x"), DESK)
    for pid, started in ((came, "2026-11-30T09:00:00Z"), (late, "2026-12-04T09:00:00Z")):
        encounter = f"enc-{pid[:8]}"
        clinic.commands.execute(
            c.StartEncounter(patient_id=pid, encounter_id=encounter, started_at=started), DOC
        )
        clinic.commands.execute(c.FinishEncounter(patient_id=pid, encounter_id=encounter), DOC)
    figures = {f.outcome: (f.calls, f.returned) for f in clinic.queries.calls_returned("2026-11")}
    assert figures["agreed-to-come"] == (2, 1)  # the late one came after 31 days
    assert figures["no-answer"] == (1, 0)
    assert figures["remind-later"] == (0, 0)  # October's call is not November's
    assert sum(calls for calls, _ in figures.values()) == 3  # the removal is not a call
    october_figures = {f.outcome: f.share for f in clinic.queries.calls_returned("2026-10")}
    assert october_figures["remind-later"] == 0.0 and october_figures["died"] is None
