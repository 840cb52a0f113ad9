"""What the sync engine may do to the vault, each step one durable transaction.

Sync never touches SQL: it reads pending commands and charts, records what the server
confirmed, re-runs (rebases) pending commands and marks their state through this facade.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from app.domain import chart as chart_state
from app.domain import values
from app.domain.codec import command_from_json
from app.domain.commands import (
    DEMOGRAPHIC_FIELDS,
    ChangeDose,
    Command,
    FieldChange,
    RescheduleAppointment,
    UpdateDemographics,
)
from app.domain.context import DecisionContext
from app.domain.decide import decide
from app.domain.decide_patient import clean_field
from app.domain.decision import Decision
from app.domain.errors import AlreadyDoneError, DomainError, PreconditionError
from app.domain.events import DomainEvent, from_payload, stream_of
from app.domain.reference import Catalog
from app.domain.roles import Actor, Role
from app.projections import schedule
from app.projections.runner import ProjectionRunner
from app.services.gateway_types import RebaseOutcome, Received
from app.store import outbox, sync_state
from app.store.database import Transaction, read_transaction, write_transaction
from app.store.event_log import ANY_VERSION, EventMetadata, NewEvent
from app.store.outbox import OutboxEntry
from app.store.sync_state import RemoteCopy
from app.store.vault import Vault

SYSTEM_USER = "server"
SYSTEM_ROLE = "system"


class SyncGateway:
    def __init__(
        self,
        vault: Vault,
        runner: ProjectionRunner,
        catalog: Catalog,
        clock: Callable[[], datetime],
    ) -> None:
        self._vault = vault
        self._runner = runner
        self._catalog = catalog
        self._clock = clock

    # -- reading ---------------------------------------------------------------------------

    def pending(self, limit: int | None = None) -> list[OutboxEntry]:
        with read_transaction(self._vault.engine) as conn:
            return outbox.with_status(conn, outbox.PENDING, limit)

    def counts(self) -> dict[str, int]:
        with read_transaction(self._vault.engine) as conn:
            return outbox.counts(conn)

    def entry(self, command_id: str) -> OutboxEntry | None:
        with read_transaction(self._vault.engine) as conn:
            return outbox.get(conn, command_id)

    def chart(self, patient_id: str) -> chart_state.PatientChart:
        """The patient's current local chart (server versions plus pending changes)."""
        history = self._vault.events.read_stream(stream_of(patient_id))
        return chart_state.fold(
            patient_id, [from_payload(r.type, r.schema_version, r.payload) for r in history]
        )

    def events_of(self, entry: OutboxEntry) -> list[DomainEvent]:
        """The domain events a command recorded (what its push must carry)."""
        with read_transaction(self._vault.engine) as conn:
            return self._events_of(entry, conn)

    def events_of_many(self, entries: Sequence[OutboxEntry]) -> dict[str, list[DomainEvent]]:
        """events_of for each of `entries` (by command id), read in one transaction."""
        with read_transaction(self._vault.engine) as conn:
            return {e.command_id: self._events_of(e, conn) for e in entries}

    def _events_of(self, entry: OutboxEntry, conn: Transaction) -> list[DomainEvent]:
        span = entry.last_position - entry.first_position + 1
        found = []
        for r in self._vault.events.read_all(entry.first_position - 1, conn, batch=max(span, 1)):
            if r.position > entry.last_position:
                break
            if r.stream_id == entry.stream_id:
                found.append(from_payload(r.type, r.schema_version, r.payload))
        return found

    def remote(self, resource_type: str, resource_id: str) -> RemoteCopy | None:
        with read_transaction(self._vault.engine) as conn:
            return sync_state.remote(conn, resource_type, resource_id)

    def known_version(self, resource_type: str, resource_id: str) -> str | None:
        with read_transaction(self._vault.engine) as conn:
            return sync_state.known_version(conn, resource_type, resource_id)

    def watermark(self, resource_type: str) -> str | None:
        with read_transaction(self._vault.engine) as conn:
            return sync_state.watermark(conn, resource_type)

    def journal(self, key: str) -> Any:
        with read_transaction(self._vault.engine) as conn:
            return sync_state.journal(conn, key)

    def quarantined(self, limit: int = 200) -> list[dict[str, Any]]:
        with read_transaction(self._vault.engine) as conn:
            return sync_state.quarantined(conn, limit)

    def audit_events_after(self, position: int, limit: int) -> list[Any]:
        """This device's ChartViewed events after a log position (for AuditEvent push)."""
        found = []
        for record in self._vault.events.read_all(position):
            if record.type == "ChartViewed":
                found.append(record)
                if len(found) >= limit:
                    break
        return found

    # -- writing ---------------------------------------------------------------------------

    def record_pushed(
        self, command_id: str | None, resources: Sequence[dict[str, Any]], patient_id: str | None
    ) -> None:
        """The server accepted these versions: remember them and mark the command synced.

        Not durable (see write_transaction): lost in a power cut, the command is still
        marked in flight, and the next push asks the server what landed (Pusher)."""
        with write_transaction(self._vault.engine, durable=False) as conn:
            for resource in resources:
                sync_state.save_remote(conn, resource, patient_id)
            if command_id is not None:
                outbox.set_status(conn, command_id, outbox.SYNCED)

    def record_received(self, received: Sequence[Received]) -> list[tuple[str, str]]:
        """Record server versions as confirmed events (skipping versions already known) and
        update the read models, in one transaction. Returns (type, id) of the new ones."""
        new: list[tuple[str, str]] = []
        now = self._clock().isoformat(timespec="milliseconds")
        with write_transaction(self._vault.engine) as conn:
            appended = []
            for item in received:
                meta = item.resource.get("meta") or {}
                known = sync_state.known_version(
                    conn, item.resource["resourceType"], item.resource["id"]
                )
                if known is not None and known == str(meta.get("versionId")):
                    continue
                sync_state.save_remote(conn, item.resource, item.patient_id)
                new.append((item.resource["resourceType"], item.resource["id"]))
                if item.event is None or item.patient_id is None:
                    continue
                metadata = EventMetadata(
                    command_id=f"server:{item.resource['resourceType']}/"
                    f"{item.resource['id']}/{meta.get('versionId')}",
                    user=SYSTEM_USER,
                    role=SYSTEM_ROLE,
                    device_id=self._vault.device_id,
                    recorded_at=now,
                    occurred_at=str(meta.get("lastUpdated") or now),
                    extra={"origin": "server"},
                )
                stream = stream_of(item.patient_id)
                # Appended at the stream's current version: inside this write transaction
                # nobody else can move it, so append's own look-up is the only one needed.
                appended += self._vault.events.append(
                    stream,
                    ANY_VERSION,
                    [
                        NewEvent(
                            type(item.event).__name__,
                            item.event.to_payload(),
                            metadata,
                            item.event.SCHEMA_VERSION,
                        )
                    ],
                    conn,
                )
            if appended:
                # The events just appended, as appended: catch-up need not read them back.
                self._runner.catch_up(conn, appended)
        return new

    def mark_in_flight(self, command_ids: list[str]) -> None:
        if not command_ids:
            return
        with write_transaction(self._vault.engine) as conn:
            outbox.mark_in_flight(conn, command_ids)

    def mark_attention(self, command_id: str, message: str, detail: dict[str, Any]) -> None:
        with write_transaction(self._vault.engine) as conn:
            outbox.set_status(
                conn, command_id, outbox.NEEDS_ATTENTION, error=message, detail=detail
            )

    def mark_error(self, command_id: str, message: str) -> None:
        """A transient failure: stays pending, the attempt and error are counted."""
        with write_transaction(self._vault.engine) as conn:
            outbox.set_status(conn, command_id, outbox.PENDING, error=message)

    def set_watermark(self, resource_type: str, value: str) -> None:
        with write_transaction(self._vault.engine) as conn:
            sync_state.set_watermark(conn, resource_type, value)

    def set_journal(self, key: str, value: Any) -> None:
        with write_transaction(self._vault.engine) as conn:
            sync_state.set_journal(conn, key, value)

    def quarantine(
        self,
        resource_type: str | None,
        resource_id: str | None,
        reason: str,
        body: str | bytes | None,
    ) -> None:
        with write_transaction(self._vault.engine) as conn:
            sync_state.quarantine(
                conn,
                received_at=self._clock().isoformat(),
                resource_type=resource_type,
                resource_id=resource_id,
                reason=reason,
                body=body,
            )

    def rebase(self, entry: OutboxEntry) -> RebaseOutcome:
        """Re-run a pending command on the current chart (which now holds the server's newer
        versions). Success appends its re-decided events; a refusal is the conflict a person
        must decide, reported with both values."""
        command = command_from_json(entry.command)
        actor = Actor(entry.user, Role(entry.role))
        now = self._clock()
        with write_transaction(self._vault.engine) as conn:
            history = self._vault.events.read_stream(entry.stream_id, conn)
            chart = chart_state.fold(
                command.patient_id,
                [from_payload(r.type, r.schema_version, r.payload) for r in history],
            )
            ctx = DecisionContext(
                now=now,
                actor=actor,
                new_id=lambda: str(uuid.uuid4()),
                catalog=self._catalog,
                clashing_appointment=lambda c, s, e, i: schedule.clash(conn, c, s, e, i),
                local_today=now.astimezone().date(),
            )
            later = [e.command for e in outbox.later_in_stream(conn, entry.stream_id, entry.seq)]
            try:
                decision = _decide_rebase(chart, command, ctx, later)
            except AlreadyDoneError:
                # The server already shows what the command asked for: converged.
                outbox.set_status(conn, entry.command_id, outbox.SYNCED, detail={"converged": True})
                return RebaseOutcome(True, converged=True)
            except PreconditionError as exc:
                return RebaseOutcome(
                    False,
                    exc.message,
                    {
                        "field": exc.field,
                        "mine": _mine(entry.command, exc.field),
                        "servers": exc.actual,
                        "expected": exc.expected,
                    },
                )
            except DomainError as exc:
                return RebaseOutcome(
                    False, exc.message, {"field": exc.field, "mine": None, "servers": None}
                )
            metadata = EventMetadata(
                command_id=entry.command_id,
                user=entry.user,
                role=entry.role,
                device_id=self._vault.device_id,
                recorded_at=now.isoformat(timespec="milliseconds"),
                occurred_at=decision.occurred_at,
                extra={"rebased": "true"},
            )
            recorded = self._vault.events.append(
                entry.stream_id,
                history[-1].stream_version if history else 0,
                [
                    NewEvent(type(e).__name__, e.to_payload(), metadata, e.SCHEMA_VERSION)
                    for e in decision.events
                ],
                conn,
            )
            outbox.set_positions(
                conn, entry.command_id, recorded[0].position, recorded[-1].position
            )
            self._runner.catch_up(conn)
        return RebaseOutcome(True)


