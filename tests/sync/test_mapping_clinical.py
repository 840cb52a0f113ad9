"""Encounters, diagnoses, allergies, prescriptions, notes and appointments: each chart item
reaches the server as valid R4, comes back as the same item, keeps what other systems added,
and says "entered in error" the way its resource type does."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from app.domain import events as ev
from app.domain.chart import Item, PatientChart, evolve
from sync.fhir.mapping import (
    ICD10_CM,
    RemoteItem,
    ResourceKey,
    diff_owned_elements,
    event_from_fhir,
    from_fhir_resource,
)
from tests.sync.mapping_builders import (
    ALL_ITEMS,
    ALLERGY,
    APPOINTMENT,
    DIAGNOSIS,
    DISCONTINUED,
    ENCOUNTER,
    FINISHED,
    FOREIGN_EXTENSION,
    FOREIGN_IDENTIFIER,
    FOREIGN_TAG,
    FREE_TEXT_DIAGNOSIS,
    NARRATIVE,
    NOTE,
    OVERRIDDEN,
    PID,
    PRESCRIBED,
    RESOLVED,
    chart_of,
    server_copy,
    touched_by_another_system,
    validate,
    writes_nothing,
    written,
)

RESCHEDULED = ev.AppointmentRescheduled(
    appointment_id="apt-1",
    start="2026-12-06T11:00:00+03:00",
    end="2026-12-06T11:30:00+03:00",
    previous_start=APPOINTMENT.start,
)
CANCELLED = ev.AppointmentCancelled(appointment_id="apt-1", reason="Patient travelling")
ATTENDED = ev.AppointmentAttended(appointment_id="apt-1")
MISSED = ev.AppointmentMissed(appointment_id="apt-1")
INACTIVE = ev.AllergyStatusChanged(allergy_id="alg-1", status="inactive", previous="active")

# (item id, events after the item was created, status the chart shows)
STATES = [
    ("enc-1", (), "in-progress"),
    ("enc-1", (FINISHED,), "finished"),
    ("dx-1", (), "active"),
    ("dx-2", (RESOLVED,), "resolved"),
    ("alg-1", (), "active"),
    ("alg-1", (INACTIVE,), "inactive"),
    ("rx-1", (), "active"),
    ("rx-1", (DISCONTINUED,), "stopped"),
    ("rx-2", (), "active"),
    ("note-1", (), "current"),
    ("apt-1", (), "booked"),
    ("apt-1", (RESCHEDULED,), "booked"),
    ("apt-1", (CANCELLED,), "cancelled"),
    ("apt-1", (ATTENDED,), "fulfilled"),
    ("apt-1", (MISSED,), "noshow"),
]
STATE_IDS = [f"{i}-{s}" + ("-moved" if RESCHEDULED in e else "") for i, e, s in STATES]


def chart_with(*later: ev.DomainEvent) -> PatientChart:
    return chart_of(*ALL_ITEMS, *later)


def resources_of(
    item: Item, bases: dict[ResourceKey, Any] | None = None
) -> dict[ResourceKey, dict[str, Any]]:
    return written(item, bases)


def only(item: Item, bases: dict[ResourceKey, Any] | None = None) -> dict[str, Any]:
    [resource] = resources_of(item, bases).values()
    return resource


def wire(resource: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(resource, ensure_ascii=False))
    return loaded


def read(resource: dict[str, Any]) -> RemoteItem:
    remote = from_fhir_resource(wire(server_copy(resource)))
    assert isinstance(remote, RemoteItem)
    return remote


@pytest.mark.parametrize(("item_id", "later", "status"), STATES, ids=STATE_IDS)
def test_each_item_round_trips_as_valid_r4(
    item_id: str, later: tuple[ev.DomainEvent, ...], status: str
) -> None:
    item = chart_with(*later).items[item_id]
    assert item.status == status
    resource = only(item)
    validate(resource)
    back = read(resource)
    assert (back.kind, back.id, back.patient_id, back.version_id) == (item.kind, item_id, PID, "v1")
    assert (back.status, back.entered_in_error) == (status, False)
    assert back.data == item.data


@pytest.mark.parametrize(("item_id", "later", "status"), STATES, ids=STATE_IDS)
def test_a_pulled_item_evolves_into_the_same_chart_item(
    item_id: str, later: tuple[ev.DomainEvent, ...], status: str
) -> None:
    item = chart_with(*later).items[item_id]
    patient_id, event = event_from_fhir(wire(server_copy(only(item))))
    assert patient_id == PID and isinstance(event, ev.ItemVersionReceived)
    assert event.resource_version == "v1"
    other_device = evolve(chart_of(), event)
    assert other_device.items[item_id] == item


@pytest.mark.parametrize(("item_id", "later", "status"), STATES, ids=STATE_IDS)
def test_mapping_an_item_onto_its_server_copy_writes_nothing(
    item_id: str, later: tuple[ev.DomainEvent, ...], status: str
) -> None:
    item = chart_with(*later).items[item_id]
    [(key, resource)] = resources_of(item).items()
    for base in (server_copy(resource), touched_by_another_system(resource)):
        assert writes_nothing(base, only(item, {key: base}))


# -- updates keep what others added ---------------------------------------------------------

CHANGES = [
    ("enc-1", FINISHED, {"status", "period"}),
    ("dx-2", RESOLVED, {"clinicalStatus", "abatementDateTime"}),
    ("alg-1", INACTIVE, {"clinicalStatus"}),
    ("rx-1", DISCONTINUED, {"status", "statusReason", "extension"}),
    ("apt-1", RESCHEDULED, {"start", "end", "minutesDuration"}),
    ("apt-1", CANCELLED, {"status", "cancelationReason"}),
    (
        "note-1",
        ev.EnteredInError(item_id="note-1", item_kind="note", reason="Wrong chart"),
        {"status", "extension"},
    ),
]


@pytest.mark.parametrize(("item_id", "change", "owned"), CHANGES, ids=[c[0] for c in CHANGES])
def test_an_update_starts_from_the_server_copy_and_keeps_what_others_added(
    item_id: str, change: ev.DomainEvent, owned: set[str]
) -> None:
    before = chart_with().items[item_id]
    [(key, ours)] = resources_of(before).items()
    theirs = touched_by_another_system(ours)
    after = only(chart_with(change).items[item_id], {key: theirs})
    validate(after)
    assert FOREIGN_EXTENSION in after["extension"]
    assert FOREIGN_IDENTIFIER in after["identifier"]
    assert after["meta"] == {"tag": [FOREIGN_TAG]}
    assert after["text"] == NARRATIVE
    assert diff_owned_elements(theirs, after) == owned


# -- entered in error -----------------------------------------------------------------------

ERROR_STATUS = {
    "enc-1": ("status", "entered-in-error"),
    "dx-1": ("verificationStatus", "entered-in-error"),
    "alg-1": ("verificationStatus", "entered-in-error"),
    "rx-1": ("status", "entered-in-error"),
    "note-1": ("status", "entered-in-error"),
    "apt-1": ("status", "entered-in-error"),
}


def _status_code(value: Any) -> Any:
    return value["coding"][0]["code"] if isinstance(value, dict) else value


@pytest.mark.parametrize("item_id", sorted(ERROR_STATUS))
def test_entered_in_error_uses_each_resources_own_status(item_id: str) -> None:
    kind = chart_with().items[item_id].kind
    error = ev.EnteredInError(item_id=item_id, item_kind=kind, reason="Wrong patient")
    before = chart_with().items[item_id]
    [(key, ours)] = resources_of(before).items()
    item = chart_with(error).items[item_id]
    resource = only(item, {key: server_copy(ours)})
    validate(resource)
    element, code = ERROR_STATUS[item_id]
    assert _status_code(resource[element]) == code
    assert "clinicalStatus" not in resource  # con-5, ait-2
    back = read(resource)
    assert back.entered_in_error and back.status == before.status
    assert back.data == item.data and back.data["entered_in_error_reason"] == "Wrong patient"


def test_a_resolved_diagnosis_in_error_loses_its_abatement_as_r4_requires() -> None:
    error = ev.EnteredInError(item_id="dx-2", item_kind="diagnosis", reason="Duplicate")
    item = chart_with(RESOLVED, error).items["dx-2"]
    resource = only(item)
    assert not [k for k in resource if k.startswith(("clinicalStatus", "abatement"))]  # con-4/5
    back = read(resource)
    assert (back.status, back.entered_in_error) == ("resolved", True)
    assert back.data == {**item.data, "resolved_at": None}


def test_a_cancelled_appointment_in_error_drops_its_cancelation_reason() -> None:
    item = chart_with(CANCELLED).items["apt-1"]  # the domain's chart, as push reads it
    assert only(item)["cancelationReason"] == {"text": CANCELLED.reason}
    item.entered_in_error = True
    assert "cancelationReason" not in only(item)  # app-4


# -- what each resource says ----------------------------------------------------------------


def test_an_encounter_is_ambulatory_with_its_period_and_reason() -> None:
    resource = only(chart_with(FINISHED).items["enc-1"])
    assert resource["status"] == "finished"
    assert resource["class"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "AMB",
        "display": "ambulatory",
    }
    assert resource["period"] == {"start": ENCOUNTER.started_at, "end": FINISHED.finished_at}
    assert resource["reasonCode"] == [{"text": "Cough, 3 days"}]
    assert resource["subject"] == {"reference": f"Patient/{PID}"}


def test_a_diagnosis_is_coded_in_icd10_cm_when_it_has_a_code_else_text_only() -> None:
    coded = only(chart_with().items["dx-1"])
    assert coded["code"] == {
        "coding": [{"system": ICD10_CM, "code": "I10"}],
        "text": DIAGNOSIS.text,
    }
    assert coded["clinicalStatus"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
        "code": "active",
    }
    assert coded["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert coded["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
    assert coded["encounter"] == {"reference": "Encounter/enc-1"}
    assert (coded["onsetDateTime"], coded["recordedDate"]) == (
        DIAGNOSIS.onset,
        DIAGNOSIS.recorded_at,
    )
    free = only(chart_with(RESOLVED).items["dx-2"])
    assert free["code"] == {"text": FREE_TEXT_DIAGNOSIS.text}
    assert free["category"][0]["coding"][0]["code"] == "problem-list-item"
    assert free["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert free["abatementDateTime"] == RESOLVED.resolved_at


def test_an_allergy_names_substance_category_criticality_and_reaction() -> None:
    resource = only(chart_with().items["alg-1"])
    assert resource["code"] == {
        "coding": [{"system": "urn:fieldchart:fhir:allergy-substance", "code": "penicillin"}],
        "text": "Penicillins",
    }
    assert (resource["category"], resource["criticality"]) == (["medication"], "high")
    assert resource["reaction"] == [
        {"manifestation": [{"text": "Urticaria"}], "severity": "moderate"}
    ]
    assert resource["patient"] == {"reference": f"Patient/{PID}"}
    assert resource["recordedDate"] == ALLERGY.recorded_at
    assert resource["verificationStatus"]["coding"][0]["code"] == "confirmed"


def test_a_severity_without_a_described_reaction_says_the_reaction_is_unknown() -> None:
    item = chart_with().items["alg-1"]
    item.data["reaction"] = None
    resource = only(item)
    validate(resource)
    assert resource["reaction"][0]["manifestation"][0]["extension"][0]["valueCode"] == "unknown"
    assert read(resource).data == item.data


def test_a_prescription_carries_dose_route_frequency_duration_and_rxnorm() -> None:
    item = chart_with().items["rx-1"]
    [resource] = written(item, rxnorm="17767").values()
    validate(resource)
    assert (resource["status"], resource["intent"]) == ("active", "order")
    assert resource["medicationCodeableConcept"] == {
        "coding": [
            {"system": "urn:fieldchart:fhir:medicine", "code": "amlodipine"},
            {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "17767"},
        ],
        "text": "Amlodipine",
    }
    [dosage] = resource["dosageInstruction"]
    assert dosage["doseAndRate"] == [
        {
            "doseQuantity": {
                "value": 5.0,
                "unit": "mg",
                "system": "http://unitsofmeasure.org",
                "code": "mg",
            }
        }
    ]
    assert dosage["route"] == {"text": "oral"}
    assert dosage["timing"] == {
        "code": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation",
                    "code": "QD",
                    "display": "once daily",
                }
            ],
            "text": "QD",
        },
        "repeat": {"frequency": 1, "period": 1, "periodUnit": "d"},
    }
    assert dosage["patientInstruction"] == "Take in the morning"
    assert resource["dispenseRequest"]["expectedSupplyDuration"] == {
        "value": 30,
        "unit": "days",
        "system": "http://unitsofmeasure.org",
        "code": "d",
    }
    assert resource["authoredOn"] == PRESCRIBED.prescribed_at
    assert resource["encounter"] == {"reference": "Encounter/enc-1"}


def test_an_allergy_override_and_a_stop_are_recorded_on_the_prescription() -> None:
    overridden = only(chart_with().items["rx-2"])
    [override] = overridden["extension"]
    assert override == {
        "url": "urn:fieldchart:fhir:extension:allergy-override",
        "extension": [
            {"url": "reason", "valueString": OVERRIDDEN.override_reason},
            {"url": "allergy", "valueReference": {"reference": "AllergyIntolerance/alg-1"}},
        ],
    }
    stopped = only(chart_with(DISCONTINUED).items["rx-1"])
    assert (stopped["status"], stopped["statusReason"]) == ("stopped", {"text": "Ankle swelling"})
    assert stopped["extension"] == [
        {
            "url": "urn:fieldchart:fhir:extension:discontinued-at",
            "valueDateTime": DISCONTINUED.discontinued_at,
        }
    ]


def test_a_note_is_a_utf8_text_attachment_of_a_progress_note() -> None:
    resource = only(chart_with().items["note-1"])
    assert resource["status"] == "current"
    assert resource["type"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "11506-3",
        "display": "Progress note",
    }
    [content] = resource["content"]
    assert content["attachment"]["contentType"] == "text/plain; charset=utf-8"
    assert base64.b64decode(content["attachment"]["data"]).decode("utf-8") == NOTE.text
    assert resource["context"] == {"encounter": [{"reference": "Encounter/enc-1"}]}
    assert (resource["date"], resource["subject"]) == (
        NOTE.written_at,
        {"reference": f"Patient/{PID}"},
    )


def test_an_appointment_names_patient_and_clinician_with_times_and_reason() -> None:
    resource = only(chart_with().items["apt-1"])
    assert resource["status"] == "booked"
    assert (resource["start"], resource["end"], resource["minutesDuration"]) == (
        APPOINTMENT.start,
        APPOINTMENT.end,
        15,
    )
    assert resource["participant"] == [
        {"actor": {"reference": f"Patient/{PID}"}, "status": "accepted"},
        {
            "type": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": "PPRF",
                            "display": "primary performer",
                        }
                    ]
                }
            ],
            "actor": {"display": "doc"},
            "status": "accepted",
        },
    ]
    assert resource["reasonCode"] == [{"text": "BP recheck"}]
