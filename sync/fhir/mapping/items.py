"""Chart items and resources: which resources an item is written as, one builder per
resource, and reading any resource FieldChart maps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.allergy import (
    from_fhir_allergy_intolerance,
    to_fhir_allergy_intolerance,
)
from sync.fhir.mapping.appointment import from_fhir_appointment, to_fhir_appointment
from sync.fhir.mapping.audit import from_fhir_audit_event
from sync.fhir.mapping.common import Base, Json, ResourceKey
from sync.fhir.mapping.communication import from_fhir_communication, to_fhir_communication
from sync.fhir.mapping.condition import from_fhir_condition, to_fhir_condition
from sync.fhir.mapping.document import from_fhir_document_reference, to_fhir_document_reference
from sync.fhir.mapping.encounter import from_fhir_encounter, to_fhir_encounter
from sync.fhir.mapping.errors import UnsupportedResourceError
from sync.fhir.mapping.immunization import from_fhir_immunization, to_fhir_immunization
from sync.fhir.mapping.laboratory import (
    from_fhir_test_result,
    is_test_result,
    to_fhir_test_result,
)
from sync.fhir.mapping.medication import (
    from_fhir_medication_request,
    to_fhir_medication_request,
)
from sync.fhir.mapping.observation import from_fhir_observation, to_fhir_observation
from sync.fhir.mapping.other_record import from_fhir_other, readable_as_other
from sync.fhir.mapping.patient import from_fhir_patient
from sync.fhir.mapping.remote import RemoteAuditEvent, RemoteItem, RemotePatient
from sync.fhir.mapping.service_request import (
    from_fhir_service_request,
    summary_items,
    to_fhir_service_request,
)
from sync.fhir.mapping.vital_signs import vitals_keys, vitals_observation_ids

Builder = Callable[[Base], Json]
Remote = RemotePatient | RemoteItem | RemoteAuditEvent

RESOURCE_TYPE_OF_KIND: Mapping[str, str] = {
    "encounter": "Encounter",
    "vitals": "Observation",
    "diagnosis": "Condition",
    "allergy": "AllergyIntolerance",
    "medication": "MedicationRequest",
    "note": "DocumentReference",
    "test_result": "Observation",
    "appointment": "Appointment",
    "referral": "ServiceRequest",
    "immunization": "Immunization",
    "call": "Communication",
}


def _referral(patient_id: str, item: Item, base: Base) -> Json:
    """A referral's ServiceRequest, pointing at the resources of its summarised items."""
    supporting = [
        key
        for summarised in summary_items(item)
        if summarised.kind in RESOURCE_TYPE_OF_KIND
        for key in resource_ids_for_item(summarised)
    ]
    return to_fhir_service_request(patient_id, item, base, supporting=supporting)


_WRITERS: Mapping[str, Callable[[str, Item, Base], Json]] = {
    "encounter": to_fhir_encounter,
    "diagnosis": to_fhir_condition,
    "allergy": to_fhir_allergy_intolerance,
    "note": to_fhir_document_reference,
    "test_result": to_fhir_test_result,
    "appointment": to_fhir_appointment,
    "referral": _referral,
    "immunization": to_fhir_immunization,
    "call": to_fhir_communication,
}
_READERS: Mapping[str, Callable[[Mapping[str, Any]], Remote]] = {
    "Patient": from_fhir_patient,
    "Immunization": from_fhir_immunization,
    "Encounter": from_fhir_encounter,
    "Observation": lambda r: (
        from_fhir_test_result(r) if is_test_result(r) else from_fhir_observation(r)
    ),
    "Condition": from_fhir_condition,
    "AllergyIntolerance": from_fhir_allergy_intolerance,
    "MedicationRequest": from_fhir_medication_request,
    "DocumentReference": from_fhir_document_reference,
    "Appointment": from_fhir_appointment,
    "AuditEvent": from_fhir_audit_event,
    "ServiceRequest": from_fhir_service_request,
    "Communication": from_fhir_communication,
}


def resource_type_of_kind(kind: str) -> str:
    """The FHIR resource type a chart item kind is written as."""
    if kind not in RESOURCE_TYPE_OF_KIND:
        raise ValueError(f"{kind!r} is not a chart item kind")
    return RESOURCE_TYPE_OF_KIND[kind]


def resource_ids_for_item(item: Item) -> list[ResourceKey]:
    """Every resource the item is written as (a vitals item: one Observation per sign)."""
    if item.kind == "vitals":
        ids = vitals_observation_ids(item.id, vitals_keys(item.data))
        return [ResourceKey("Observation", obs_id) for obs_id in ids.values()]
    return [ResourceKey(resource_type_of_kind(item.kind), item.id)]


def item_writers(
    patient_id: str, item: Item, *, rxnorm: str | None = None
) -> dict[ResourceKey, Builder]:
    """One builder per resource of the item; each takes that resource's server copy (or None)
    and returns the resource to PUT. `rxnorm`: the medicine's RxNorm code, where known."""
    if item.kind == "vitals":
        ids = vitals_observation_ids(item.id, vitals_keys(item.data))
        return {
            ResourceKey("Observation", obs_id): partial(to_fhir_observation, patient_id, item, key)
            for key, obs_id in ids.items()
        }
    key = ResourceKey(resource_type_of_kind(item.kind), item.id)
    if item.kind == "medication":
        return {key: partial(_medication, patient_id, item, rxnorm)}
    return {key: partial(_WRITERS[item.kind], patient_id, item)}


def _medication(patient_id: str, item: Item, rxnorm: str | None, base: Base) -> Json:
    return to_fhir_medication_request(patient_id, item, base, rxnorm=rxnorm)


def from_fhir_resource(resource: Mapping[str, Any], *, as_other: bool = True) -> Remote:
    """Read any resource FieldChart maps (raises MappingError for anything else). With
    `as_other`, a valid resource no reader models (or only partly) reads as a read-only
    "other" item (sync/fhir/mapping/other_record.py) instead."""
    resource_type = resource.get("resourceType") if isinstance(resource, Mapping) else None
    reader = _READERS.get(resource_type) if isinstance(resource_type, str) else None
    if reader is None:
        if as_other and isinstance(resource, Mapping) and readable_as_other(resource):
            return from_fhir_other(resource)
        raise UnsupportedResourceError(
            f"{str(resource_type)[:40]}/?", "resourceType", "is not a type FieldChart reads"
        )
    try:
        return reader(resource)
    except UnsupportedResourceError:
        # Valid but not (fully) modelled: shown read-only rather than hidden in quarantine.
        if not as_other or not readable_as_other(resource):
            raise
        return from_fhir_other(resource)
