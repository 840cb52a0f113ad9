"""Observations (vital signs) <-> a vitals item (VitalsRecorded).

One vitals item becomes one Observation per measured sign, blood pressure being one panel
(85354-9) with systolic and diastolic components, BMI one more (derived from weight and
height). Their ids are derived from the vitals id (`vitals_observation_id`), and each carries
the identifier `urn:fieldchart:fhir:vitals-set|<vitals_id>`; reading gives one RemoteItem per
Observation, a part of its vitals item: pull records each as one ItemVersionReceived, and the
chart merges them into the item (app.domain.chart.received_data).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.common import (
    FHIR_ID,
    LOINC,
    Base,
    Json,
    ResourceKey,
    child,
    expect_kind,
    has_code,
    mark_item,
    parse_reference,
    reference_to,
    start_from,
    update,
    update_choice_time,
    update_reference,
    update_status,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem
from sync.fhir.mapping.vital_signs import (
    COMPONENTS,
    DIASTOLIC,
    KEY_OF_LOINC,
    SYSTOLIC,
    VITALS_SET_SYSTEM,
    VitalSign,
    profiles_of,
    quantity_in,
    spec_of,
    vital_signs_category,
    vitals_keys,
    vitals_observation_ids,
)

# `meta.profile` and `category` are written only on Observations FieldChart creates;
# `identifier` and `derivedFrom` only gain our entry (the set id; BMI's weight and height).
OWNED = frozenset(
    {
        "status",
        "extension",
        "identifier",
        "category",
        "code",
        "subject",
        "encounter",
        "effectiveDateTime",
        "valueQuantity",
        "component",
        "derivedFrom",
    }
)
CODES = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
EQUIVALENTS = {"amended": "final", "corrected": "final"}


def to_fhir_observation(patient_id: str, item: Item, key: str, base: Base) -> Json:
    """The one Observation of a vitals item that holds `key` (see vitals_keys)."""
    expect_kind(item, "vitals")
    ids = vitals_observation_ids(item.id, vitals_keys(item.data))
    if key not in ids:
        raise ValueError(f"this vitals item has no {key!r} observation")
    return _observation(patient_id, item, key, ids, base)


def _observation(patient_id: str, item: Item, key: str, ids: Mapping[str, str], base: Base) -> Json:
    obs_id = ids[key]
    resource = start_from(base, "Observation", obs_id)
    if base is None:
        child(resource, "meta")["profile"] = profiles_of(key)
    if item.id != obs_id:
        _ensure(
            resource,
            "identifier",
            {"system": VITALS_SET_SYSTEM, "value": item.id},
            lambda e: e.get("system") == VITALS_SET_SYSTEM and e.get("value") == item.id,
        )
    update_status(resource, "status", item, EQUIVALENTS, "entered-in-error")
    mark_item(resource, item)
    if base is None:
        resource["category"] = [vital_signs_category()]
    spec = spec_of(key)
    standalone = _key_of(resource.get("code")) if key == "blood_pressure" else None
    if standalone in ("systolic", "diastolic"):
        # Another system's lone systolic or diastolic Observation, read as a blood pressure.
        spec = SYSTOLIC if standalone == "systolic" else DIASTOLIC
        key = standalone
    # Another system's code for the same sign (an older panel, a pulse-oximetry SpO2) stays.
    update(resource, "code", spec.code(), _key_of, key)
    update_reference(resource, "subject", "Patient", patient_id)
    update_reference(resource, "encounter", "Encounter", item.data.get("encounter_id"))
    update_choice_time(resource, "effective", item.data["taken_at"])
    measurements = {**item.data["measurements"], "bmi": item.data["bmi"]}
    if key == "blood_pressure":
        _drop_values(resource)
        for component in COMPONENTS:
            _update_component(resource, component, measurements.get(component.key))
    else:
        _update_value(resource, spec, measurements[key])
    if key == "bmi":
        for source in ("weight", "height"):
            if source in ids:
                _ensure_derived_from(resource, ids[source])
    return resource


def _ensure(
    resource: Json, key: str, entry: Json, matches: Callable[[Mapping[str, Any]], bool]
) -> None:
    """Add `entry` to the list `key` unless an entry already matches."""
    current = resource.get(key)
    entries = list(current) if isinstance(current, list) else []
    if not any(isinstance(e, Mapping) and matches(e) for e in entries):
        resource[key] = [*entries, entry]


def _ensure_derived_from(resource: Json, observation_id: str) -> None:
    _ensure(
        resource,
        "derivedFrom",
        reference_to("Observation", observation_id),
        lambda e: parse_reference(e.get("reference")) == ("Observation", observation_id),
    )


def _drop_values(resource: Json) -> None:
    for key in [k for k in resource if k.startswith(("value", "_value"))]:
        del resource[key]


def _update_value(resource: Json, spec: VitalSign, value: float) -> None:
    if quantity_in(resource.get("valueQuantity"), spec.key) == value:
        return
    _drop_values(resource)
    resource.pop("dataAbsentReason", None)
    resource["valueQuantity"] = spec.quantity(value)


def _update_component(resource: Json, spec: VitalSign, value: float | None) -> None:
    current = resource.get("component")
    components = list(current) if isinstance(current, list) else []
    index = next(
        (
            i
            for i, c in enumerate(components)
            if isinstance(c, Mapping) and has_code(c.get("code"), LOINC, spec.loinc)
        ),
        None,
    )
    current_value = (
        quantity_in(components[index].get("valueQuantity"), spec.key) if index is not None else None
    )
    if index is not None and current_value == value:
        return
    new = None if value is None else {"code": spec.code(), "valueQuantity": spec.quantity(value)}
    if index is None:
        components.append(new)
    elif new is None:
        del components[index]
    else:
        components[index] = new
    resource["component"] = [c for c in components if c is not None]
    if not resource["component"]:
        del resource["component"]


# -- reading ------------------------------------------------------------------------------


def from_fhir_observation(resource: Mapping[str, Any]) -> RemoteItem:
    """What one vital-signs Observation says, as a (partial) vitals item (the chart merges
    the parts of a set as they arrive; see app.domain.chart.received_data)."""
    r = Reader(resource, "Observation")
    code = r.code(resource.get("status"), "status", CODES)
    if code is None:
        r.fail("status", "is missing")
    concept = r.concept(resource.get("code"), "code")
    if concept is None:
        r.fail("code", "is missing")
    key = _key_of(concept)
    if key is None:
        r.unsupported("code", "is not a vital sign FieldChart shows")
    patient_id = r.patient(resource.get("subject"))
    taken = _taken_at(r)
    measurements: dict[str, float] = {}
    bmi = None
    if key == "blood_pressure":
        for i, raw in enumerate(r.array(resource.get("component"), "component")):
            comp = r.obj(raw, f"component[{i}]") or {}
            part = _key_of(r.concept(comp.get("code"), f"component[{i}].code"))
            if part in ("systolic", "diastolic"):
                element = f"component[{i}].valueQuantity"
                measurements[part] = _value(r, comp.get("valueQuantity"), part, element)
        if not measurements:
            r.unsupported("component", "has no systolic or diastolic value")
    elif key == "bmi":
        bmi = _value(r, resource.get("valueQuantity"), key, "valueQuantity")
    else:
        measurements[key] = _value(r, resource.get("valueQuantity"), key, "valueQuantity")
    vitals_id = _vitals_id(r, resource)
    status, in_error, extra = r.status(code, EQUIVALENTS, "entered-in-error", "final")
    data: dict[str, Any] = {
        "vitals_id": vitals_id,
        "taken_at": taken,
        "measurements": measurements,
        "bmi": bmi,
        "encounter_id": r.reference(resource.get("encounter"), "encounter", "Encounter"),
        **extra,
    }
    return RemoteItem(
        "vitals",
        vitals_id,
        patient_id,
        r.version_id,
        status,
        in_error,
        data,
        {ResourceKey("Observation", r.id): r.version_id},
    )


def _key_of(concept: Any) -> str | None:
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    for c in codings if isinstance(codings, list) else []:
        if isinstance(c, Mapping) and c.get("system") == LOINC and c.get("code") in KEY_OF_LOINC:
            return KEY_OF_LOINC[str(c["code"])]
    return None


def _taken_at(r: Reader) -> str:
    found = r.time_choice("effective")
    if found is None:
        r.unsupported("effective[x]", "is missing; the chart needs the time taken")
    return found


def _value(r: Reader, quantity: Any, key: str, element: str) -> float:
    q = r.obj(quantity, element)
    if q is None or r.number(q.get("value"), f"{element}.value") is None:
        r.unsupported(element, "has no value")
    value = quantity_in(q, key)
    if value is None:
        r.unsupported(f"{element}.code", "is not a unit FieldChart can convert")
    return value


def _vitals_id(r: Reader, resource: Mapping[str, Any]) -> str:
    for i, ident in enumerate(r.array(resource.get("identifier"), "identifier")):
        entry = r.obj(ident, f"identifier[{i}]") or {}
        if entry.get("system") == VITALS_SET_SYSTEM:
            value = entry.get("value")
            if not isinstance(value, str) or not FHIR_ID.fullmatch(value):
                r.fail(f"identifier[{i}].value", "is not a vitals set id")
            return value
    return r.id
