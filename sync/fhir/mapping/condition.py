"""Condition <-> a diagnosis item (DiagnosisRecorded / DiagnosisResolved).

Entered in error follows the R4 invariants: verificationStatus entered-in-error, no
clinicalStatus (con-5), and so no abatement either (con-4); the status it had is kept in our
entered-in-error extension, its resolution time is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.common import (
    ICD10,
    ICD10_CM,
    Base,
    Json,
    choice_time,
    code_in,
    coding,
    concept_text,
    expect_kind,
    mark_item,
    start_from,
    status_of,
    update,
    update_choice_time,
    update_recorded,
    update_reference,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
# `category` is written only on Conditions FieldChart creates.
OWNED = frozenset(
    {
        "clinicalStatus",
        "verificationStatus",
        "category",
        "code",
        "subject",
        "encounter",
        "onsetDateTime",
        "abatementDateTime",
        "recordedDate",
        "extension",
    }
)
CLINICAL_CODES = frozenset({"active", "recurrence", "relapse", "inactive", "remission", "resolved"})
CLINICAL_EQUIVALENTS = {
    "recurrence": "active",
    "relapse": "active",
    "inactive": "resolved",
    "remission": "resolved",
}
VERIFICATION_CODES = frozenset(
    {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}
)


def status_concept(system: str, code: str) -> Json:
    """A CodeableConcept with one coding, as statuses and categories are."""
    return {"coding": [coding(system, code)]}


def to_fhir_condition(patient_id: str, item: Item, base: Base) -> Json:
    """The Condition to PUT for a diagnosis item, starting from the server's copy."""
    expect_kind(item, "diagnosis")
    data = item.data
    resource = start_from(base, "Condition", item.id)
    mark_item(resource, item)
    _update_verification(resource, item, base is None)
    if item.entered_in_error:
        resource.pop("clinicalStatus", None)
    elif item.status in ("active", "resolved"):
        # A server copy without clinicalStatus reads as what its abatement implies.
        unsaid = None
        if base is not None:
            unsaid = "resolved" if choice_time(resource, "abatement") else "active"
        update(
            resource,
            "clinicalStatus",
            status_concept(CLINICAL, item.status),
            lambda c: _clinical(status_of(c, CLINICAL)) or unsaid,
            item.status,
        )
    if base is None:
        code = "encounter-diagnosis" if data.get("encounter_id") else "problem-list-item"
        resource["category"] = [status_concept(CATEGORY, code)]
    wanted = {"text": data["text"]}
    if data.get("code"):
        wanted = {"coding": [coding(ICD10_CM, data["code"])], **wanted}
    update(resource, "code", wanted, _code_key, (data.get("code"), data["text"]))
    update_reference(resource, "subject", "Patient", patient_id)
    update_reference(resource, "encounter", "Encounter", data.get("encounter_id"))
    update_choice_time(resource, "onset", data.get("onset"))
    if item.entered_in_error:
        for key in [k for k in resource if k.startswith(("abatement", "_abatement"))]:
            del resource[key]
    else:
        update_choice_time(resource, "abatement", data.get("resolved_at"))
    update_recorded(resource, "recordedDate", data["recorded_at"], base)
    return resource


def _clinical(code: str | None) -> str | None:
    return CLINICAL_EQUIVALENTS.get(code, code) if code else None


def _code_key(concept: Any) -> tuple[str | None, str | None]:
    code = code_in(concept, ICD10_CM, ICD10)
    return code, concept_text(concept) or code


def _update_verification(resource: Json, item: Item, fresh: bool) -> None:
    current = status_of(resource.get("verificationStatus"), VERIFICATION)
    if item.entered_in_error:
        wanted = "entered-in-error"
    elif item.status == "refuted":
        wanted = "refuted"
    elif current not in (None, "entered-in-error", "refuted") or (current is None and not fresh):
        return  # unconfirmed, provisional, differential, or unsaid: another system's judgement
    else:
        wanted = "confirmed"
    if current != wanted:
        resource["verificationStatus"] = status_concept(VERIFICATION, wanted)


def from_fhir_condition(resource: Mapping[str, Any]) -> RemoteItem:
    """A diagnosis item from a server Condition."""
    r = Reader(resource, "Condition")
    patient_id = r.patient(resource.get("subject"))
    code, text = _code_key(r.concept(resource.get("code"), "code"))
    if text is None:
        r.unsupported("code", "has neither text nor an ICD-10 coding")
    clinical = status_of(r.concept(resource.get("clinicalStatus"), "clinicalStatus"), CLINICAL)
    if clinical is not None and clinical not in CLINICAL_CODES:
        r.fail("clinicalStatus", "is not a code of its value set")
    verification_concept = r.concept(resource.get("verificationStatus"), "verificationStatus")
    verification = status_of(verification_concept, VERIFICATION)
    if verification is not None and verification not in VERIFICATION_CODES:
        r.fail("verificationStatus", "is not a code of its value set")
    abatement = r.time_choice("abatement")
    inferred = _clinical(clinical) or ("resolved" if abatement else "active")
    extra: dict[str, Any] = {}
    in_error = verification == "entered-in-error"
    if in_error:
        before, reason = r.marker()
        status = before or inferred
        extra["entered_in_error_reason"] = reason
    else:
        # A refuted diagnosis is not on the problem list; the chart shows it as refuted.
        status = "refuted" if verification == "refuted" else inferred
    data: dict[str, Any] = {
        "diagnosis_id": r.id,
        "code": code,
        "text": text,
        "recorded_at": r.recorded(resource.get("recordedDate"), "recordedDate"),
        "onset": r.time_choice("onset"),
        "encounter_id": r.reference(resource.get("encounter"), "encounter", "Encounter"),
    }
    if status == "resolved":
        data["resolved_at"] = abatement
    data.update(extra)
    return single("diagnosis", "Condition", r.id, patient_id, r.version_id, status, in_error, data)
