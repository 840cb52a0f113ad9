"""A clinician refers a patient to the district hospital with a summary ticked from the chart,
and may revoke the referral; bad input names the field and records nothing."""

from __future__ import annotations

import copy

import pytest

from app.domain import commands as c
from app.domain import events as ev
from app.domain.chart import Item, PatientChart, evolve
from app.domain.errors import AlreadyDoneError, PreconditionError, RoleError, ValidationError
from app.domain.rebase import Converged, NeedsAttention, Redecided, decide_rebase
from app.domain.referral_summary import line_of
from tests.clinic_fixtures import DESK, prescription
from tests.domain.builders import PID, accept, chart_after, context, refuse


def chart_with_history() -> PatientChart:
    return chart_after(
        c.RecordDiagnosis(patient_id=PID, diagnosis_id="dx-1", code="I10"),
        c.RecordAllergy(patient_id=PID, allergy_id="al-1", substance="Penicillin", reaction="rash"),
        prescription(PID, "Paracetamol", prescription_id="rx-1"),
        c.RecordVitals(
            patient_id=PID, vitals_id="vs-1", systolic=182, diastolic=112, heart_rate=96
        ),
        c.AddNote(patient_id=PID, note_id="n-1", text="seen"),
    )


def refer(**overrides: object) -> c.ReferPatient:
    fields: dict[str, object] = {
        "patient_id": PID,
        "referral_id": "ref-1",
        "to_facility": "Korogwe District Hospital",
        "reason": "Hypertensive urgency not controlled",
        "urgency": "urgent",
        "summary_item_ids": ("vs-1", "dx-1", "rx-1", "al-1"),
        "note": "Please review and advise",
    }
    fields.update(overrides)
    return c.ReferPatient(**fields)  # type: ignore[arg-type]


def referred(chart: PatientChart, command: c.ReferPatient | None = None) -> PatientChart:
    after = copy.deepcopy(chart)
    for event in accept(command or refer(), after).events:
        evolve(after, event)
    return after


def test_a_referral_snapshots_the_ticked_items_in_summary_order() -> None:
    decision = accept(refer(), chart_with_history())
    (event,) = decision.events
    assert isinstance(event, ev.PatientReferred)
    assert (event.referral_id, event.urgency, event.to_facility) == (
        "ref-1",
        "urgent",
        "Korogwe District Hospital",
    )
    assert [e["item_id"] for e in event.summary] == ["dx-1", "al-1", "rx-1", "vs-1"]
    texts = [e["text"] for e in event.summary]
    assert texts[0].startswith("Problem: ") and texts[0].endswith("(I10)")
    assert texts[1] == "Allergy: Penicillin (rash)"
    assert texts[2] == "Medication: Paracetamol 500 mg oral TID"
    assert texts[3] == "Vitals: BP 182/112 mmHg, HR 96 /min (2026-11-21)"
    assert event.summary[3]["signs"] == ["diastolic", "heart_rate", "systolic"]


def test_the_summary_stays_as_sent_when_the_chart_changes() -> None:
    chart = referred(chart_with_history())
    later = copy.deepcopy(chart)
    for event in accept(
        c.DiscontinueMedication(patient_id=PID, prescription_id="rx-1", reason="switched"), later
    ).events:
        evolve(later, event)
    item = later.item("ref-1", "referral")
    assert item is not None and item.status == "active" and item.active
    assert item.data["summary"][2]["text"] == "Medication: Paracetamol 500 mg oral TID"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"to_facility": "  "}, "to_facility", "Receiving facility is required"),
        ({"reason": ""}, "reason", "Reason for referral is required"),
        ({"urgency": "soon"}, "urgency", "Urgency must be one of: asap, routine, stat, urgent"),
        (
            {"summary_item_ids": ("dx-1", "nope")},
            "summary_item_ids",
            "Clinical summary: there is no item 'nope' on this patient's chart",
        ),
        ({"summary_item_ids": ("n-1",)}, "summary_item_ids", "Clinical summary: a note cannot"),
        ({"facility_organization_id": "a b"}, "facility_organization_id", "Id may contain"),
        ({"encounter_id": "enc-x"}, "encounter_id", "No encounter with this id"),
    ],
)
def test_bad_input_names_the_field(overrides: dict[str, object], field: str, message: str) -> None:
    error = refuse(refer(**overrides), chart_with_history())
    assert error.field == field
    assert error.message.startswith(message)


def test_only_a_clinician_refers() -> None:
    refuse(refer(), chart_with_history(), ctx=context(actor=DESK), error=RoleError)


