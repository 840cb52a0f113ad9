"""A district server for the link bench: `facilities` × `patients` patients, written straight
to the server (not through the link) in transactions of 50.

Each patient belongs to its facility (`managingOrganization = Organization/<facility>`) and has
an encounter, a blood-pressure observation and a diagnosis, shaped as FieldChart devices write
them (so a device's pull maps them like its own) with deterministic ids: facility `f`'s
patient `i` is the same resource in every run. `foreign_ids` lists the server ids of every
facility but one, to count what a scoped device received that it should not have.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

TRANSACTION_SIZE = 50
RESOURCES_PER_PATIENT = 4
_NS = uuid.UUID("6f1f2ad4-4b0e-4d5c-9b43-1a8c1f0e0a14")
_FIELDCHART_ID = "urn:fieldchart:fhir:id"
_WHEN = "2026-11-30T08:30:00+00:00"


def facility_id(f: int) -> str:
    return f"district-facility-{f}"


def organization_ref(f: int) -> str:
    return f"Organization/{facility_id(f)}"


def _id(f: int, i: int, kind: str) -> str:
    return str(uuid.uuid5(_NS, f"{f}/{i}/{kind}"))


def _ours(resource_id: str) -> list[dict[str, str]]:
    return [{"system": _FIELDCHART_ID, "value": resource_id}]


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def patient_resources(f: int, i: int) -> list[dict[str, Any]]:
    """Facility f's patient i and their compartment (Patient first)."""
    pid, eid, oid, cid = (_id(f, i, k) for k in ("patient", "encounter", "bp", "condition"))
    subject = {"reference": f"Patient/{pid}"}
    encounter = {"reference": f"Encounter/{eid}"}
    loinc = "http://loinc.org"
    mmhg = {"unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    return [
        {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [
                {"system": "urn:fieldchart:mrn", "value": f"D{f:02d}-{i:06d}"},
                *_ours(pid),
            ],
            "name": [{"use": "official", "family": f"Mrema {f}", "given": [f"Neema {i}"]}],
            "gender": "female" if i % 2 else "male",
            "birthDate": f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}",
            "telecom": [{"system": "phone", "value": "+255 754 000 111"}],
            "managingOrganization": {"reference": organization_ref(f)},
        },
        {
            "resourceType": "Encounter",
            "id": eid,
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "subject": subject,
            "period": {"start": _WHEN, "end": _WHEN},
            "reasonCode": [{"text": "Fever"}],
            "identifier": _ours(eid),
        },
        {
            "resourceType": "Observation",
            "id": oid,
            "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
            "identifier": [
                {"system": "urn:fieldchart:fhir:vitals-set", "value": _id(f, i, "vitals")},
                *_ours(oid),
            ],
            "status": "final",
            "category": [
                {
                    **_coding(
                        "http://terminology.hl7.org/CodeSystem/observation-category",
                        "vital-signs",
                        "Vital Signs",
                    ),
                    "text": "Vital Signs",
                }
            ],
            "code": {
                **_coding(loinc, "85354-9", "Blood pressure panel with all children optional"),
                "text": "Blood pressure panel with all children optional",
            },
            "subject": subject,
            "encounter": encounter,
            "effectiveDateTime": _WHEN,
            "component": [
                {
                    "code": {**_coding(loinc, code, text), "text": text},
                    "valueQuantity": {"value": value, **mmhg},
                }
                for code, text, value in (
                    ("8480-6", "Systolic blood pressure", 110 + i % 40),
                    ("8462-4", "Diastolic blood pressure", 70 + i % 20),
                )
            ],
        },
        {
            "resourceType": "Condition",
            "id": cid,
            "verificationStatus": _coding(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
            ),
            "clinicalStatus": _coding(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
            ),
            "category": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/condition-category",
                    "encounter-diagnosis",
                )
            ],
            "code": {
                **_coding("http://hl7.org/fhir/sid/icd-10-cm", "J06.9"),
                "text": "Acute upper respiratory infection, unspecified",
            },
            "subject": subject,
            "encounter": encounter,
            "recordedDate": _WHEN,
            "identifier": _ours(cid),
        },
    ]


def organization(f: int) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": facility_id(f), "name": f"Health centre {f}"}


def _facility_resources(f: int, patients: int) -> Iterator[dict[str, Any]]:
    yield organization(f)
    for i in range(patients):
        yield from patient_resources(f, i)


def _transactions(resources: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for resource in resources:
        url = f"{resource['resourceType']}/{resource['id']}"
        entries.append({"resource": resource, "request": {"method": "PUT", "url": url}})
        if len(entries) == TRANSACTION_SIZE:
            yield {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            entries = []
    if entries:
        yield {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def load_facilities(base_url: str, facilities: range, patients: int) -> dict[str, Any]:
    """Write the facilities' patients to the server directly; seconds and resources written."""
    started = time.perf_counter()
    written = 0
    with httpx.Client(base_url=base_url, timeout=600) as http:
        for f in facilities:
            for bundle in _transactions(_facility_resources(f, patients)):
                response = http.post(
                    "/", json=bundle, headers={"Content-Type": "application/fhir+json"}
                )
                if response.status_code != 200:
                    raise RuntimeError(
                        f"loading facility {f}: HTTP {response.status_code} {response.text[:200]}"
                    )
                written += len(bundle["entry"])
    return {"resources_written": written, "load_s": round(time.perf_counter() - started, 1)}


def foreign_ids(own: int, facilities: int, patients: int) -> set[str]:
    """Server ids of every resource of the other facilities (and their Organizations)."""
    out = {facility_id(f) for f in range(1, facilities + 1) if f != own}
    for f in range(1, facilities + 1):
        if f == own:
            continue
        for i in range(patients):
            out.update(_id(f, i, k) for k in ("patient", "encounter", "bp", "condition"))
    return out
