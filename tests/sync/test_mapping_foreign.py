"""Resources other systems wrote: the chart shows them in its own terms, an unchanged item
maps back onto them without a write, and what FieldChart cannot use is refused by element."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

import sync.fhir.mapping as mapping
from app.domain.chart import Item
from sync.fhir.mapping import (
    MalformedResourceError,
    MappingError,
    RemoteItem,
    ResourceKey,
    UnsupportedResourceError,
    from_fhir_resource,
)
from tests.sync.mapping_builders import PID, validate, writes_nothing, written

SUBJECT = {"reference": f"Patient/{PID}", "display": "A. Ødegård"}
META = {"versionId": "b6f1", "lastUpdated": "2026-11-20T08:00:00.000Z"}


def condition(**more: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Condition",
        "id": "hosp-cond-1",
        "meta": META,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "remission",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "provisional",
                }
            ]
        },
        "code": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "44054006", "display": "Diabetes"},
                {"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11"},
            ]
        },
        "subject": SUBJECT,
        "onsetString": "in childhood",
        "recordedDate": "2019-03",
        "note": [{"text": "seen at district hospital"}],
    }
    resource.update(more)
    return resource


def as_item(remote: RemoteItem) -> Item:
    return Item(remote.kind, remote.id, dict(remote.data), remote.status, remote.entered_in_error)


def read_item(resource: dict[str, Any]) -> RemoteItem:
    remote = from_fhir_resource(resource)
    assert isinstance(remote, RemoteItem)
    return remote


def roundtrip_without_write(resource: dict[str, Any]) -> RemoteItem:
    """Read it; mapping the unchanged item back onto it must change nothing."""
    remote = read_item(resource)
    [(key, again)] = written(as_item(remote), {_key(resource): resource}).items()
    assert key == _key(resource)
    assert writes_nothing(resource, again)
    return remote


def _key(resource: dict[str, Any]) -> ResourceKey:
    return ResourceKey(resource["resourceType"], resource["id"])


def test_another_systems_condition_reads_in_chart_terms_and_is_left_as_it_is() -> None:
    remote = roundtrip_without_write(condition())
    assert remote.status == "resolved"  # remission
    assert remote.data == {
        "diagnosis_id": "hosp-cond-1",
        "code": "E11",
        "text": "Diabetes",
        "recorded_at": "2019-03",
        "onset": None,
        "encounter_id": None,
        "resolved_at": None,
    }
    assert remote.version_id == "b6f1"


def test_retracting_another_systems_condition_keeps_its_wording_elsewhere() -> None:
    base = condition()
    item = as_item(read_item(base))
    item.entered_in_error = True
    item.data["entered_in_error_reason"] = "Wrong patient"
    [retracted] = written(item, {_key(base): base}).values()
    validate(retracted)
    assert retracted["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in retracted
    assert retracted["code"] == base["code"] and retracted["onsetString"] == "in childhood"
    assert retracted["subject"] == SUBJECT and retracted["note"] == base["note"]


def test_a_refuted_diagnosis_is_not_an_active_problem() -> None:
    refuted = condition(
        verificationStatus={
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "refuted",
                }
            ]
        },
        clinicalStatus=None,
    )
    refuted = {k: v for k, v in refuted.items() if v is not None}
    assert roundtrip_without_write(refuted).status == "refuted"


def test_an_arrived_encounter_is_in_progress_until_finished() -> None:
    base = {
        "resourceType": "Encounter",
        "id": "hosp-enc-1",
        "meta": META,
        "status": "arrived",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
        "subject": SUBJECT,
        "period": {"start": "2026-11-20T07:59:59Z"},
        "serviceProvider": {"display": "District Hospital"},
    }
    remote = roundtrip_without_write(base)
    assert remote.status == "in-progress"
    item = as_item(remote)
    item.status, item.data["finished_at"] = "finished", "2026-11-20T09:00:00Z"
    [finished] = written(item, {_key(base): base}).values()
    validate(finished)
    assert finished["status"] == "finished" and finished["class"]["code"] == "EMER"
    assert finished["period"] == {"start": "2026-11-20T07:59:59Z", "end": "2026-11-20T09:00:00Z"}


def medication_request(**more: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "MedicationRequest",
        "id": "hosp-rx-1",
        "meta": META,
        "status": "completed",
        "intent": "plan",
        "medicationReference": {"reference": "Medication/m1", "display": "Metformin 500 mg tab"},
        "subject": SUBJECT,
        "authoredOn": "2026-10-01",
        "dosageInstruction": [
            {
                "text": "one tablet twice a day with food",
                "route": {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": "26643006",
                            "display": "Oral route",
                        }
                    ]
                },
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
                "maxDosePerPeriod": {"numerator": {"value": 4}, "denominator": {"value": 1}},
            }
        ],
        "dispenseRequest": {"numberOfRepeatsAllowed": 2},
    }
    resource.update(more)
    return resource


def test_another_systems_prescription_reads_with_its_own_wording() -> None:
    remote = roundtrip_without_write(medication_request())
    assert remote.status == "stopped"  # completed
    assert {k: remote.data[k] for k in ("drug", "drug_id", "dose", "dose_unit", "route")} == {
        "drug": "Metformin 500 mg tab",
        "drug_id": None,
        "dose": 1.0,
        "dose_unit": "tablet",
        "route": "Oral route",
    }
    assert remote.data["frequency"] == "one tablet twice a day with food"
    assert remote.data["prescribed_at"] == "2026-10-01"
    assert remote.data["discontinued_at"] is None and remote.data["discontinue_reason"] is None


def test_a_prescription_without_a_structured_dose_is_not_guessed() -> None:
    resource = medication_request()
    del resource["dosageInstruction"][0]["doseAndRate"]
    with pytest.raises(UnsupportedResourceError) as info:
        mapping.from_fhir_medication_request(resource)
    assert info.value.element == "dosageInstruction[0].doseAndRate[0].doseQuantity"
    # Not a prescription on the chart, but not hidden either: a read-only other record.
    assert read_item(resource).kind == "other"


def document(attachment: dict[str, Any], **more: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "DocumentReference",
        "id": "hosp-doc-1",
        "meta": META,
        "status": "current",
        "subject": SUBJECT,
        "date": "2026-11-20T08:00:00.5+01:00",
        "content": [{"attachment": attachment}],
        "context": {
            "encounter": [{"reference": "EpisodeOfCare/ep1"}, {"reference": "Encounter/e9"}]
        },
    }
    resource.update(more)
    return resource


def test_another_systems_latin1_note_reads_and_maps_back_unchanged() -> None:
    text = "Régime sans sel, contrôle à J+14"
    attachment = {
        "contentType": "text/plain; charset=ISO-8859-1",
        "data": base64.b64encode(text.encode("latin-1")).decode(),
        "title": "Consult",
    }
    remote = roundtrip_without_write(document(attachment))
    assert remote.data == {
        "note_id": "hosp-doc-1",
        "text": text,
        "written_at": "2026-11-20T08:00:00+01:00",
        "encounter_id": "e9",
    }


def test_a_note_only_as_pdf_or_url_is_not_a_note_and_bad_base64_is_malformed() -> None:
    pdf = document({"contentType": "application/pdf", "data": "JVBERi0="})
    by_url = document({"contentType": "text/plain", "url": "https://x.org/n1"})
    for resource in (pdf, by_url):
        with pytest.raises(UnsupportedResourceError):
            mapping.from_fhir_document_reference(resource)
        assert read_item(resource).kind == "other"  # shown read-only (other_record.py)
    [attachment] = read_item(pdf).data["attachments"]
    assert (attachment["content_type"], attachment["data"]) == ("application/pdf", "JVBERi0=")
    with pytest.raises(MalformedResourceError) as info:
        from_fhir_resource(document({"contentType": "text/plain", "data": "%%%"}))
    assert info.value.element == "content[0].attachment.data"


def test_a_note_keeps_other_renditions_when_retracted() -> None:
    text_part = {"contentType": "text/plain", "data": base64.b64encode(b"note").decode()}
    base = document(text_part)
    base["content"].append({"attachment": {"contentType": "application/pdf", "url": "x:pdf"}})
    item = as_item(read_item(base))
    item.entered_in_error = True
    [retracted] = written(item, {_key(base): base}).values()
    validate(retracted)
    assert retracted["content"] == base["content"]
    assert retracted["context"] == base["context"]


def test_another_systems_appointment_with_a_practitioner_reads_and_maps_back() -> None:
    base = {
        "resourceType": "Appointment",
        "id": "hosp-apt-1",
        "meta": META,
        "status": "checked-in",
        "description": "Diabetes review",
        "start": "2026-12-01T07:00:00Z",
        "end": "2026-12-01T07:20:00Z",
        "participant": [
            {"actor": {"reference": "Location/l1", "display": "Room 2"}, "status": "accepted"},
            {
                "actor": {"reference": "Practitioner/p7", "display": "Dr. Kileo"},
                "status": "accepted",
            },
            {"actor": {"reference": f"Patient/{PID}"}, "status": "accepted"},
        ],
    }
    remote = roundtrip_without_write(base)
    assert remote.status == "booked"
    assert remote.data == {
        "appointment_id": "hosp-apt-1",
        "clinician": "Dr. Kileo",
        "start": "2026-12-01T07:00:00+00:00",
        "end": "2026-12-01T07:20:00+00:00",
        "reason": "Diabetes review",
    }
    item = as_item(remote)
    item.status = "cancelled"
    [cancelled] = written(item, {_key(base): base}).values()
    assert cancelled["participant"] == base["participant"] and cancelled["status"] == "cancelled"


def test_an_allergy_that_does_not_say_category_or_criticality_is_not_rewritten() -> None:
    base = {
        "resourceType": "AllergyIntolerance",
        "id": "hosp-alg-1",
        "meta": META,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "227493005", "display": "Cashew nuts"}
            ]
        },
        "patient": SUBJECT,
        "recordedDate": "2025-05-05T10:00:00+02:00",
    }
    remote = roundtrip_without_write(base)
    assert (remote.data["substance"], remote.data["category"]) == ("Cashew nuts", "medication")
    assert remote.data["criticality"] == "unable-to-assess" and remote.status == "active"


# -- malformed resources of every type ------------------------------------------------------

BASES: dict[str, dict[str, Any]] = {
    "Encounter": {
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": SUBJECT,
        "period": {"start": "2026-11-20T08:00:00Z"},
    },
    "Condition": {
        "code": {"text": "Secret diagnosis"},
        "subject": SUBJECT,
        "recordedDate": "2026-11-20",
    },
    "AllergyIntolerance": {
        "code": {"text": "Secret"},
        "patient": SUBJECT,
        "recordedDate": "2026-11-20",
    },
    "MedicationRequest": medication_request(),
    "DocumentReference": document({"contentType": "text/plain", "data": "U2VjcmV0"}),
    "Appointment": {
        "status": "booked",
        "start": "2026-12-01T07:00:00Z",
        "end": "2026-12-01T07:20:00Z",
        "participant": [
            {"actor": {"reference": f"Patient/{PID}"}, "status": "accepted"},
            {"actor": {"display": "doc"}, "status": "accepted"},
        ],
    },
}
SUBJECT_ELEMENT = {"AllergyIntolerance": "patient", "Appointment": "participant"}
DATE_ELEMENT = {
    "Encounter": ("period", {"start": "20/11/2026"}, "period.start"),
    "Condition": ("recordedDate", "2026-13-01", "recordedDate"),
    "AllergyIntolerance": ("recordedDate", "yesterday", "recordedDate"),
    "MedicationRequest": ("authoredOn", "2026-11-20T10:00", "authoredOn"),
    "DocumentReference": ("date", "2026-11-20 08:00:00Z", "date"),
    "Appointment": ("start", "2026-12-01", "start"),
}


def resource_of(resource_type: str) -> dict[str, Any]:
    resource = copy.deepcopy(BASES[resource_type])
    resource.update(resourceType=resource_type, id="x-1")
    resource.pop("meta", None)
    return resource


@pytest.mark.parametrize("resource_type", sorted(BASES))
def test_each_sample_resource_is_readable(resource_type: str) -> None:
    validate(resource_of(resource_type))
    assert read_item(resource_of(resource_type)).patient_id == PID


@pytest.mark.parametrize("resource_type", sorted(BASES))
def test_a_resource_without_its_patient_is_refused(resource_type: str) -> None:
    resource = resource_of(resource_type)
    element = SUBJECT_ELEMENT.get(resource_type, "subject")
    if resource_type == "Appointment":
        resource["participant"] = resource["participant"][1:]
    else:
        del resource[element]
    with pytest.raises(MappingError) as info:
        from_fhir_resource(resource)
    assert (info.value.resource, info.value.element) == (f"{resource_type}/x-1", element)


@pytest.mark.parametrize("resource_type", sorted(BASES))
def test_a_resource_with_a_bad_date_is_malformed(resource_type: str) -> None:
    key, value, element = DATE_ELEMENT[resource_type]
    resource = resource_of(resource_type)
    resource[key] = value
    with pytest.raises(MalformedResourceError) as info:
        from_fhir_resource(resource)
    assert info.value.element == element
    assert "Secret" not in str(info.value) and "2026" not in str(info.value)


@pytest.mark.parametrize("resource_type", sorted(BASES))
def test_a_resource_of_another_type_is_refused(resource_type: str) -> None:
    reader = {
        "Encounter": mapping.from_fhir_encounter,
        "Condition": mapping.from_fhir_condition,
        "AllergyIntolerance": mapping.from_fhir_allergy_intolerance,
        "MedicationRequest": mapping.from_fhir_medication_request,
        "DocumentReference": mapping.from_fhir_document_reference,
        "Appointment": mapping.from_fhir_appointment,
    }[resource_type]
    resource = {**resource_of(resource_type), "resourceType": "Basic"}
    with pytest.raises(MalformedResourceError) as info:
        reader(resource)
    assert info.value.element == "resourceType"


def test_a_type_that_is_no_record_about_a_patient_is_unsupported() -> None:
    with pytest.raises(UnsupportedResourceError):
        from_fhir_resource({"resourceType": "Organization", "id": "o1"})
    # A type without a reader of its own is an other record, if well-formed.
    with pytest.raises(MalformedResourceError):
        from_fhir_resource({"resourceType": "Immunization", "id": "i1"})


@pytest.mark.parametrize(
    ("resource_type", "element", "key"),
    [
        ("Condition", "recordedDate", "recorded_at"),
        ("AllergyIntolerance", "recordedDate", "recorded_at"),
        ("MedicationRequest", "authoredOn", "prescribed_at"),
        ("DocumentReference", "date", "written_at"),
    ],
)
def test_a_missing_recorded_time_reads_as_last_updated_and_is_not_written_back(
    resource_type: str, element: str, key: str
) -> None:
    resource = {**resource_of(resource_type), "meta": META}
    resource.pop(element, None)
    remote = roundtrip_without_write(resource)
    assert remote.data[key] == "2026-11-20T08:00:00+00:00"
    no_meta = {k: v for k, v in resource.items() if k != "meta"}
    with pytest.raises(UnsupportedResourceError) as info:
        from_fhir_resource(no_meta, as_other=False)
    assert info.value.element == element
