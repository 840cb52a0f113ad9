"""What the sync engine's ResourceMapper port (sync/ports.py) needs, as pure functions of
domain events, charts and resources: which resources a command's events touch, how to build
each from its server copy, the event that records a server resource, and no-op detection."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.domain import events as ev
from app.domain.chart import Item, PatientChart
from app.domain.item_status import item_of
from app.domain.other_records import READ_ONLY_KIND
from app.domain.reference import Catalog
from sync.fhir.mapping.common import ResourceKey, without_stale_narrative
from sync.fhir.mapping.diff import diff_owned_elements
from sync.fhir.mapping.errors import MappingError
from sync.fhir.mapping.facility import Facility, stamp_new
from sync.fhir.mapping.items import (
    Builder,
    from_fhir_resource,
    item_writers,
    resource_ids_for_item,
    resource_type_of_kind,
)
from sync.fhir.mapping.patient import to_fhir_patient
from sync.fhir.mapping.patient_link import merges_of, replaced_patient, with_replaces
from sync.fhir.mapping.remote import RemoteAuditEvent, RemoteItem, RemotePatient
from sync.fhir.mapping.vital_signs import OBSERVATION_KEYS, vitals_observation_id

#: Types pulled for what other systems record about a patient; a server that does not offer
#: one is pulled without it (sync/scope.py), as FieldChart's own records do not depend on them.
FOREIGN_TYPES = (
    "Immunization",
    "ServiceRequest",
    "DiagnosticReport",
    "Procedure",
    "MedicationStatement",
    # Follow-up calls (ours; docs/front-desk/follow-up-calls.md): a server without
    # Communication search is pulled without them, like the records above.
    "Communication",
)
# Patients first, so that pulled items find their patient.
PULL_TYPES = (
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "AllergyIntolerance",
    "MedicationRequest",
    "DocumentReference",
    "Appointment",
    # Records other systems write about our patients (district lab, campaigns, hospital):
    # shown read-only in "Other records" until a reader of its own models the type
    # (docs/clinical/other-records.md says why these five and not CarePlan & co.).
    *FOREIGN_TYPES,
)
_PATIENT_EVENTS = (ev.PatientRegistered, ev.DemographicsUpdated)
_MERGE_EVENTS = (ev.PatientMerged, ev.MergeUndone)


def merge_writes(
    event: ev.PatientMerged | ev.MergeUndone, chart: PatientChart
) -> dict[ResourceKey, Builder]:
    """Both Patients of a merge or its undo: the survivor `replaces` the records merged into
    it (the chart's merges as they are now), the replaced one is `replaced-by` it."""
    survivor, replaced = chart.patient_id, event.replaced_patient_id
    in_effect = chart.merged.get(replaced) == event.merge_id
    undone = set() if in_effect else {replaced}
    return {
        ResourceKey("Patient", survivor): lambda base: with_replaces(
            to_fhir_patient(survivor, chart.demographics, chart.identifiers, base),
            chart.merged,
            undone,
        ),
        ResourceKey("Patient", replaced): lambda base: replaced_patient(
            replaced, survivor, event.merge_id, in_effect, base
        ),
    }


def writes_for_events(
    events: Sequence[ev.DomainEvent],
    chart: PatientChart,
    catalog: Catalog | None = None,
    facility: Facility | None = None,
) -> dict[ResourceKey, Builder]:
    """Every resource these events touched, each with a builder that maps the chart's current
    state onto that resource's server copy. `catalog` supplies RxNorm codes of medicines;
    `facility`, what a resource created on the server gets of the device's scope."""
    writes: dict[ResourceKey, Builder] = {}
    for event in events:
        if isinstance(event, _PATIENT_EVENTS):
            key = ResourceKey("Patient", chart.patient_id)
            writes[key] = lambda base: to_fhir_patient(
                chart.patient_id, chart.demographics, chart.identifiers, base
            )
            continue
        if isinstance(event, _MERGE_EVENTS):
            writes.update(merge_writes(event, chart))
            continue
        target = item_of(event)
        item = chart.items.get(target[1]) if target else None
        if item is None or item.kind == READ_ONLY_KIND:  # other systems' records: never pushed
            continue
        rxnorm = None
        if item.kind == "medication" and catalog is not None and item.data.get("drug_id"):
            medicine = catalog.medicines.get(item.data["drug_id"])
            rxnorm = medicine.rxnorm if medicine else None
        writes.update(item_writers(chart.patient_id, item, rxnorm=rxnorm))
    return {key: _finished(key, build, facility) for key, build in writes.items()}


def _finished(key: ResourceKey, build: Builder, facility: Facility | None) -> Builder:
    """`build`, then the facility's references if new, and a narrative that is still true."""
    return lambda base: without_stale_narrative(
        stamp_new(key.resource_type, build(base), base, facility), base
    )


def resource_keys_for_events(events: Iterable[ev.DomainEvent]) -> set[ResourceKey]:
    """(type, id) of every resource these events touch, without a chart. For an entered-in-
    error vitals set, whose signs the event does not name, every id the set could use."""
    keys: set[ResourceKey] = set()
    for event in events:
        if isinstance(event, ev.PatientRegistered):
            keys.add(ResourceKey("Patient", event.patient_id))
            continue
        target = item_of(event)
        if target is None:
            continue
        kind, item_id = target
        if kind == READ_ONLY_KIND:
            continue
        if isinstance(event, ev.VitalsRecorded):
            keys.update(resource_ids_for_item(Item(kind, item_id, event.to_payload(), "final")))
        elif kind == "vitals":
            keys.add(ResourceKey("Observation", item_id))
            keys.update(
                ResourceKey("Observation", vitals_observation_id(item_id, k))
                for k in OBSERVATION_KEYS
            )
        else:
            keys.add(ResourceKey(resource_type_of_kind(kind), item_id))
    return keys


def patient_keys_for_events(events: Iterable[ev.DomainEvent], patient_id: str) -> set[ResourceKey]:
    """Like resource_keys_for_events, plus the Patient for demographic edits (whose event
    does not name the patient; the stream does)."""
    keys = resource_keys_for_events(events)
    if any(isinstance(e, ev.DemographicsUpdated) for e in events):
        keys.add(ResourceKey("Patient", patient_id))
    for event in events:
        if isinstance(event, _MERGE_EVENTS):
            keys.add(ResourceKey("Patient", patient_id))
            keys.add(ResourceKey("Patient", event.replaced_patient_id))
    return keys


def event_from_fhir(resource: Mapping[str, Any]) -> tuple[str | None, ev.DomainEvent | None]:
    """(patient id, the event recording this server resource locally). AuditEvents give no
    event (their server copy is only kept). Raises MappingError."""
    remote = from_fhir_resource(resource)
    if isinstance(remote, RemotePatient):
        return remote.patient_id, ev.PatientVersionReceived(
            resource_version=remote.version_id or "",
            demographics=dict(remote.demographics),
            identifiers=[dict(i) for i in remote.identifiers],
            merges=merges_of(resource) or None,
        )
    if isinstance(remote, RemoteItem):
        return remote.patient_id, ev.ItemVersionReceived(
            item_kind=remote.kind,
            item_id=remote.id,
            resource_version=remote.version_id or "",
            status=remote.status,
            entered_in_error=remote.entered_in_error,
            data=dict(remote.data),
        )
    return remote.patient_id, None


def same_meaning(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    """True if the chart would read `ours` and `theirs` alike (and `theirs` holds all our
    identifiers): writing `ours` over `theirs` would change nothing FieldChart shows."""
    try:
        # FieldChart's own readings only: what the push would change is what its kinds show.
        mine = from_fhir_resource(ours, as_other=False)
        servers = from_fhir_resource(theirs, as_other=False)
    except MappingError:
        return not diff_owned_elements(theirs, ours)
    if isinstance(mine, RemotePatient) and isinstance(servers, RemotePatient):
        return (
            mine.demographics == servers.demographics
            and all(i in servers.identifiers for i in mine.identifiers)
            # A merge or its undo changes only the links and `active` (patient_link.py).
            and merges_of(ours) == merges_of(theirs)
            and ours.get("active") == theirs.get("active")
        )
    if isinstance(mine, RemoteItem) and isinstance(servers, RemoteItem):
        return _unversioned(mine) == _unversioned(servers)
    if isinstance(mine, RemoteAuditEvent) and isinstance(servers, RemoteAuditEvent):
        return dataclasses.replace(mine, version_id=None) == dataclasses.replace(
            servers, version_id=None
        )
    return False


def _unversioned(item: RemoteItem) -> RemoteItem:
    return dataclasses.replace(item, version_id=None, versions={k: None for k in item.versions})
