"""The two seams of the sync engine: how local changes become FHIR resources and back.

Kept as protocols so push, pull and rebase read as the protocol they implement, and tests can
drive them with the real mapping or a small fake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.domain.chart import PatientChart
from app.domain.events import DomainEvent
from app.services.gateway_types import Received


@dataclass(frozen=True)
class Outgoing:
    """One resource a command must write: built from the server's latest copy (or None)."""

    resource_type: str
    resource_id: str
    build: Callable[[dict[str, Any] | None], dict[str, Any]]


class ResourceMapper(Protocol):
    def outgoing(self, events: list[DomainEvent], chart: PatientChart) -> list[Outgoing]:
        """The resources these events touched, as the chart now has them."""
        ...

    def keys(self, events: list[DomainEvent], patient_id: str) -> set[tuple[str, str]]:
        """(resource type, id) of every resource these events of one patient touch."""
        ...

    def incoming(self, resource: dict[str, Any]) -> Received:
        """A server resource as the event that records it locally (raises MappingError)."""
        ...

    def same_content(self, ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
        """True if writing `ours` over `theirs` would change nothing we own (skip no-ops)."""
        ...

    def audit_event(self, record: Any) -> dict[str, Any]:
        """The AuditEvent for one ChartViewed record of this device's log."""
        ...

    def pull_types(self) -> list[str]:
        """Resource types to pull, patients first so items find their patient."""
        ...
