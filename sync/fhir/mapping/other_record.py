"""Records other systems wrote that FieldChart does not model: read as read-only "other" items.

A district lab's creatinine, a campaign's Immunization, a hospital's discharge PDF: valid FHIR
about one of our patients that no reader of FieldChart's own kinds understands (or only partly:
an Observation whose code is not a vital sign). Quarantining them hid them from the clinician
(issue 16), so they become "other" items: a summary of what the resource says (type, what,
value, date, status, source, attachments) shown in the chart's "Other records" tab.

Still quarantined: malformed input (a status outside its value set, a date that is not a date,
broken base64) and a resource that names no patient of ours (no literal Patient reference).
FieldChart's own resources that come back unreadable stay quarantined too: turning one into a
read-only copy would silently replace the item a clinician edits.
docs/clinical/other-records.md has the rules and why.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from sync.fhir.mapping.common import FIELDCHART_ID, concept_text, parse_reference
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single

__all__ = ["MAX_KEPT_ATTACHMENT", "from_fhir_other", "is_ours", "readable_as_other"]

#: Attachments up to this size (decoded) are kept in the item, so a PDF opens from the vault;
#: larger ones keep only their title, type and size (the log is not a file store).
MAX_KEPT_ATTACHMENT = 2 * 1024 * 1024

#: Never "other": a patient is not a record about one, and audit trails are kept apart.
_NOT_OTHER = frozenset({"Patient", "AuditEvent", "Group", "Organization", "Practitioner"})

_OBSERVATION = frozenset(
    {"registered", "preliminary", "final", "amended", "corrected", "cancelled"}
    | {"entered-in-error", "unknown"}
)
#: R4 status value sets of the types pulled (required where R4 has status 1..1).
_STATUSES: Mapping[str, frozenset[str]] = {
    "Observation": _OBSERVATION,
    "DiagnosticReport": _OBSERVATION | {"partial", "appended"},
    "Immunization": frozenset({"completed", "entered-in-error", "not-done"}),
    "Procedure": frozenset(
        {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed"}
        | {"entered-in-error", "unknown"}
    ),
    "MedicationStatement": frozenset(
        {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold"}
        | {"unknown", "not-taken"}
    ),
    "ServiceRequest": frozenset(
        {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
    ),
    "MedicationRequest": frozenset(
        {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped"}
        | {"draft", "unknown"}
    ),
    "DocumentReference": frozenset({"current", "superseded", "entered-in-error"}),
    "Encounter": frozenset(
        {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled"}
        | {"entered-in-error", "unknown"}
    ),
    "Appointment": frozenset(
        {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow"}
        | {"entered-in-error", "checked-in", "waitlist"}
    ),
}
#: The element naming what the record is about, per type (else `code`).
_WHAT = {
    "Immunization": "vaccineCode",
    "MedicationStatement": "medicationCodeableConcept",
    "MedicationRequest": "medicationCodeableConcept",
    "DocumentReference": "type",
    "AllergyIntolerance": "code",
    "Encounter": "type",
    "Appointment": "serviceType",
}
#: Elements naming who or which system made the record, most specific first.
_SOURCE_ELEMENTS = (
    "performer",
    "author",
    "recorder",
    "requester",
    "informationSource",
    "asserter",
    "custodian",
)
_LABELS = {
    "DiagnosticReport": "Report",
    "DocumentReference": "Document",
    "Immunization": "Immunization",
    "Procedure": "Procedure",
    "MedicationStatement": "Medication statement",
    "MedicationRequest": "Prescription",
    "ServiceRequest": "Request",
    "Condition": "Condition",
    "AllergyIntolerance": "Allergy",
    "Encounter": "Encounter",
    "Appointment": "Appointment",
}


def is_ours(resource: Mapping[str, Any]) -> bool:
    """Whether FieldChart wrote it (it carries a FieldChart id)."""
    found = resource.get("identifier")
    return any(
        isinstance(i, Mapping) and i.get("system") == FIELDCHART_ID
        for i in (found if isinstance(found, list) else [])
    )


def readable_as_other(resource: Mapping[str, Any]) -> bool:
    """Whether an unfamiliar resource may become an "other" item (not ours, not a patient)."""
    resource_type = resource.get("resourceType")
    return (
        isinstance(resource_type, str) and resource_type not in _NOT_OTHER and not is_ours(resource)
    )


def from_fhir_other(resource: Mapping[str, Any]) -> RemoteItem:
    """A read-only "other" item summarising the resource (MalformedResourceError if it is
    malformed or names no patient)."""
    resource_type = str(resource.get("resourceType"))[:40]
    r = Reader(resource, resource_type)
    status = _status(r, resource_type)
    patient_id = _patient(r)
    what_element = _WHAT.get(resource_type, "code")
    what = _what(r, what_element)
    data: dict[str, Any] = {
        "resource_type": resource_type,
        "label": _label(r, resource_type),
        "what": what,
        "code": _first_coding(resource.get(what_element)),
        "value": _value(r, resource_type),
        "date": _date(r),
        "status": status,
        "source": _source(r),
        "patient_id": patient_id,
        "attachments": _attachments(r, resource_type),
    }
    in_error = status == "entered-in-error"
    return single(
        "other",
        resource_type,
        r.id,
        patient_id,
        r.version_id,
        status or "unknown",
        in_error,
        data,
    )


def _status(r: Reader, resource_type: str) -> str | None:
    allowed = _STATUSES.get(resource_type)
    if allowed is None:
        return r.string(r.resource.get("status"), "status")
    found = r.code(r.resource.get("status"), "status", allowed)
    if found is None:
        r.fail("status", "is missing")
    return found


def _patient(r: Reader) -> str:
    """The patient from `subject` or `patient`: a literal Patient reference, else malformed
    (a record that cannot be placed on a chart is for IT, not for any chart)."""
    if r.resource.get("resourceType") == "Appointment":  # its patient is a participant
        for i, raw in enumerate(r.array(r.resource.get("participant"), "participant")):
            actor = (r.obj(raw, f"participant[{i}]") or {}).get("actor")
            parsed = parse_reference(actor.get("reference")) if isinstance(actor, Mapping) else None
            if parsed is not None and parsed[0] == "Patient":
                return parsed[1]
        r.fail("participant", "names no patient")
    for element in ("subject", "patient"):
        ref = r.obj(r.resource.get(element), element)
        if ref is None:
            continue
        parsed = parse_reference(ref.get("reference"))
        if parsed is None or parsed[0] != "Patient":
            r.fail(f"{element}.reference", "does not name a Patient")
        return parsed[1]
    r.fail("subject", "is missing: the record names no patient")


def _what(r: Reader, element: str) -> str | None:
    resource = r.resource
    concept = r.concept(resource.get(element), element)
    text = concept_text(concept) if concept is not None else None
    if text is None and element.startswith("medication"):
        ref = r.obj(resource.get("medicationReference"), "medicationReference")
        text = _display(ref)
    if text is None and isinstance(resource.get("description"), str):
        text = resource["description"]
    return text


def _first_coding(concept: Any) -> dict[str, str] | None:
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    for c in codings if isinstance(codings, list) else []:
        if isinstance(c, Mapping) and isinstance(c.get("code"), str):
            found = {"system": str(c.get("system") or ""), "code": c["code"]}
            if isinstance(c.get("display"), str):
                found["display"] = c["display"]
            return found
    return None


def _label(r: Reader, resource_type: str) -> str:
    """What kind of record it is, in the words of a chart ("Lab result", "Document")."""
    if resource_type == "Observation":
        categories = r.array(r.resource.get("category"), "category")
        codes = {str(c.get("code")) for cat in categories for c in _codings(cat)}
        if "laboratory" in codes:
            return "Lab result"
        if "vital-signs" in codes:
            return "Vital sign"
        return "Observation"
    return _LABELS.get(resource_type, resource_type)


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    return [c for c in codings if isinstance(c, Mapping)] if isinstance(codings, list) else []


def _value(r: Reader, resource_type: str) -> str | None:
    """The record's result in words: a quantity with its unit, a string, a concept, or what
    the type carries instead (a report's conclusion, a dose number, a dosage text)."""
    resource = r.resource
    quantity = r.obj(resource.get("valueQuantity"), "valueQuantity")
    if quantity is not None:
        number = r.number(quantity.get("value"), "valueQuantity.value")
        unit = quantity.get("unit") or quantity.get("code")
        comparator = (
            quantity.get("comparator") if isinstance(quantity.get("comparator"), str) else ""
        )
        if number is not None:
            shown = f"{comparator}{number:g}"
            return f"{shown} {unit}" if isinstance(unit, str) and unit else shown
    for key in ("valueString", "conclusion"):
        text = r.string(resource.get(key), key)
        if text is not None:
            return text
    concept = r.concept(resource.get("valueCodeableConcept"), "valueCodeableConcept")
    if concept is not None:
        return concept_text(concept)
    for key in ("valueBoolean", "valueInteger"):
        if isinstance(resource.get(key), bool | int):
            return str(resource[key]).lower() if key == "valueBoolean" else str(resource[key])
    if resource_type == "Immunization":
        return _dose(r)
    if resource_type == "MedicationStatement":
        dosage = r.array(resource.get("dosage"), "dosage")
        first = r.obj(dosage[0], "dosage[0]") if dosage else None
        return r.string(first.get("text"), "dosage[0].text") if first else None
    if resource_type == "Procedure":
        outcome = r.concept(resource.get("outcome"), "outcome")
        return concept_text(outcome) if outcome is not None else None
    if resource_type == "DiagnosticReport":
        results = r.array(resource.get("result"), "result")
        return f"{len(results)} result(s)" if results else None
    return None


def _dose(r: Reader) -> str | None:
    protocols = r.array(r.resource.get("protocolApplied"), "protocolApplied")
    first = r.obj(protocols[0], "protocolApplied[0]") if protocols else None
    number = first.get("doseNumberPositiveInt") if first else None
    if isinstance(number, int) and not isinstance(number, bool):
        return f"dose {number}"
    return None


def _date(r: Reader) -> str | None:
    """When it happened: the clinical time the type carries, else when it was recorded."""
    for prefix in ("effective", "occurrence", "performed"):
        found = r.time_choice(prefix)
        if found is not None:
            return found
    for element in ("issued", "authoredOn", "date", "recorded", "recordedDate", "dateAsserted"):
        found = r.date_time(r.resource.get(element), element)
        if found is not None:
            return found
    period = r.obj(r.resource.get("period"), "period")
    return r.date_time(period.get("start"), "period.start") if period else None


def _source(r: Reader) -> str | None:
    """Who or which system made it: a named performer, author... else meta.source."""
    resource = r.resource
    for element in _SOURCE_ELEMENTS:
        value = resource.get(element)
        for entry in value if isinstance(value, list) else [value]:
            ref = entry.get("actor") if isinstance(entry, Mapping) and "actor" in entry else entry
            shown = _display(ref if isinstance(ref, Mapping) else None)
            if shown:
                return shown
    meta = resource.get("meta")
    source = meta.get("source") if isinstance(meta, Mapping) else None
    return source if isinstance(source, str) and source else None


def _display(ref: Mapping[str, Any] | None) -> str | None:
    if ref is None:
        return None
    for key in ("display", "reference"):
        value = ref.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _attachments(r: Reader, resource_type: str) -> list[dict[str, Any]]:
    """A document's attachments (a report's presented forms): type, title, size, and the
    data itself when small enough (base64, as FHIR carries it)."""
    found: list[tuple[str, Any]] = []
    if resource_type == "DocumentReference":
        for i, content in enumerate(r.array(r.resource.get("content"), "content")):
            entry = r.obj(content, f"content[{i}]") or {}
            found.append((f"content[{i}].attachment", entry.get("attachment")))
    elif resource_type == "DiagnosticReport":
        forms = r.array(r.resource.get("presentedForm"), "presentedForm")
        found = [(f"presentedForm[{i}]", form) for i, form in enumerate(forms)]
    return [_attachment(r, element, raw) for element, raw in found if raw is not None]


def _attachment(r: Reader, element: str, raw: Any) -> dict[str, Any]:
    attachment = r.obj(raw, element) or {}
    content_type = r.string(attachment.get("contentType"), f"{element}.contentType")
    title = r.string(attachment.get("title"), f"{element}.title")
    declared = attachment.get("size")
    if declared is not None and (
        isinstance(declared, bool) or not isinstance(declared, int) or declared < 0
    ):
        r.fail(f"{element}.size", "is not a non-negative integer")
    encoded = r.string(attachment.get("data"), f"{element}.data")
    data = None
    size = declared
    if encoded is not None:
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            r.fail(f"{element}.data", "is not base64")
        size = len(decoded)
        data = encoded if size <= MAX_KEPT_ATTACHMENT else None
    url = attachment.get("url")
    return {
        "content_type": content_type,
        "title": title,
        "size": size,
        "data": data,
        "url": url if isinstance(url, str) else None,
    }
