"""Plain values exchanged between the sync engine and the SyncGateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.events import DomainEvent
from app.domain.rebase import ConflictDetail


@dataclass(frozen=True)
class Received:
    """One server resource turned into the domain event that records it locally."""

    resource: dict[str, Any]
    patient_id: str | None
    event: DomainEvent | None  # None: store the server copy only (e.g. our own AuditEvents)
    server_id: str | None = None  # the server's id for it, when not our id


@dataclass(frozen=True)
class ServerCopy:
    """A server's copy of one of our resources, under our id, and the id the server gave it."""

    resource: dict[str, Any]
    server_id: str


@dataclass(frozen=True)
class RebaseOutcome:
    ok: bool
    message: str | None = None
    detail: ConflictDetail | None = None
    converged: bool = False  # nothing left to push: the server already had it
