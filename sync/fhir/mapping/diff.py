"""Comparing a resource with the server's copy, so push skips writes that change nothing (an
identical PUT still makes a new version, which other devices would see as a conflict)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.fhir.mapping.allergy import OWNED as ALLERGY
from sync.fhir.mapping.appointment import OWNED as APPOINTMENT
from sync.fhir.mapping.common import FIELDCHART
from sync.fhir.mapping.communication import OWNED as COMMUNICATION
from sync.fhir.mapping.condition import OWNED as CONDITION
from sync.fhir.mapping.document import OWNED as DOCUMENT
from sync.fhir.mapping.encounter import OWNED as ENCOUNTER
from sync.fhir.mapping.immunization import OWNED as IMMUNIZATION
from sync.fhir.mapping.laboratory import OWNED as LABORATORY
from sync.fhir.mapping.medication import OWNED as MEDICATION
from sync.fhir.mapping.observation import OWNED as OBSERVATION
from sync.fhir.mapping.patient import OWNED as PATIENT
from sync.fhir.mapping.service_request import OWNED as SERVICE_REQUEST

# Top-level elements FieldChart writes, per resource type. Several are owned only in part (one
# name of a Patient, the first reaction of an allergy...); see each module's docstring.
OWNED_ELEMENTS: Mapping[str, frozenset[str]] = {
    "Patient": PATIENT,
    "Encounter": ENCOUNTER,
    "Observation": OBSERVATION | LABORATORY,
    "Condition": CONDITION,
    "AllergyIntolerance": ALLERGY,
    "MedicationRequest": MEDICATION,
    "DocumentReference": DOCUMENT,
    "Appointment": APPOINTMENT,
    "Immunization": IMMUNIZATION,
    "ServiceRequest": SERVICE_REQUEST,
    "Communication": COMMUNICATION,
}
# Choice elements ([x]) whose every variant is ours when one is.
_CHOICES: Mapping[str, tuple[str, ...]] = {
    "Observation": ("effective", "value"),
    "Condition": ("onset", "abatement"),
    "MedicationRequest": ("medication",),
}
_SERVER_META = ("versionId", "lastUpdated")


def _content(resource: Mapping[str, Any] | None) -> dict[str, Any]:
    """The resource without what the server sets on every write."""
    if resource is None:
        return {}
    content = dict(resource)
    meta = content.get("meta")
    if isinstance(meta, Mapping):
        kept = {k: v for k, v in meta.items() if k not in _SERVER_META}
        if kept:
            content["meta"] = kept
        else:
            del content["meta"]
    return content


def changed_elements(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> frozenset[str]:
    """Top-level elements that differ (meta.versionId and meta.lastUpdated ignored)."""
    old, new = _content(before), _content(after)
    return frozenset(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def is_owned(resource_type: str, element: str) -> bool:
    """True if FieldChart writes this top-level element of this type."""
    if element in OWNED_ELEMENTS.get(resource_type, frozenset()):
        return True
    return any(element.startswith(p) for p in _CHOICES.get(resource_type, ()))


def _ours(resource_type: str, element: str, value: Any) -> Any:
    """The part of an element FieldChart owns: of `extension` its own extensions, of an
    Observation's `identifier` its vitals-set identifier."""
    entries = value if isinstance(value, list) else []
    if element == "extension":
        return [e for e in entries if isinstance(e, Mapping) and _is_fieldchart(e.get("url"))]
    if (resource_type, element) == ("Observation", "identifier"):
        return [e for e in entries if isinstance(e, Mapping) and _is_fieldchart(e.get("system"))]
    return value


def _is_fieldchart(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(f"{FIELDCHART}:")


def diff_owned_elements(
    before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> frozenset[str]:
    """Elements FieldChart owns that differ between two copies of a resource (e.g. what a
    newer server version changed of ours, or what a write would change)."""
    resource_type = str(after.get("resourceType"))
    old = before or {}
    return frozenset(
        e
        for e in changed_elements(before, after)
        if is_owned(resource_type, e)
        and _ours(resource_type, e, old.get(e)) != _ours(resource_type, e, after.get(e))
    )
