"""A seeded set of what other systems write about one patient, written straight to a FHIR server
as those systems would (POST, server-assigned ids): a district lab's results, a campaign's
immunization, a hospital's report, discharge PDF, procedure and medication statement, plus a
few malformed resources. Reusable by any test that needs "the server holds records FieldChart
did not write" (issue 16): `seed_foreign(client, patient_server_id)`.

Every well-formed record must show somewhere in the chart (other records, or the lists of the
kinds that model it); the quarantine must hold exactly the malformed ones.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from app.services.dto import ChartView, ItemView
from sync.fhir.client import FhirClient
from sync.fhir.errors import RejectedError

LOINC = "http://loinc.org"
LAB = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory",
        }
    ]
}
DISTRICT_LAB = {"display": "Mkoani District Laboratory"}
EFFECTIVE = "2026-11-28T09:30:00+03:00"


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF saying `text` (Helvetica), with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 20 260 Td ({text}) Tj ET".encode()
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 420 297]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length %d>>stream\n%s\nendstream" % (len(stream), stream),
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


TINY_PDF = tiny_pdf("Discharge summary: appendectomy, recovered well")


@dataclass
class ForeignSet:
    """What was written: server ids of the well-formed records (by what a chart shows of
    them, e.g. "Creatinine") and of the malformed ones."""

    patient: str
    shown: dict[str, str] = field(default_factory=dict)  # server id -> expected text
    malformed: dict[str, str] = field(default_factory=dict)  # server id -> what is wrong
    #: Malformed ones the server refused to store (the real Medplum checks base64 itself).
    refused: list[str] = field(default_factory=list)


def _observation(patient: str, code: str, display: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [LAB],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": EFFECTIVE,
        "performer": [DISTRICT_LAB],
        **value,
    }


def well_formed(patient: str) -> list[tuple[str, dict[str, Any]]]:
    """(what the chart shows of it, resource) for each well-formed record."""
    subject = {"reference": f"Patient/{patient}"}
    return [
        (
            "Hemoglobin",
            _observation(
                patient,
                "718-7",
                "Hemoglobin [Mass/volume] in Blood",
                valueQuantity={
                    "value": 10.4,
                    "unit": "g/dL",
                    "system": "http://unitsofmeasure.org",
                    "code": "g/dL",
                },
            ),
        ),
        (
            "Creatinine",
            _observation(
                patient,
                "2160-0",
                "Creatinine [Mass/volume] in Serum or Plasma",
                valueQuantity={
                    "value": 1.3,
                    "unit": "mg/dL",
                    "system": "http://unitsofmeasure.org",
                    "code": "mg/dL",
                },
            ),
        ),
        (
            "Plasmodium",
            _observation(
                patient,
                "32700-7",
                "Plasmodium sp identified in Blood by Light microscopy",
                valueCodeableConcept={"text": "Plasmodium falciparum seen"},
            ),
        ),
        (
            "Measles",
            {
                "resourceType": "Immunization",
                "status": "completed",
                "vaccineCode": {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/sid/cvx",
                            "code": "05",
                            "display": "measles",
                        }
                    ],
                    "text": "Measles vaccine",
                },
                "patient": subject,
                "occurrenceDateTime": "2026-10-15",
                "primarySource": False,
                "performer": [{"actor": {"display": "National measles campaign 2026"}}],
                "protocolApplied": [{"doseNumberPositiveInt": 1}],
            },
        ),
        (
            "Basic metabolic panel",
            {
                "resourceType": "DiagnosticReport",
                "status": "final",
                "category": [LAB],
                "code": {
                    "coding": [
                        {"system": LOINC, "code": "51990-0", "display": "Basic metabolic panel"}
                    ]
                },
                "subject": subject,
                "effectiveDateTime": EFFECTIVE,
                "issued": "2026-11-28T12:00:00+03:00",
                "performer": [DISTRICT_LAB],
                "conclusion": "Mildly raised creatinine",
            },
        ),
        (
            "Discharge summary",
            {
                "resourceType": "DocumentReference",
                "status": "current",
                "type": {
                    "coding": [{"system": LOINC, "code": "18842-5", "display": "Discharge summary"}]
                },
                "subject": subject,
                "date": "2026-11-20T16:00:00+03:00",
                "author": [{"display": "Regional Referral Hospital"}],
                "content": [
                    {
                        "attachment": {
                            "contentType": "application/pdf",
                            "title": "Discharge summary.pdf",
                            "data": base64.b64encode(TINY_PDF).decode(),
                        }
                    }
                ],
            },
        ),
        (
            "Appendectomy",
            {
                "resourceType": "Procedure",
                "status": "completed",
                "code": {"text": "Appendectomy"},
                "subject": subject,
                "performedDateTime": "2026-11-18",
                "performer": [{"actor": {"display": "Regional Referral Hospital"}}],
            },
        ),
        (
            "Ferrous sulfate",
            {
                "resourceType": "MedicationStatement",
                "status": "active",
                "medicationCodeableConcept": {"text": "Ferrous sulfate 200 mg"},
                "subject": subject,
                "effectiveDateTime": "2026-11-20",
                "dosage": [{"text": "1 tablet daily"}],
                "informationSource": {"display": "Regional Referral Hospital"},
            },
        ),
    ]


def malformed(patient: str) -> list[tuple[str, dict[str, Any]]]:
    """(what is wrong, resource) for records FieldChart must not show: each passes the real
    server's own validation (another system could write it) but breaks what a chart needs."""
    subject = {"reference": f"Patient/{patient}"}
    return [
        (
            "an Observation whose status is not a code of its value set",
            _observation(patient, "2345-7", "Glucose", status="done"),
        ),
        (
            "a result about a Group, not a patient",
            _observation(patient, "2345-7", "Glucose", subject={"reference": "Group/ward-3"}),
        ),
        (
            "a procedure that names no patient",
            {
                "resourceType": "Procedure",
                "status": "completed",
                "code": {"text": "Unknown procedure"},
                "subject": {"display": "somebody"},
            },
        ),
        (
            "a document whose attachment is not base64",
            {
                "resourceType": "DocumentReference",
                "status": "current",
                "subject": subject,
                "content": [{"attachment": {"contentType": "application/pdf", "data": "%%%"}}],
            },
        ),
    ]


def seed_foreign(client: FhirClient, patient: str) -> ForeignSet:
    """Write the set for the patient with server id `patient`. A malformed resource the
    server itself refuses is left out (listed in `refused`)."""
    found = ForeignSet(patient)
    for text, resource in well_formed(patient):
        created = client.create(resource["resourceType"], resource)
        found.shown[str(created.resource["id"])] = text
    for problem, resource in malformed(patient):
        try:
            created = client.create(resource["resourceType"], resource)
        except RejectedError:
            found.refused.append(problem)
            continue
        found.malformed[str(created.resource["id"])] = problem
    return found


def shown_items(view: ChartView) -> list[ItemView]:
    """Every item of the chart that can show another system's record: the other records and
    the lists of kinds that model some of them (test results, immunizations, referrals)."""
    lists = ("other_records", "test_results", "immunizations", "referrals", "notes", "problems")
    items: list[ItemView] = []
    for name in lists:
        items += getattr(view, name, None) or []
    return items