def _decide_rebase(
    chart: chart_state.PatientChart,
    command: Command,
    ctx: DecisionContext,
    later: list[dict[str, Any]],
) -> Decision:
    """Decide a pending command on the server's newer versions.

    A value the command expected that has since changed is a conflict unless the server now
    holds this device's own intent: the command's own value (its write landed before the
    answer was lost) or the value of a later command of this device on the same field (pushes
    write the chart's current state, so an earlier command's write carries later edits). Such
    expectations are settled before deciding again; a command whose every change is superseded
    by a later one of its own device has nothing left to do (AlreadyDoneError: converged)."""
    try:
        return decide(chart, command, ctx)
    except PreconditionError:
        settled = _settle_expectations(chart, command, ctx, later)
        if settled is None:
            raise
    return decide(chart, settled, ctx)


def _settle_expectations(
    chart: chart_state.PatientChart,
    command: Command,
    ctx: DecisionContext,
    later: list[dict[str, Any]],
) -> Command | None:
    """`command` with the expectations the server already fulfils settled, or None."""
    if isinstance(command, UpdateDemographics):
        changes = dict(command.changes)
        for name, change in command.changes.items():
            current = chart.demographics.get(name)
            if change.expected == current or name not in DEMOGRAPHIC_FIELDS:
                continue
            if _clean(name, change.new, ctx) == current:
                changes[name] = FieldChange(new=change.new, expected=current)
            elif current in _later_demographics(name, later, ctx):
                del changes[name]  # a later edit of ours replaced this one
        if changes == dict(command.changes):
            return None
        if not changes:
            raise AlreadyDoneError("A later edit on this device replaced this one", "changes")
        return dataclasses.replace(command, changes=changes)
    if isinstance(command, ChangeDose):
        item = chart.items.get(command.prescription_id)
        if item is None or command.expected_dose is None:
            return None
        data = item.data
        if (
            float(command.dose) == float(data["dose"])
            and (command.dose_unit or data["dose_unit"]) == data["dose_unit"]
            and (command.frequency or data["frequency"]) == data["frequency"]
        ):
            return dataclasses.replace(command, expected_dose=None)
        if any(
            c.get("type") == "ChangeDose"
            and c.get("prescription_id") == command.prescription_id
            and c.get("dose") == float(data["dose"])
            for c in later
        ):
            raise AlreadyDoneError("A later dose change on this device replaced this one", "dose")
        return None
    if isinstance(command, RescheduleAppointment):
        item = chart.items.get(command.appointment_id)
        if item is None or command.expected_start is None:
            return None
        start = _instant(item.data.get("start"))
        end = _instant(item.data.get("end"))
        if start is None or end is None:
            return None
        minutes = int((end - start).total_seconds() // 60)
        if _instant(command.start) == start and command.duration_minutes in (None, minutes):
            return dataclasses.replace(command, expected_start=None)
        if any(
            c.get("type") == "RescheduleAppointment"
            and c.get("appointment_id") == command.appointment_id
            and _instant(c.get("start")) == start
            for c in later
        ):
            raise AlreadyDoneError("A later move on this device replaced this one", "start")
    return None


def _clean(name: str, value: str | None, ctx: DecisionContext) -> str | object | None:
    try:
        return clean_field(name, value, ctx)
    except DomainError:
        return _INVALID


_INVALID = object()


def _later_demographics(
    name: str, later: list[dict[str, Any]], ctx: DecisionContext
) -> list[str | object | None]:
    """The values later commands of this device give a demographic field."""
    found: list[str | object | None] = []
    for command in later:
        changes = command.get("changes")
        if command.get("type") == "UpdateDemographics" and isinstance(changes, dict):
            change = changes.get(name)
            if isinstance(change, dict) and "new" in change:
                found.append(_clean(name, change["new"], ctx))
        elif (
            command.get("type") == "ResolveSyncConflict"
            and command.get("field") == name
            and command.get("resolution") in ("keep-mine", "edit")
        ):
            found.append(_clean(name, command.get("value"), ctx))
    return found


def _instant(text: object) -> datetime | None:
    try:
        return values.instant(text if isinstance(text, str) else None, "start", "Start")
    except DomainError:
        return None


def _mine(command: dict[str, Any], field: str | None) -> str | None:
    """The value this device wanted for `field`, read from the stored command."""
    changes = command.get("changes")
    if isinstance(changes, dict) and field in changes:
        value = changes[field].get("new")
        return None if value is None else str(value)
    value = command.get(field or "")
    return None if value is None else str(value)


__all__ = ["RebaseOutcome", "Received", "SyncGateway"]
