"""Recording what a person did on this device that is not a chart change (a chart opened, a
chart printed): an event in the device's audit stream, never the patient's, so it is audited
without being pushed as a clinical change."""

from __future__ import annotations

import uuid

from app.domain.events import DomainEvent, audit_stream_of
from app.domain.roles import Actor
from app.projections.runner import ProjectionRunner
from app.services.clock import Clock
from app.store.database import write_transaction
from app.store.event_log import ANY_VERSION, EventMetadata, NewEvent
from app.store.vault import Vault


def record_device_audit(
    vault: Vault, runner: ProjectionRunner, clock: Clock, actor: Actor, event: DomainEvent
) -> None:
    """Append `event` to this device's audit stream as `actor`, now, and update the read
    models (the audit view) in the same transaction."""
    now = clock().isoformat(timespec="milliseconds")
    metadata = EventMetadata(
        command_id=str(uuid.uuid4()),
        user=actor.user,
        role=actor.role.value,
        device_id=vault.device_id,
        recorded_at=now,
        occurred_at=now,
    )
    with write_transaction(vault.engine) as conn:
        recorded = vault.events.append(
            audit_stream_of(vault.device_id), ANY_VERSION, [NewEvent.of(event, metadata)], conn
        )
        runner.catch_up(conn, recorded)
