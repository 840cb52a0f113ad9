"""A referral reaches the server as a valid R4 ServiceRequest (referral category and code,
priority, performer, reason, the summary as sent with references to its items), comes back as
the same chart item, keeps what the receiving facility added, and reads the facility's status
changes; a ServiceRequest that is not a referral is not modelled (shown as another record)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import events as ev
from app.domain.chart import Item, evolve
from sync.fhir.mapping import ResourceKey, diff_owned_elements, event_from_fhir, from_fhir_resource
from sync.fhir.mapping.errors import MalformedResourceError, UnsupportedResourceError
from sync.fhir.mapping.remote import RemoteItem
from sync.fhir.mapping.service_request import EXT_STATUS_CHANGE, from_fhir_service_request
from tests.sync.mapping_builders import (
    ALLERGY,
    DIAGNOSIS,
    ENCOUNTER,
    FOREIGN_EXTENSION,
    FOREIGN_IDENTIFIER,
    PID,
    PRESCRIBED,
    VITALS,
    chart_of,
    server_copy,
    touched_by_another_system,
    validate,
    writes_nothing,
    written,
)

REFERRED = ev.PatientReferred(
    referral_id="ref-1",
    to_facility="Korogwe District Hospital",
    reason="BP 182/112 despite amlodipine",
    urgency="urgent",
    referred_at="2026-11-21T09:45:00+03:00",
    summary=[
        {"item_id": "dx-1", "kind": "diagnosis", "text": "Problem: Hypertension (I10)"},
        {"item_id": "alg-1", "kind": "allergy", "text": "Allergy: Penicillins (Urticaria)"},
        {"item_id": "rx-1", "kind": "medication", "text": "Medication: Amlodipine 5 mg"},
        {
            "item_id": "vit-1",
            "kind": "vitals",
            "text": "Vitals: BP 142/91 mmHg",
            "signs": ["diastolic", "systolic"],
        },
    ],
    facility_organization_id="org-korogwe",
    note="Please review",
    encounter_id="enc-1",
)
CANCELLED = ev.ReferralCancelled(
    referral_id="ref-1",
    reason="Specialist visiting",
    cancelled_at="2026-11-22T08:00:00+03:00",
    previous="active",
)
# meta.lastUpdated of tests.sync.mapping_builders.server_copy, as the domain writes instants.
SERVER_STAMP = "2026-11-21T06:00:01+00:00"
ERROR = ev.EnteredInError(item_id="ref-1", item_kind="referral", reason="Wrong patient")


def referral(*later: ev.DomainEvent, **changes: Any) -> Item:
    made = ev.PatientReferred(**{**REFERRED.to_payload(), **changes})
    return chart_of(ENCOUNTER, VITALS, DIAGNOSIS, ALLERGY, PRESCRIBED, made, *later).items["ref-1"]


def resource_of(item: Item, base: dict[str, Any] | None = None) -> dict[str, Any]:
    key = ResourceKey("ServiceRequest", "ref-1")
    return written(item, {key: base} if base is not None else None)[key]


def read(resource: dict[str, Any]) -> RemoteItem:
    remote = from_fhir_resource(json.loads(json.dumps(server_copy(resource))))
    assert isinstance(remote, RemoteItem)
    return remote


def test_a_referral_is_a_valid_r4_service_request_with_codes_and_references() -> None:
    resource = resource_of(referral())
    validate(resource)
    assert resource["status"] == "active" and resource["intent"] == "order"
    assert resource["category"][0]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "3457005",
        "display": "Patient referral",
    }
    assert resource["code"]["coding"][0]["code"] == "306206005"
    assert resource["priority"] == "urgent"
    assert resource["subject"] == {"reference": f"Patient/{PID}"}
    assert resource["encounter"] == {"reference": "Encounter/enc-1"}
    assert resource["authoredOn"] == "2026-11-21T09:45:00+03:00"
    assert resource["performer"] == [
        {"reference": "Organization/org-korogwe", "display": "Korogwe District Hospital"}
    ]
    assert resource["reasonCode"] == [{"text": "BP 182/112 despite amlodipine"}]
    refs = [s["reference"] for s in resource["supportingInfo"]]
    assert refs[:3] == ["Condition/dx-1", "AllergyIntolerance/alg-1", "MedicationRequest/rx-1"]
    assert len(refs) == 4 and refs[3].startswith("Observation/")  # the blood-pressure panel
    summary, note = resource["note"]
    assert summary["text"].splitlines() == [
        "Clinical summary:",
        *[e["text"] for e in REFERRED.summary],
    ]
    assert note["text"] == "Please review"


@pytest.mark.parametrize("later", [(), (CANCELLED,), (ERROR,), (CANCELLED, ERROR)])
def test_a_referral_round_trips_and_a_pull_gives_the_same_item(later: tuple[Any, ...]) -> None:
    item = referral(*later)
    resource = resource_of(item)
    validate(resource)
    back = read(resource)
    assert (back.kind, back.id, back.patient_id) == ("referral", "ref-1", PID)
    assert (back.status, back.entered_in_error) == (item.status, item.entered_in_error)
    assert back.data == item.data
    _, event = event_from_fhir(json.loads(json.dumps(server_copy(resource))))
    assert isinstance(event, ev.ItemVersionReceived)
    assert evolve(chart_of(), event).items["ref-1"] == item
    assert writes_nothing(server_copy(resource), resource_of(item, server_copy(resource)))


def test_a_revocation_carries_its_status_time_and_reason() -> None:
    resource = resource_of(referral(CANCELLED), server_copy(resource_of(referral())))
    assert resource["status"] == "revoked"
    change = next(e for e in resource["extension"] if e["url"] == EXT_STATUS_CHANGE)
    assert {p["url"]: list(p.values())[1] for p in change["extension"]} == {
        "status": "revoked",
        "at": "2026-11-22T08:00:00+03:00",
        "reason": "Specialist visiting",
    }


def test_an_update_keeps_what_the_receiving_facility_added() -> None:
    theirs = touched_by_another_system(resource_of(referral()))
    theirs["note"].append({"text": "Seen in medical outpatients, started losartan"})
    theirs["supportingInfo"].append({"reference": "DocumentReference/discharge-1"})
    theirs["performer"].append({"reference": "Practitioner/dr-mushi"})
    after = resource_of(referral(CANCELLED), theirs)
    validate(after)
    assert FOREIGN_EXTENSION in after["extension"] and FOREIGN_IDENTIFIER in after["identifier"]
    assert after["note"][-1] == {"text": "Seen in medical outpatients, started losartan"}
    assert {"reference": "DocumentReference/discharge-1"} in after["supportingInfo"]
    assert after["performer"][1] == {"reference": "Practitioner/dr-mushi"}
    assert diff_owned_elements(theirs, after) == {"status", "extension"}


def test_the_facilitys_completion_is_read_with_its_time_and_notes() -> None:
    theirs = server_copy(resource_of(referral()), "v2")
    theirs["status"] = "completed"
    theirs["meta"]["lastUpdated"] = "2026-11-25T12:30:00.000Z"
    theirs["note"].append({"text": "Discharged on losartan 50 mg"})
    back = from_fhir_resource(theirs)
    assert isinstance(back, RemoteItem)
    assert back.status == "completed"
    assert back.data["status_changed_at"] == "2026-11-25T12:30:00+00:00"
    assert back.data["facility_notes"] == ["Discharged on losartan 50 mg"]
    assert back.data["summary"] == REFERRED.summary


def test_a_revocation_we_wrote_then_put_on_hold_elsewhere_is_dated_by_the_server() -> None:
    theirs = server_copy(resource_of(referral(CANCELLED)), "v3")
    theirs["status"] = "on-hold"
    back = read(theirs)
    assert back.status == "on-hold"
    assert back.data["status_changed_at"] == SERVER_STAMP
    assert back.data["status_reason"] is None


def foreign(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": "sr-dh-77",
        "meta": {"versionId": "1", "lastUpdated": "2026-11-20T10:00:00Z"},
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
        "subject": {"reference": f"Patient/{PID}"},
        "authoredOn": "2026-11-20",
        "performer": [{"display": "Bombo Regional Referral Hospital"}],
        "reasonCode": [{"text": "Obstetric ultrasound"}],
    }
    resource.update(changes)
    return resource


def test_another_systems_referral_is_read_and_a_lab_order_is_not_modelled() -> None:
    back = from_fhir_resource(foreign())
    assert isinstance(back, RemoteItem) and back.kind == "referral"
    assert back.data["to_facility"] == "Bombo Regional Referral Hospital"
    assert (back.data["urgency"], back.data["summary"], back.data["note"]) == (None, [], None)
    lab = foreign(
        category=[{"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}]
    )
    with pytest.raises(UnsupportedResourceError) as info:
        from_fhir_service_request(lab)
    assert "not a patient referral" in str(info.value)


@pytest.mark.parametrize(
    ("changes", "element"),
    [
        ({"status": "finished"}, "status"),
        ({"priority": "soon"}, "priority"),
        ({"note": "x"}, "note"),
    ],
)
def test_a_malformed_referral_names_the_element(changes: dict[str, Any], element: str) -> None:
    with pytest.raises(MalformedResourceError) as info:
        from_fhir_resource(copy.deepcopy(foreign(**changes)))
    assert element in str(info.value)


TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    str.strip
)


@settings(max_examples=40, deadline=None)
@given(
    facility=TEXT,
    reason=TEXT,
    note=st.none() | TEXT,
    urgency=st.sampled_from(["routine", "urgent", "asap", "stat"]),
    summary=st.lists(st.sampled_from(REFERRED.summary), unique_by=lambda e: e["item_id"]),
    organization=st.none() | st.just("org-1"),
    later=st.sampled_from([(), (CANCELLED,), (ERROR,), (CANCELLED, ERROR)]),
)
def test_any_referral_round_trips_through_its_service_request(
    facility: str,
    reason: str,
    note: str | None,
    urgency: str,
    summary: list[dict[str, Any]],
    organization: str | None,
    later: tuple[ev.DomainEvent, ...],
) -> None:
    item = referral(
        *later,
        to_facility=facility,
        reason=reason,
        note=note,
        urgency=urgency,
        summary=summary,
        facility_organization_id=organization,
    )
    resource = resource_of(item)
    validate(resource)
    back = read(resource)
    assert (back.status, back.entered_in_error, back.data) == (
        item.status,
        item.entered_in_error,
        item.data,
    )
    assert writes_nothing(server_copy(resource), resource_of(item, server_copy(resource)))
