"""What every mapper shares: code systems, ids and references, and the rules for updating a
server copy in place.

Updating in place follows one rule: an element keeps the server's wording when it already says
what the domain says (same instant in another offset, a status code that means the same domain
status, a reference with a display). Only a real difference is written, so mapping an
unchanged item onto its latest server copy gives that copy back and push can skip the write.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from app.domain.chart import Item
from sync.fhir.mapping.errors import MalformedResourceError
from sync.fhir.mapping.times import instant_key

Json = dict[str, Any]
Base = Mapping[str, Any] | None

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
# The bundled diagnosis list (resources/codes/icd10_primary_care.json) is ICD-10-CM, so that is
# the system we write; WHO ICD-10 codings from other systems are read as well.
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

# FieldChart's own namespace, for what FHIR has no element for. Never change these: servers hold
# resources written with them. (Same scheme as the tests' patient identifiers, urn:fieldchart:mrn.)
FIELDCHART = "urn:fieldchart:fhir"
EXT_ENTERED_IN_ERROR = f"{FIELDCHART}:extension:entered-in-error"
# Every resource FieldChart creates carries its FieldChart id under this system, so that it is
# found again on a server that gave it an id of its own (sync/server_ids.py).
FIELDCHART_ID = f"{FIELDCHART}:id"

# FHIR's id pattern, except "." and "..": in a URL path they mean "here" and "up".
FHIR_ID = re.compile(r"(?!\.\.?$)[A-Za-z0-9\-.]{1,64}")
_REFERENCE = re.compile(
    r"(?:^|/)([A-Z][A-Za-z]+)/(?!\.\.?(?:/|$))([A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)


class ResourceKey(NamedTuple):
    """One server resource: its type and id."""

    resource_type: str
    id: str

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.id}"


# -- building and updating ----------------------------------------------------------------


def start_from(base: Base, resource_type: str, resource_id: str) -> Json:
    """A deep copy of the server's copy (or a new resource) without server-managed meta."""
    if not FHIR_ID.fullmatch(resource_id):
        raise ValueError(f"{resource_type} id is not a FHIR id")
    if base is None:
        return {"resourceType": resource_type, "id": resource_id}
    if base.get("resourceType") != resource_type or base.get("id") != resource_id:
        raise MalformedResourceError(
            f"{resource_type}/{resource_id}", "resourceType/id", "of the base copy do not match"
        )
    return strip_server_meta(copy.deepcopy(dict(base)))


# Narratives made from the structured data alone (FHIR R4 Narrative.status): once we change
# that data they describe old values. "additional" narratives carry more than the data and
# are kept; "empty" ones say nothing.
_DERIVED_NARRATIVE = frozenset({"generated", "extensions"})


def without_stale_narrative(built: Json, base: Base) -> Json:
    """`built` (our update of `base`, the server's copy) without a narrative generated from
    the data it changed: a reader of the resource would otherwise see the old values there."""
    text = built.get("text")
    if base is None or not isinstance(text, dict) or text.get("status") not in _DERIVED_NARRATIVE:
        return built
    old = strip_server_meta(copy.deepcopy(dict(base)))
    if {k: v for k, v in built.items() if k != "text"} != {
        k: v for k, v in old.items() if k != "text"
    }:
        del built["text"]
    return built


def strip_server_meta(resource: Json) -> Json:
    """Remove what the server sets on every write (meta.versionId, meta.lastUpdated)."""
    meta = resource.get("meta")
    if isinstance(meta, dict):
        meta.pop("versionId", None)
        meta.pop("lastUpdated", None)
        if not meta:
            del resource["meta"]
    return resource


def put(target: Json, key: str, value: Any) -> None:
    """Set an element, or remove it when the value is None or empty."""
    if value is None or value == [] or value == {}:
        target.pop(key, None)
    else:
        target[key] = value


def update(target: Json, key: str, wire: Any, read: Callable[[Any], Any] | None, want: Any) -> None:
    """Write `wire` unless the current element already reads as `want` (`read` None: compare
    the element itself)."""
    current = target.get(key)
    if (current if read is None else read(current)) == want:
        return
    put(target, key, wire)


def update_value(target: Json, key: str, value: Any) -> None:
    """Write `value` unless the element already equals it."""
    update(target, key, value, lambda current: current, value)


