"""What a server resource means to the domain: small frozen records the sync engine turns into
confirmed events (their `data` uses the keys of app.domain.events payloads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync.fhir.mapping.common import ResourceKey


@dataclass(frozen=True)
class RemotePatient:
    """A Patient as the chart sees it: demographics keyed like PatientRegistered."""

    patient_id: str
    version_id: str | None
    demographics: dict[str, str | None]
    identifiers: list[dict[str, str]]


@dataclass(frozen=True)
class RemoteItem:
    """One chart item read from the server.

    `data` has the keys of the event that creates the item (EncounterStarted, VitalsRecorded,
    ...) plus those later events add (finished_at, resolved_at, discontinued_at,
    discontinue_reason, cancel_reason, entered_in_error_reason), like `Item.data` in
    app/domain/chart.py. `versions` holds every resource the item was read from with its
    versionId; `version_id` is that version when there is exactly one resource.
    """

    kind: str
    id: str
    patient_id: str
    version_id: str | None
    status: str
    entered_in_error: bool
    data: dict[str, Any]
    versions: dict[ResourceKey, str | None]


@dataclass(frozen=True)
class RemoteAuditEvent:
    """Who read or changed which patient's chart, when, from which device."""

    audit_id: str
    version_id: str | None
    action: str | None  # C create, R read, U update, D delete, E execute
    recorded: str
    user: str | None
    patient_id: str | None
    interaction: str | None  # read, create, update
    command_type: str | None  # e.g. RecordVitals; None for chart views
    device_id: str | None


def single(
    kind: str,
    resource_type: str,
    resource_id: str,
    patient_id: str,
    version_id: str | None,
    status: str,
    entered_in_error: bool,
    data: dict[str, Any],
) -> RemoteItem:
    """A RemoteItem read from one resource whose id is the item id."""
    return RemoteItem(
        kind=kind,
        id=resource_id,
        patient_id=patient_id,
        version_id=version_id,
        status=status,
        entered_in_error=entered_in_error,
        data=data,
        versions={ResourceKey(resource_type, resource_id): version_id},
    )