def test_an_entered_in_error_item_cannot_be_summarised() -> None:
    chart = chart_after(
        c.RecordDiagnosis(patient_id=PID, diagnosis_id="dx-1", text="Malaria"),
        c.MarkEnteredInError(patient_id=PID, item_id="dx-1", reason="wrong patient"),
    )
    error = refuse(refer(summary_item_ids=("dx-1",)), chart)
    assert error.field == "summary_item_ids"
    assert "entered in error" in error.message


def test_cancelling_revokes_with_when_and_why() -> None:
    chart = referred(chart_with_history())
    decision = accept(
        c.CancelReferral(
            patient_id=PID,
            referral_id="ref-1",
            reason="Seen by visiting specialist",
            expected_status="active",
        ),
        chart,
    )
    for event in decision.events:
        evolve(chart, event)
    item = chart.item("ref-1", "referral")
    assert item is not None and item.status == "revoked" and not item.active
    assert item.data["status_reason"] == "Seen by visiting specialist"
    assert item.data["status_changed_at"] == "2026-11-21T09:00:00+00:00"
    again = refuse(
        c.CancelReferral(patient_id=PID, referral_id="ref-1", reason="x"),
        chart,
        error=AlreadyDoneError,
    )
    assert again.field == "referral_id"


def test_a_referral_can_be_marked_entered_in_error() -> None:
    chart = referred(chart_with_history())
    (event,) = accept(
        c.MarkEnteredInError(patient_id=PID, item_id="ref-1", reason="wrong patient"), chart
    ).events
    assert isinstance(event, ev.EnteredInError) and event.item_kind == "referral"


def completed_on_server(chart: PatientChart) -> PatientChart:
    """The chart once the receiving facility's completion came back from the server."""
    item = chart.item("ref-1", "referral")
    assert item is not None
    after = copy.deepcopy(chart)
    evolve(
        after,
        ev.ItemVersionReceived(
            item_kind="referral",
            item_id="ref-1",
            resource_version="v2",
            status="completed",
            entered_in_error=False,
            data={**item.data, "status_changed_at": "2026-11-22T10:00:00+00:00"},
        ),
    )
    return after


def test_a_cancel_against_a_completion_needs_attention_with_both_statuses() -> None:
    cancel = c.CancelReferral(
        patient_id=PID, referral_id="ref-1", reason="obsolete", expected_status="active"
    )
    outcome = decide_rebase(
        completed_on_server(referred(chart_with_history())), cancel, [], context()
    )
    assert isinstance(outcome, NeedsAttention)
    assert (outcome.detail.field, outcome.detail.mine, outcome.detail.servers) == (
        "status",
        "revoked",
        "completed",
    )


def test_a_cancel_without_expectation_is_still_refused_on_a_completed_referral() -> None:
    chart = completed_on_server(referred(chart_with_history()))
    error = refuse(c.CancelReferral(patient_id=PID, referral_id="ref-1", reason="x"), chart)
    assert isinstance(error, ValidationError) and error.field == "referral_id"


def test_a_cancel_the_server_already_shows_converges_and_one_still_open_redecides() -> None:
    chart = referred(chart_with_history())
    cancel = c.CancelReferral(
        patient_id=PID, referral_id="ref-1", reason="obsolete", expected_status="active"
    )
    assert isinstance(decide_rebase(chart, cancel, [], context()), Redecided)
    for event in accept(cancel, chart).events:
        evolve(chart, event)
    relaxed = c.CancelReferral(patient_id=PID, referral_id="ref-1", reason="obsolete")
    assert isinstance(decide_rebase(chart, relaxed, [], context()), Converged)
    stale = decide_rebase(chart, cancel, [], context())
    assert isinstance(stale, NeedsAttention)
    assert isinstance(PreconditionError("x"), PreconditionError)


def test_test_results_and_immunizations_read_as_a_clinician_writes_them() -> None:
    hb = Item(
        "test_result",
        "hb-1",
        {"name": "Haemoglobin", "value": 8.4, "unit_label": "g/dL", "abnormal": True,
         "interpretation": "L", "taken_at": "2026-11-20T08:00:00+03:00"},
        "final",
    )  # fmt: skip
    rdt = Item("test_result", "rdt-1", {"name": "Malaria RDT", "result": "negative"}, "final")
    dose = Item(
        "immunization", "im-1", {"vaccine": "Measles-rubella", "dose_number": 2,
                                 "given_on": "2026-10-01"}, "completed",
    )  # fmt: skip
    assert line_of(hb) == "Test result: Haemoglobin 8.4 g/dL [abnormal, L] (2026-11-20)"
    assert line_of(rdt) == "Test result: Malaria RDT negative"
    assert line_of(dose) == "Immunization: Measles-rubella dose 2 (2026-10-01)"