def update_instant(target: Json, key: str, value: str | None) -> None:
    """Keep the server's spelling of the same instant (offset, milliseconds)."""
    update(target, key, value, instant_key, instant_key(value))


def child(target: Json, key: str) -> Json:
    """A nested object to update in place (created when missing or not an object)."""
    found = target.get(key)
    if not isinstance(found, dict):
        found = {}
        target[key] = found
    return found


def drop_if_empty(target: Json, key: str) -> None:
    """Remove an element left empty by an update."""
    if target.get(key) in ({}, []):
        del target[key]


# -- codes and concepts -------------------------------------------------------------------


def coding(system: str, code: str, display: str | None = None) -> Json:
    """A Coding (display only when given)."""
    result: Json = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def codings_of(concept: Any) -> list[Mapping[str, Any]]:
    """The Codings of a CodeableConcept (none if it is not one)."""
    if not isinstance(concept, Mapping) or not isinstance(concept.get("coding"), list):
        return []
    return [c for c in concept["coding"] if isinstance(c, Mapping)]


def code_in(concept: Any, *systems: str) -> str | None:
    """The first code of the concept in one of `systems`."""
    for c in codings_of(concept):
        if c.get("system") in systems and isinstance(c.get("code"), str):
            return str(c["code"])
    return None


def has_code(concept: Any, system: str, code: str) -> bool:
    """True if the concept has this system and code."""
    return any(c.get("system") == system and c.get("code") == code for c in codings_of(concept))


def concept_text(concept: Any) -> str | None:
    """What a person reads for a CodeableConcept: its text, else the first coding's display."""
    if not isinstance(concept, Mapping):
        return None
    text = concept.get("text")
    if isinstance(text, str) and text:
        return text
    for c in codings_of(concept):
        if isinstance(c.get("display"), str) and c["display"]:
            return str(c["display"])
    return None


def update_text_concept(target: Json, key: str, text: str | None) -> None:
    """Own a CodeableConcept by its text."""
    update(target, key, {"text": text} if text else None, concept_text, text)


def update_first_text_concept(target: Json, key: str, text: str | None) -> None:
    """Own the first CodeableConcept of a list by its text; later entries are kept."""
    current = target.get(key)
    entries = list(current) if isinstance(current, list) else []
    if (concept_text(entries[0]) if entries else None) == text:
        return
    rest = entries[1:]
    put(target, key, ([{"text": text}] if text else []) + rest)


def status_of(concept: Any, system: str) -> str | None:
    """The code of a status CodeableConcept in `system`."""
    return code_in(concept, system)


# -- extensions ---------------------------------------------------------------------------


def find_extension(resource: Mapping[str, Any], url: str) -> Mapping[str, Any] | None:
    """The resource's extension with this url, if any."""
    found = resource.get("extension")
    if not isinstance(found, list):
        return None
    for ext in found:
        if isinstance(ext, Mapping) and ext.get("url") == url:
            return ext
    return None


def set_extension(resource: Json, url: str, extension: Json | None) -> None:
    """Replace (in place), add or remove our extension; every other extension stays."""
    current = resource.get("extension")
    entries = list(current) if isinstance(current, list) else []
    index = next(
        (i for i, e in enumerate(entries) if isinstance(e, Mapping) and e.get("url") == url), None
    )
    if index is None:
        if extension is not None:
            entries.append(extension)
    elif extension is None:
        del entries[index]
    elif entries[index] == extension:
        return
    else:
        entries[index] = extension
    put(resource, "extension", entries)


def sub_extensions(extension: Mapping[str, Any] | None, url: str) -> list[Mapping[str, Any]]:
    """The sub-extensions of a complex extension with this url."""
    if extension is None or not isinstance(extension.get("extension"), list):
        return []
    return [e for e in extension["extension"] if isinstance(e, Mapping) and e.get("url") == url]


def mark_entered_in_error(
    resource: Json, entered_in_error: bool, status: str, reason: str | None
) -> None:
    """Record, beside the FHIR entered-in-error status, the status it replaced and why."""
    if not entered_in_error:
        set_extension(resource, EXT_ENTERED_IN_ERROR, None)
        return
    parts: list[Json] = [{"url": "status", "valueCode": status}]
    if reason:
        parts.append({"url": "reason", "valueString": reason})
    set_extension(resource, EXT_ENTERED_IN_ERROR, {"url": EXT_ENTERED_IN_ERROR, "extension": parts})


