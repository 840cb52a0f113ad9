"""A clinician opens a chart: summary (problems, allergies, active medications, last vitals),
timeline newest-first with who and when, vitals series; retracted items are struck through in
the timeline and leave the summary."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain import commands as c
from app.domain.errors import NotFoundError
from app.services.clinic import Clinic
from app.services.clinic_queries import age_label
from app.services.dto import ChartView
from tests.clinic_fixtures import DESK, DOC, FakeClock, prescription, register


def run(clinic: Clinic, *commands: c.Command) -> None:
    for command in commands:
        clinic.commands.execute(command, DOC)


def chart(clinic: Clinic, pid: str) -> ChartView:
    return clinic.queries.chart(pid, DOC, record_view=False)


def rx(pid: str, prescription_id: str, drug: str) -> c.PrescribeMedication:
    return prescription(pid, drug, prescription_id=prescription_id)


@pytest.fixture
def busy_chart(clinic: Clinic, clock: FakeClock) -> str:
    """A patient seen over a morning: two diagnoses (one resolved), an allergy, two
    prescriptions (one stopped), vitals twice (the first entered late), a note, a follow-up."""
    pid = register(clinic, patient_id="pat-1")
    clock.advance(minutes=10)
    run(
        clinic,
        c.StartEncounter(patient_id=pid, encounter_id="enc-1", reason="cough"),
        c.RecordDiagnosis(patient_id=pid, diagnosis_id="dx-htn", code="I10"),
        c.RecordDiagnosis(patient_id=pid, diagnosis_id="dx-uri", code="J06.9"),
        c.RecordAllergy(patient_id=pid, allergy_id="al-1", substance="Penicillins"),
    )
    clock.advance(minutes=10)
    run(
        clinic,
        c.RecordVitals(
            patient_id=pid, vitals_id="v-2", systolic=150, diastolic=95, weight=80, height=170
        ),
        # Entered after v-2 but taken earlier: it is not the "last" vitals.
        c.RecordVitals(
            patient_id=pid,
            vitals_id="v-1",
            systolic=160,
            diastolic=100,
            taken_at="2026-11-21T09:05:00+00:00",
        ),
        rx(pid, "rx-1", "paracetamol"),
        rx(pid, "rx-2", "ibuprofen"),
        c.DiscontinueMedication(patient_id=pid, prescription_id="rx-2", reason="gastritis"),
        c.ResolveDiagnosis(patient_id=pid, diagnosis_id="dx-uri"),
        c.AddNote(
            patient_id=pid, note_id="n-1", text="Lifestyle advice given.", encounter_id="enc-1"
        ),
        c.FinishEncounter(patient_id=pid, encounter_id="enc-1"),
    )
    clinic.commands.execute(
        c.ScheduleFollowUp(
            patient_id=pid, appointment_id="ap-1", clinician="doc", start="2026-12-05T09:00:00Z"
        ),
        DESK,
    )
    return pid


def test_summary_shows_what_is_current(clinic: Clinic, busy_chart: str) -> None:
    view = chart(clinic, busy_chart)
    assert view.patient.given == "Amina" and view.patient.family == "Ødegård"
    assert view.age_years == 46 and view.age_label == "46 y"
    assert view.allergy_banner == ["Penicillins"]
    assert [p.item_id for p in view.problems] == ["dx-htn"]
    assert view.problems[0].data["text"] == "Essential (primary) hypertension"
    assert [a.item_id for a in view.allergies] == ["al-1"]
    assert [m.item_id for m in view.medications] == ["rx-1"]
    assert view.last_vitals is not None
    assert view.last_vitals.item_id == "v-2"
    assert view.last_vitals.data["bmi"] == 27.7
    assert [(e.item_id, e.status) for e in view.encounters] == [("enc-1", "finished")]
    assert [n.data["text"] for n in view.notes] == ["Lifestyle advice given."]
    assert [(a.item_id, a.status) for a in view.appointments] == [("ap-1", "booked")]
    assert view.as_of is None


def test_items_carry_who_recorded_them_and_when(clinic: Clinic, busy_chart: str) -> None:
    view = chart(clinic, busy_chart)
    (htn,) = view.problems
    assert (htn.recorded_by, htn.recorded_at) == ("doc", "2026-11-21T09:10:00.000+00:00")
    assert view.appointments[0].recorded_by == "desk"


def test_timeline_is_newest_first_by_clinical_time(clinic: Clinic, busy_chart: str) -> None:
    timeline = chart(clinic, busy_chart).timeline
    times = [t.occurred_at for t in timeline]
    assert times == sorted(times, reverse=True)
    assert timeline[-1].text == "Registered Amina Ødegård, born 1980-04-23, female"
    assert (timeline[-1].user, timeline[-1].role) == ("desk", "staff")
    late_entry = next(t for t in timeline if t.item_id == "v-1")
    assert late_entry.occurred_at == "2026-11-21T09:05:00+00:00"
    assert late_entry.recorded_at == "2026-11-21T09:20:00.000+00:00"
    assert late_entry.text == "Vitals: BP 160/100 mmHg"
    assert timeline.index(late_entry) == len(timeline) - 2  # after registration, before the rest
    texts = [t.text for t in timeline]
    assert "Prescribed Paracetamol 500 mg oral TID" in texts
    assert "Medication stopped: gastritis" in texts
    assert "Follow-up booked with doc at 2026-12-05T09:00:00+00:00" in texts


def test_timeline_orders_instants_written_with_different_offsets(
    clinic: Clinic, clock: FakeClock
) -> None:
    # 10:00 in Dar es Salaam (+03:00) is 07:00 UTC: earlier than 08:00 UTC.
    pid = register(clinic)
    run(
        clinic,
        c.RecordVitals(
            patient_id=pid, vitals_id="v-a", heart_rate=70, taken_at="2026-11-21T10:00:00+03:00"
        ),
        c.RecordVitals(
            patient_id=pid, vitals_id="v-b", heart_rate=80, taken_at="2026-11-21T08:00:00Z"
        ),
    )
    view = chart(clinic, pid)
    assert [t.item_id for t in view.timeline] == [None, "v-b", "v-a"]  # registration at 09:00Z
    assert view.last_vitals is not None and view.last_vitals.item_id == "v-b"
    assert [v for _, v in view.vitals_series["heart_rate"]] == [70, 80]


def test_vitals_series_per_key_in_time_order(clinic: Clinic, busy_chart: str) -> None:
    series = chart(clinic, busy_chart).vitals_series
    assert series["systolic"] == [
        ("2026-11-21T09:05:00+00:00", 160.0),
        ("2026-11-21T09:20:00+00:00", 150.0),
    ]
    assert series["diastolic"] == [
        ("2026-11-21T09:05:00+00:00", 100.0),
        ("2026-11-21T09:20:00+00:00", 95.0),
    ]
    assert series["bmi"] == [("2026-11-21T09:20:00+00:00", 27.7)]
    assert set(series) == {"systolic", "diastolic", "weight", "height", "bmi"}


def test_entered_in_error_is_struck_in_the_timeline_and_gone_from_the_summary(
    clinic: Clinic, busy_chart: str
) -> None:
    pid = busy_chart
    run(
        clinic,
        c.MarkEnteredInError(patient_id=pid, item_id="dx-htn", reason="other patient's reading"),
        c.MarkEnteredInError(patient_id=pid, item_id="v-2", reason="cuff too small"),
        c.MarkEnteredInError(patient_id=pid, item_id="rx-1", reason="wrong chart"),
        c.MarkEnteredInError(patient_id=pid, item_id="al-1", reason="wrong chart"),
    )
    view = chart(clinic, pid)
    assert view.problems == [] and view.medications == [] and view.allergies == []
    assert view.allergy_banner == []
    assert view.last_vitals is not None and view.last_vitals.item_id == "v-1"
    assert view.vitals_series["systolic"] == [("2026-11-21T09:05:00+00:00", 160.0)]
    assert "bmi" not in view.vitals_series
    struck = {t.item_id for t in view.timeline if t.entered_in_error}
    assert struck == {"dx-htn", "v-2", "rx-1", "al-1"}
    corrections = [t.text for t in view.timeline if t.kind == "correction"]
    assert "Marked diagnosis as entered in error: other patient's reading" in corrections
    assert len(corrections) == 4


def test_staff_may_open_a_chart(clinic: Clinic, busy_chart: str) -> None:
    assert clinic.queries.chart(busy_chart, DESK).patient.patient_id == busy_chart


def test_unknown_patient(clinic: Clinic) -> None:
    with pytest.raises(NotFoundError) as info:
        chart(clinic, "nobody")
    assert (info.value.message, info.value.field) == (
        "No patient with this id on this device",
        "patient_id",
    )


def test_chart_json_is_plain_data(clinic: Clinic, busy_chart: str) -> None:
    import json

    data = chart(clinic, busy_chart).to_json()
    assert json.loads(json.dumps(data))["patient"]["patient_id"] == busy_chart


@pytest.mark.parametrize(
    ("birth", "day", "label"),
    [
        ("2026-12-02", "2026-12-02", "0 d"),
        ("2026-11-20", "2026-12-02", "12 d"),
        ("2026-11-02", "2026-12-01", "29 d"),
        ("2026-11-02", "2026-12-02", "1 mo"),
        ("2025-06-15", "2026-12-02", "17 mo"),
        ("2024-12-03", "2026-12-02", "23 mo"),
        ("2024-12-02", "2026-12-02", "2 y"),
        ("1980-02-29", "2026-12-02", "46 y"),
    ],
)
def test_an_infants_age_is_in_days_or_months(birth: str, day: str, label: str) -> None:
    assert age_label(birth, date.fromisoformat(day)) == label
