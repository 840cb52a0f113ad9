"""The audit shows who did what and who viewed which chart, when; and a chart can be read as it
was known at any past instant (replayed from the log)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from app.domain import commands as c
from app.domain.errors import NotFoundError
from app.services.clinic import Clinic
from tests.clinic_fixtures import DESK, DOC, NOW, FakeClock, register

T1, T2, T3 = NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2)


def test_audit_records_each_command_with_who_and_when(clinic: Clinic, clock: FakeClock) -> None:
    pid = register(clinic)
    clock.advance(minutes=5)
    note = clinic.commands.execute(c.AddNote(patient_id=pid, text="seen"), DOC)
    # The fixture's vault also audits its users being added (admin actions): left out here.
    newest, oldest = [e for e in clinic.queries.audit() if e.patient_id]
    assert (oldest.action, oldest.user, oldest.role, oldest.patient_id) == (
        "PatientRegistered",
        "desk",
        "staff",
        pid,
    )
    assert (newest.action, newest.user, newest.role) == ("NoteAdded", "doc", "clinician")
    assert newest.at == "2026-11-21T09:05:00.000+00:00"
    assert newest.command_id == note.command_id
    assert newest.device_id == clinic.vault.device_id


def test_audit_records_who_viewed_which_chart(clinic: Clinic, clock: FakeClock) -> None:
    first, second = register(clinic), register(clinic, given="Baraka")
    clock.advance(minutes=1)
    clinic.queries.chart(first, DOC)
    clinic.queries.chart(second, DESK)
    clinic.queries.chart(first, DOC, record_view=False)  # e.g. a background refresh
    views = [e for e in clinic.queries.audit() if e.action == "ChartViewed"]
    assert [(v.user, v.patient_id, v.at) for v in views] == [
        ("desk", second, "2026-11-21T09:01:00.000+00:00"),
        ("doc", first, "2026-11-21T09:01:00.000+00:00"),
    ]


def test_audit_filters_by_patient_and_user(clinic: Clinic) -> None:
    first, second = register(clinic), register(clinic, given="Baraka")
    clinic.commands.execute(c.AddNote(patient_id=first, text="x"), DOC)
    clinic.queries.chart(second, DOC)
    assert {e.patient_id for e in clinic.queries.audit(patient_id=second)} == {second}
    assert [e.action for e in clinic.queries.audit(user="doc")] == ["ChartViewed", "NoteAdded"]
    assert len(clinic.queries.audit(limit=1)) == 1


def test_viewing_a_chart_changes_no_chart(clinic: Clinic) -> None:
    pid = register(clinic)
    before = clinic.queries.chart(pid, DOC)
    after = clinic.queries.chart(pid, DOC)
    assert after == before
    assert clinic.queries.sync_overview().pending == 1  # views are not sent as chart changes


@pytest.fixture
def three_moments(clinic: Clinic, clock: FakeClock) -> str:
    """t1: registered with vitals; t2: diagnosis and a new phone; t3: allergy, and the t1
    vitals retracted."""
    pid = register(clinic, patient_id="pat-1")
    clinic.commands.execute(c.RecordVitals(patient_id=pid, vitals_id="v-1", heart_rate=88), DOC)
    clock.now = T2
    clinic.commands.execute(c.RecordDiagnosis(patient_id=pid, diagnosis_id="dx-1", code="I10"), DOC)
    clinic.commands.execute(
        c.UpdateDemographics(
            patient_id=pid, changes={"phone": c.FieldChange("0766 000 111", "+255 754 123 456")}
        ),
        DESK,
    )
    clock.now = T3
    clinic.commands.execute(c.RecordAllergy(patient_id=pid, substance="peanut"), DOC)
    clinic.commands.execute(
        c.MarkEnteredInError(patient_id=pid, item_id="v-1", reason="wrong patient"), DOC
    )
    return pid


def test_chart_as_of_between_t1_and_t2(clinic: Clinic, three_moments: str) -> None:
    view = clinic.queries.chart(three_moments, DOC, as_of=T1 + timedelta(minutes=30))
    assert view.as_of == "2026-11-21T09:30:00+00:00"
    assert view.problems == [] and view.allergies == []
    assert view.patient.phone == "+255 754 123 456"
    assert view.last_vitals is not None and view.last_vitals.item_id == "v-1"
    assert not any(t.entered_in_error for t in view.timeline)
    assert len(view.timeline) == 2


def test_chart_as_of_between_t2_and_t3(clinic: Clinic, three_moments: str) -> None:
    view = clinic.queries.chart(three_moments, DOC, as_of=T2 + timedelta(minutes=30))
    assert [p.item_id for p in view.problems] == ["dx-1"]
    assert view.allergies == []
    assert view.patient.phone == "0766 000 111"
    assert view.last_vitals is not None  # not yet retracted


def test_chart_as_of_an_instant_is_inclusive(clinic: Clinic, three_moments: str) -> None:
    view = clinic.queries.chart(three_moments, DOC, as_of=T3)
    assert len(view.allergies) == 1 and view.last_vitals is None


def test_chart_as_of_now_equals_the_live_chart(
    clinic: Clinic, clock: FakeClock, three_moments: str
) -> None:
    live = clinic.queries.chart(three_moments, DOC)
    past = clinic.queries.chart(three_moments, DOC, as_of=clock())
    assert past.as_of == clock().isoformat()
    assert replace(past, as_of=None) == live


def test_chart_as_of_in_another_offset(clinic: Clinic, three_moments: str) -> None:
    east_africa = datetime(2026, 11, 21, 12, 30, tzinfo=timezone(timedelta(hours=3)))  # 09:30Z
    view = clinic.queries.chart(three_moments, DOC, as_of=east_africa)
    assert view.problems == []


def test_chart_as_of_before_registration(clinic: Clinic, three_moments: str) -> None:
    with pytest.raises(NotFoundError) as info:
        clinic.queries.chart(three_moments, DOC, as_of=T1 - timedelta(seconds=1))
    assert (info.value.message, info.value.field) == (
        "This patient was not yet registered at that time",
        "as_of",
    )


def test_chart_as_of_needs_a_time_zone(clinic: Clinic, three_moments: str) -> None:
    with pytest.raises(NotFoundError) as info:
        clinic.queries.chart(three_moments, DOC, as_of=datetime(2026, 11, 21, 10, 0))
    assert (info.value.message, info.value.field) == (
        "The 'as of' time needs a time zone",
        "as_of",
    )


def test_looking_at_the_past_is_audited_too(clinic: Clinic, three_moments: str) -> None:
    clinic.queries.chart(three_moments, DOC, as_of=T2)
    (latest, *_) = clinic.queries.audit()
    assert (latest.action, latest.user, latest.patient_id) == ("ChartViewed", "doc", three_moments)
