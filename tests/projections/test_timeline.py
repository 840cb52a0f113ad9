"""The timeline reads like a clinic logbook: one plain line per change, newest first, with who
did it; lines of items later retracted are flagged, not removed."""

from __future__ import annotations

import pytest

from app.domain import events as ev
from app.domain.wording import text_from_json
from app.projections import audit_log, chart_items, timeline, vitals_series
from tests.projections.records import History, amoxicillin_prescribed, penicillin_allergy, query

NOW = "2026-11-21T09:00:00+00:00"

LINES: list[tuple[ev.DomainEvent, str]] = [
    (
        ev.DemographicsUpdated(
            changes={"phone": "0754", "address": None}, previous={"phone": None, "address": "Mbeya"}
        ),
        "Demographics changed: address: Mbeya → —; phone: — → 0754",
    ),
    (
        ev.EncounterStarted(encounter_id="e", started_at=NOW, reason="cough"),
        "Encounter started: cough",
    ),
    (ev.EncounterFinished(encounter_id="e", finished_at=NOW), "Encounter finished"),
    (
        ev.VitalsRecorded(
            vitals_id="v",
            taken_at=NOW,
            measurements={"systolic": 120, "diastolic": 80, "heart_rate": 72, "spo2": 98},
        ),
        "Vitals: BP 120/80 mmHg, HR 72 /min, SpO₂ 98 %",
    ),
    (
        ev.VitalsRecorded(
            vitals_id="w", taken_at=NOW, measurements={"weight": 70, "height": 175}, bmi=22.9
        ),
        "Vitals: Weight 70 kg, Height 175 cm, BMI 22.9",
    ),
    (
        ev.DiagnosisRecorded(diagnosis_id="d", code="I10", text="Hypertension", recorded_at=NOW),
        "Diagnosis: I10 Hypertension",
    ),
    (ev.DiagnosisResolved(diagnosis_id="d", resolved_at=NOW), "Diagnosis resolved"),
    (
        penicillin_allergy("a", NOW, "Penicillins", reaction="rash"),
        "Allergy: Penicillins (rash, criticality high)",
    ),
    (
        ev.AllergyStatusChanged(allergy_id="a", status="inactive", previous="active"),
        "Allergy status: active → inactive",
    ),
    (
        amoxicillin_prescribed(
            "m",
            NOW,
            duration_days=7,
            override_reason="tolerated before",
            overridden_allergy_ids=["a"],
        ),
        "Prescribed Amoxicillin 500 mg oral TID for 7 days (allergy override: tolerated before)",
    ),
    (
        ev.MedicationDiscontinued(prescription_id="m", reason="rash", discontinued_at=NOW),
        "Medication stopped: rash",
    ),
    (ev.NoteAdded(note_id="n", text="First line\nsecond line", written_at=NOW), "Note: First line"),
    (
        ev.AppointmentScheduled(appointment_id="ap", clinician="doc", start=NOW, end=NOW),
        f"Follow-up booked with doc at {NOW}",
    ),
    (
        ev.AppointmentRescheduled(
            appointment_id="ap", start="2026-11-22T09:00:00+00:00", end=NOW, previous_start=NOW
        ),
        f"Follow-up moved {NOW} → 2026-11-22T09:00:00+00:00",
    ),
    (ev.AppointmentCancelled(appointment_id="ap", reason="travel"), "Follow-up cancelled: travel"),
    (ev.AppointmentAttended(appointment_id="ap"), "Attended follow-up"),
    (ev.AppointmentMissed(appointment_id="ap"), "Missed follow-up (no-show)"),
    (
        ev.EnteredInError(item_id="n", item_kind="note", reason="typo"),
        "Marked note as entered in error: typo",
    ),
]


@pytest.mark.parametrize(
    ("event", "line"),
    LINES,
    ids=lambda x: type(x).__name__ if isinstance(x, ev.DomainEvent) else "",
)
def test_each_change_reads_as_one_plain_line(event: ev.DomainEvent, line: str) -> None:
    assert str(timeline.describe(event)[2]) == line


def test_newest_first_with_who_did_it_and_retractions_flagged() -> None:
    h = History()
    h.register("p", "Amina", "Juma")
    h.add(
        "p",
        ev.NoteAdded(note_id="n-1", text="first", written_at=NOW),
        at="2026-11-21T09:10:00.000+00:00",
    )
    h.add(
        "p",
        ev.NoteAdded(note_id="n-2", text="second", written_at=NOW),
        at="2026-11-21T09:20:00.000+00:00",
        user="nurse",
    )
    h.add(
        "p",
        ev.EnteredInError(item_id="n-1", item_kind="note", reason="wrong chart"),
        at="2026-11-21T09:30:00.000+00:00",
    )
    rows = query(h.records, lambda conn: timeline.for_patient(conn, "p"))
    # the words are kept as Text and rendered when read (English here)
    shown = [(str(text_from_json(r.words)), r.user, bool(r.entered_in_error)) for r in rows]
    assert shown == [
        ("Marked note as entered in error: wrong chart", "doc", False),
        ("Note: second", "nurse", False),
        ("Note: first", "doc", True),
        ("Registered Amina Juma, born 1980-04-23, female", "desk", False),
    ]
    limited = query(h.records, lambda conn: timeline.for_patient(conn, "p", limit=1))
    assert len(limited) == 1


def test_chart_views_go_to_the_audit_not_the_timeline() -> None:
    h = History()
    h.register("p", "Amina", "Juma")
    h.add("p", ev.ChartViewed(patient_id="p"), stream=ev.audit_stream_of("device-1"))
    rows = query(h.records, lambda conn: timeline.for_patient(conn, "p"))
    assert len(rows) == 1
    audit = query(h.records, lambda conn: audit_log.recent(conn))
    assert [(a.action, a.patient_id) for a in audit] == [
        ("ChartViewed", "p"),
        ("PatientRegistered", "p"),
    ]


def test_retracted_vitals_leave_the_series_and_the_active_items() -> None:
    h = History()
    h.register("p", "Amina", "Juma")
    h.add("p", ev.VitalsRecorded(vitals_id="v-1", taken_at=NOW, measurements={"heart_rate": 70}))
    h.add("p", ev.EnteredInError(item_id="v-1", item_kind="vitals", reason="other patient"))
    assert query(h.records, lambda conn: vitals_series.for_patient(conn, "p")) == {}
    assert query(h.records, lambda conn: chart_items.latest_vitals(conn, "p")) is None
    active = query(h.records, lambda conn: chart_items.for_patient(conn, "p", active_only=True))
    assert active == []
    (item,) = query(h.records, lambda conn: chart_items.for_patient(conn, "p", kind="vitals"))
    assert item["entered_in_error"] and item["data"]["entered_in_error_reason"] == "other patient"