def entered_in_error_marker(resource: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(status before entered-in-error, reason) from our extension, where present."""
    ext = find_extension(resource, EXT_ENTERED_IN_ERROR)
    status = next(
        (e.get("valueCode") for e in sub_extensions(ext, "status") if "valueCode" in e), None
    )
    reason = next(
        (e.get("valueString") for e in sub_extensions(ext, "reason") if "valueString" in e), None
    )
    return (
        status if isinstance(status, str) else None,
        reason if isinstance(reason, str) else None,
    )


# -- references ---------------------------------------------------------------------------


def reference_to(resource_type: str, resource_id: str) -> Json:
    """A literal, relative Reference to Type/id."""
    return {"reference": f"{resource_type}/{resource_id}"}


def parse_reference(reference: Any) -> tuple[str, str] | None:
    """(type, id) of a literal reference, relative or absolute, with or without _history."""
    if not isinstance(reference, str):
        return None
    found = _REFERENCE.search(reference)
    return None if found is None else (found.group(1), found.group(2))


def referenced_id(value: Any, resource_type: str) -> str | None:
    """The id a Reference points to when it is a `resource_type`; None otherwise."""
    if not isinstance(value, Mapping):
        return None
    parsed = parse_reference(value.get("reference"))
    return parsed[1] if parsed is not None and parsed[0] == resource_type else None


def update_reference(target: Json, key: str, resource_type: str, resource_id: str | None) -> None:
    """Point `key` at Type/id, keeping the server's Reference (display, absolute URL) if it
    already points there."""
    update(
        target,
        key,
        reference_to(resource_type, resource_id) if resource_id else None,
        lambda current: referenced_id(current, resource_type),
        resource_id,
    )


# -- statuses -------------------------------------------------------------------------------


def expect_kind(item: Item, kind: str) -> None:
    """Refuse an item of another kind (a programming error)."""
    if item.kind != kind:
        raise ValueError(f"expected a {kind} item, got a {item.kind} item")


def update_status(
    target: Json, key: str, item: Item, equivalents: Mapping[str, str], error_code: str
) -> None:
    """Write the item's status (or `error_code` when entered in error) unless the server's code
    already means the same domain status (e.g. Encounter 'arrived' is 'in-progress')."""
    if item.entered_in_error:
        put(target, key, error_code)
        return
    update(
        target,
        key,
        item.status,
        lambda current: equivalents.get(current, current) if isinstance(current, str) else None,
        item.status,
    )


def mark_item(resource: Json, item: Item) -> None:
    """Our entered-in-error extension for the item (removed when it is not in error)."""
    mark_entered_in_error(
        resource, item.entered_in_error, item.status, item.data.get("entered_in_error_reason")
    )


# -- choice elements (onset[x], abatement[x], effective[x]) ---------------------------------


def choice_time(target: Mapping[str, Any], prefix: str) -> Any:
    """The time a `prefix`[x] element names: its DateTime or Instant, else its Period start."""
    for suffix in ("DateTime", "Instant"):
        if f"{prefix}{suffix}" in target:
            return target[f"{prefix}{suffix}"]
    period = target.get(f"{prefix}Period")
    return period.get("start") if isinstance(period, Mapping) else None


def update_choice_time(target: Json, prefix: str, value: str | None) -> None:
    """Own `prefix`[x] as a dateTime, keeping the server's form when it names the same time
    (or when neither names one, e.g. an onsetString)."""
    if instant_key(choice_time(target, prefix)) == instant_key(value):
        return
    for key in [k for k in target if k.startswith((prefix, f"_{prefix}"))]:
        del target[key]
    if value is not None:
        target[f"{prefix}DateTime"] = value


def update_recorded(target: Json, key: str, value: str, base: Base) -> None:
    """Own a recorded time that reading falls back to meta.lastUpdated for: a server copy
    without it, whose lastUpdated is that time, stays without it."""
    if base is not None and key not in base:
        meta = base.get("meta")
        stamp = meta.get("lastUpdated") if isinstance(meta, Mapping) else None
        if instant_key(stamp) == instant_key(value):
            return
    update_instant(target, key, value)
