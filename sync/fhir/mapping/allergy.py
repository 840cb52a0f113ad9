"""AllergyIntolerance <-> an allergy item (AllergyRecorded / AllergyStatusChanged).

Entered in error follows the R4 invariant ait-2: verificationStatus entered-in-error and no
clinicalStatus; the status it had is kept in our entered-in-error extension. A refuted allergy
reads as status "refuted", so it no longer blocks prescribing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.common import (
    DATA_ABSENT_REASON,
    FIELDCHART,
    Base,
    Json,
    code_in,
    coding,
    concept_text,
    expect_kind,
    mark_item,
    put,
    start_from,
    status_of,
    update,
    update_recorded,
    update_reference,
)
from sync.fhir.mapping.medicine_check import ALLERGY, read_check, update_check
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single

CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
# The bundled substance id (resources/codes/allergy_substances.json), used by allergy checks.
SUBSTANCE_SYSTEM = f"{FIELDCHART}:allergy-substance"
# Only the first reaction is ours.
OWNED = frozenset(
    {
        "clinicalStatus",
        "verificationStatus",
        "code",
        "category",
        "criticality",
        "reaction",
        "recordedDate",
        "patient",
        "extension",
    }
)
CLINICAL_CODES = frozenset({"active", "inactive", "resolved"})
VERIFICATION_CODES = frozenset({"unconfirmed", "confirmed", "refuted", "entered-in-error"})
CATEGORIES = frozenset({"food", "medication", "environment", "biologic"})
CRITICALITIES = frozenset({"low", "high", "unable-to-assess"})
SEVERITIES = frozenset({"mild", "moderate", "severe"})
# What the domain assumes when a resource does not say (app/domain/decide_clinical.py).
DEFAULT_CATEGORY = "medication"
DEFAULT_CRITICALITY = "unable-to-assess"


def to_fhir_allergy_intolerance(patient_id: str, item: Item, base: Base) -> Json:
    """The AllergyIntolerance to PUT for an allergy item, starting from the server's copy."""
    expect_kind(item, "allergy")
    data = item.data
    resource = start_from(base, "AllergyIntolerance", item.id)
    mark_item(resource, item)
    _update_verification(resource, item, base is None)
    if item.entered_in_error:
        resource.pop("clinicalStatus", None)
    elif item.status in CLINICAL_CODES:
        update(
            resource,
            "clinicalStatus",
            {"coding": [coding(CLINICAL, item.status)]},
            lambda c: status_of(c, CLINICAL) or (None if base is None else "active"),
            item.status,
        )
    wanted: Json = {"text": data["substance"]}
    if data.get("substance_id"):
        wanted = {"coding": [coding(SUBSTANCE_SYSTEM, data["substance_id"])], **wanted}
    update(resource, "code", wanted, _substance, (data["substance"], data.get("substance_id")))
    category, criticality = data["category"], data["criticality"]
    if base is None:
        resource["category"], resource["criticality"] = [category], criticality
    else:  # a server copy that does not say reads as the domain's defaults: keep it silent
        update(resource, "category", [category], _category, category)
        update(resource, "criticality", criticality, _criticality, criticality)
    _update_reaction(resource, data.get("reaction"), data.get("severity"))
    update_recorded(resource, "recordedDate", data["recorded_at"], base)
    update_reference(resource, "patient", "Patient", patient_id)
    update_check(resource, data, ALLERGY)
    return resource


def _substance(concept: Any) -> tuple[str | None, str | None]:
    return concept_text(concept), code_in(concept, SUBSTANCE_SYSTEM)


def _category(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else DEFAULT_CATEGORY


def _criticality(value: Any) -> Any:
    return DEFAULT_CRITICALITY if value is None else value


def _manifestation(reaction: Mapping[str, Any]) -> str | None:
    found = reaction.get("manifestation")
    return concept_text(found[0]) if isinstance(found, list) and found else None


def _update_reaction(resource: Json, text: str | None, severity: str | None) -> None:
    current = resource.get("reaction")
    reactions = list(current) if isinstance(current, list) else []
    first = reactions[0] if reactions and isinstance(reactions[0], Mapping) else None
    said = (_manifestation(first), first.get("severity")) if first else (None, None)
    if said == (text, severity):
        return
    if text is None and severity is None:
        put(resource, "reaction", reactions[1:])
        return
    new = dict(first) if first else {}
    if first is None or _manifestation(first) != text:
        # manifestation is required (1..*): say the reaction is unknown rather than invent one
        unknown = {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}
        new["manifestation"] = [{"text": text} if text else unknown]
    put(new, "severity", severity)
    resource["reaction"] = [new, *reactions[1:]]


def _update_verification(resource: Json, item: Item, fresh: bool) -> None:
    current = status_of(resource.get("verificationStatus"), VERIFICATION)
    if item.entered_in_error:
        wanted = "entered-in-error"
    elif item.status == "refuted":
        wanted = "refuted"
    elif current == "unconfirmed" or (current is None and not fresh):
        return  # another system's judgement (or its silence) stands
    else:
        wanted = "confirmed"
    if current != wanted:
        resource["verificationStatus"] = {"coding": [coding(VERIFICATION, wanted)]}


def from_fhir_allergy_intolerance(resource: Mapping[str, Any]) -> RemoteItem:
    """An allergy item from a server AllergyIntolerance."""
    r = Reader(resource, "AllergyIntolerance")
    patient_id = r.patient(resource.get("patient"), "patient")
    substance, substance_id = _substance(r.concept(resource.get("code"), "code"))
    if substance is None:
        r.unsupported("code", "names no substance (no text or display)")
    categories = r.array(resource.get("category"), "category")
    category = r.code(categories[0], "category[0]", CATEGORIES) if categories else None
    criticality = r.code(resource.get("criticality"), "criticality", CRITICALITIES)
    reactions = r.array(resource.get("reaction"), "reaction")
    first = r.obj(reactions[0], "reaction[0]") if reactions else None
    if first is not None:
        for i, entry in enumerate(r.array(first.get("manifestation"), "reaction[0].manifestation")):
            r.concept(entry, f"reaction[0].manifestation[{i}]")
    clinical = status_of(r.concept(resource.get("clinicalStatus"), "clinicalStatus"), CLINICAL)
    if clinical is not None and clinical not in CLINICAL_CODES:
        r.fail("clinicalStatus", "is not a code of its value set")
    verification_concept = r.concept(resource.get("verificationStatus"), "verificationStatus")
    verification = status_of(verification_concept, VERIFICATION)
    if verification is not None and verification not in VERIFICATION_CODES:
        r.fail("verificationStatus", "is not a code of its value set")
    data: dict[str, Any] = {
        "allergy_id": r.id,
        "substance": substance,
        "substance_id": substance_id,
        "category": category or DEFAULT_CATEGORY,
        "criticality": criticality or DEFAULT_CRITICALITY,
        "recorded_at": r.recorded(resource.get("recordedDate"), "recordedDate"),
        "reaction": _manifestation(first) if first else None,
        "severity": r.code(first.get("severity"), "reaction[0].severity", SEVERITIES)
        if first
        else None,
        **read_check(resource, ALLERGY),
    }
    in_error = verification == "entered-in-error"
    if in_error:
        before, reason = r.marker()
        status = before or clinical or "active"
        data["entered_in_error_reason"] = reason
    else:
        status = "refuted" if verification == "refuted" else clinical or "active"
    return single(
        "allergy", "AllergyIntolerance", r.id, patient_id, r.version_id, status, in_error, data
    )
