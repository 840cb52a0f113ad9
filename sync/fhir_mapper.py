"""The sync engine's ResourceMapper port (sync/ports.py) over the pure sync/fhir/mapping."""

from __future__ import annotations

from typing import Any

from app.domain.chart import PatientChart
from app.domain.events import DomainEvent
from app.domain.reference import Catalog
from app.services.gateway_types import Received
from sync.fhir import mapping
from sync.fhir.mapping.facility import Facility
from sync.ports import Outgoing


class FhirResourceMapper:
    """`facility`: the references a resource this device creates gets from its scope
    (managingOrganization of a patient registered here, the location of an encounter)."""

    def __init__(self, catalog: Catalog | None = None, facility: Facility | None = None) -> None:
        self._catalog = catalog
        self._facility = facility

    def outgoing(self, events: list[DomainEvent], chart: PatientChart) -> list[Outgoing]:
        writes = mapping.writes_for_events(events, chart, self._catalog, self._facility)
        return [Outgoing(key.resource_type, key.id, build) for key, build in writes.items()]

    def keys(self, events: list[DomainEvent], patient_id: str) -> set[tuple[str, str]]:
        return {
            (k.resource_type, k.id) for k in mapping.patient_keys_for_events(events, patient_id)
        }

    def incoming(self, resource: dict[str, Any]) -> Received:
        patient_id, event = mapping.event_from_fhir(resource)
        return Received(resource, patient_id, event)

    def same_content(self, ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
        return mapping.same_meaning(ours, theirs)

    def audit_event(self, record: Any) -> dict[str, Any]:
        meta = record.metadata
        return mapping.to_fhir_audit_event_for_view(
            record.event_id,
            record.payload["patient_id"],
            meta.user,
            meta.occurred_at,
            meta.device_id,
        )

    def pull_types(self) -> list[str]:
        return list(mapping.PULL_TYPES)
