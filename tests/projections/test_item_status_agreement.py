"""The chart a command decides on (the domain fold) and the chart a clinician sees (the
chart-items and schedule read models) agree on every item's status, flag and data after any
sequence of item events: both read app.domain.item_status."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import events as ev
from app.domain.chart import fold
from app.domain.item_status import CHANGES, CREATES, changed_by, created_by, item_of
from app.projections import chart_items, schedule
from tests.projections.records import History, amoxicillin_prescribed, penicillin_allergy, query

PID = "p-1"
AT = "2026-11-21T09:00:00+00:00"

CREATED: list[ev.DomainEvent] = [
    ev.EncounterStarted(encounter_id="enc-1", started_at=AT, reason="cough"),
    ev.VitalsRecorded(vitals_id="vit-1", taken_at=AT, measurements={"heart_rate": 72.0}, bmi=None),
    ev.DiagnosisRecorded(diagnosis_id="dx-1", code="J06.9", text="URTI", recorded_at=AT),
    penicillin_allergy("al-1", AT, class_ids=["penicillins"]),
    amoxicillin_prescribed("rx-1", AT),
    ev.NoteAdded(note_id="note-1", text="Seen today", written_at=AT),
    ev.TestResultRecorded(
        result_id="res-1",
        test="malaria_rdt_pf",
        loinc="70569-9",
        name="Malaria RDT (P. falciparum)",
        result_type="qualitative",
        loinc_display=None,
        taken_at=AT,
        specimen="capillary blood",
        result="positive",
        interpretation="POS",
        abnormal=True,
    ),
    ev.ImmunizationRecorded(
        immunization_id="imm-1",
        vaccine_id="bcg",
        vaccine="BCG",
        cvx="19",
        dose_number=1,
        given_at=AT,
        given_on=AT[:10],
        lot="B-1",
    ),
    ev.AppointmentScheduled(
        appointment_id="apt-1",
        clinician="doc",
        start="2026-11-28T09:00:00+00:00",
        end="2026-11-28T09:15:00+00:00",
    ),
    ev.AppointmentScheduled(
        appointment_id="apt-2",
        clinician="doc",
        start="2026-11-29T10:00:00+03:00",
        end="2026-11-29T10:20:00+03:00",
        reason="review",
    ),
    ev.PatientReferred(
        referral_id="ref-1",
        to_facility="District Hospital",
        reason="chest pain",
        urgency="urgent",
        referred_at=AT,
        summary=[{"item_id": "dx-1", "kind": "diagnosis", "text": "Problem: URTI (J06.9)"}],
    ),
    ev.CallAttemptRecorded(
        call_id="call-1",
        outcome="no-answer",
        status="not-done",
        called_at=AT,
        appointment_id="apt-1",
        next_call_on="2026-11-25",
    ),
    ev.RemovedFromWorklist(call_id="call-2", reason="moved away", removed_at=AT),
]
LATER = "2026-11-22T10:00:00+00:00"
ITEMS = {
    "encounter": ["enc-1"],
    "vitals": ["vit-1"],
    "diagnosis": ["dx-1"],
    "allergy": ["al-1"],
    "medication": ["rx-1"],
    "note": ["note-1"],
    "test_result": ["res-1"],
    "immunization": ["imm-1"],
    "appointment": ["apt-1", "apt-2"],
    "referral": ["ref-1"],
    "call": ["call-1", "call-2"],
}


def _changes(apt: str) -> list[ev.DomainEvent]:
    """One event of every changing type (appointment ones aimed at `apt`)."""
    return [
        ev.EncounterFinished(encounter_id="enc-1", finished_at=LATER),
        ev.DiagnosisResolved(diagnosis_id="dx-1", resolved_at=LATER),
        ev.AllergyStatusChanged(allergy_id="al-1", status="inactive", previous="active"),
        ev.MedicationDoseChanged(
            prescription_id="rx-1",
            dose=250,
            dose_unit="mg",
            frequency="BID",
            previous_dose=500,
            previous_dose_unit="mg",
            previous_frequency="TID",
            changed_at=LATER,
        ),
        ev.MedicationDiscontinued(prescription_id="rx-1", reason="rash", discontinued_at=LATER),
        ev.ReferralCancelled(
            referral_id="ref-1", reason="seen here", cancelled_at=LATER, previous="active"
        ),
        ev.AppointmentRescheduled(
            appointment_id=apt,
            start="2026-12-01T08:00:00+01:00",
            end="2026-12-01T08:15:00+01:00",
            previous_start="2026-11-28T09:00:00+00:00",
        ),
        ev.AppointmentCancelled(appointment_id=apt, reason="Patient travelling"),
        ev.AppointmentAttended(appointment_id=apt),
        ev.AppointmentMissed(appointment_id=apt),
    ]


def _errors() -> list[ev.DomainEvent]:
    return [
        ev.EnteredInError(item_id=item, item_kind=kind, reason="wrong chart")
        for kind, ids in ITEMS.items()
        for item in ids
    ]


POOL = _changes("apt-1") + _changes("apt-2") + _errors()


def test_the_pool_has_every_item_event() -> None:
    types = {type(e) for e in CREATED + POOL}
    assert types == set(CREATES) | set(CHANGES)


def test_item_of_names_the_item_each_event_creates_or_changes() -> None:
    """What sync reads (which item an event touches) agrees with what the fold does."""
    for event in CREATED + POOL:
        created, changed = created_by(event), changed_by(event)
        expected = (created.kind, created.item_id) if created else None
        if changed is not None:
            expected = (changed.kind, changed.item_id)
        assert item_of(event) == expected, event
    assert item_of(CREATED[1]) == ("vitals", "vit-1")
    assert item_of(ev.EnteredInError(item_id="apt-2", item_kind="appointment", reason="x")) == (
        "appointment",
        "apt-2",
    )
    assert item_of(ev.DemographicsUpdated(changes={"phone": "1"}, previous={})) is None


def _both(history: list[ev.DomainEvent]) -> None:
    chart = fold(PID, history)
    h = History()
    h.register(PID, "Amina", "Mwakyusa")
    for event in history:
        h.add(PID, event)

    def read(conn: Any) -> tuple[list[tuple[Any, ...]], list[Any]]:
        rows = chart_items.for_chart(conn, PID)
        return rows, schedule.on_day(conn, "2026-11-01", days=60)

    rows, booked = query(h.records, read)
    seen = {
        row[0]: (row[1], row[2], bool(row[3]), row[7]) for row in rows
    }  # item_id -> (kind, status, entered_in_error, data)
    folded = {
        item.id: (
            item.kind,
            item.status,
            item.entered_in_error,
            json.loads(json.dumps(item.data, sort_keys=True)),
        )
        for item in chart.items.values()
    }
    assert seen == folded
    for row in booked:
        item = chart.items[row.appointment_id]
        expected = "entered-in-error" if item.entered_in_error else item.status
        assert (row.status, row.start) == (expected, item.data["start"])
    assert {row.appointment_id for row in booked} == set(ITEMS["appointment"])


def test_every_item_event_in_order_gives_the_same_chart_in_the_domain_and_the_read_models() -> None:
    _both(CREATED + POOL)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(POOL), max_size=12))
def test_any_sequence_of_item_events_gives_the_same_chart_in_both(
    changes: list[ev.DomainEvent],
) -> None:
    _both(CREATED + changes)
