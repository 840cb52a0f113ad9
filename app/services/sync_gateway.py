"""What the sync engine may do to the vault, each step one durable transaction.

Sync never touches SQL: it reads pending commands and charts, records what the server
confirmed, re-runs (rebases) pending commands and marks their state through this facade.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from app.domain import chart as chart_state
from app.domain.codec import command_from_json
from app.domain.context import DecisionContext
from app.domain.events import (
    DomainEvent,
    MergeUndone,
    PatientMerged,
    PatientVersionReceived,
    stream_of,
)
from app.domain.merge import server_merge_events
from app.domain.rebase import ConflictDetail, Converged, NeedsAttention, decide_rebase
from app.domain.reference import Catalog
from app.domain.roles import Actor, Role
from app.projections import patient_links, schedule
from app.projections.runner import ProjectionRunner
from app.services.gateway_types import RebaseOutcome, Received, ServerCopy
from app.store import outbox, sync_state
from app.store.charts import load_chart
from app.store.database import Transaction, read_transaction, write_transaction
from app.store.event_log import ANY_VERSION, EventMetadata, NewEvent
from app.store.outbox import OutboxEntry, OutboxStatus
from app.store.sync_state import HELD_PREFIX, RemoteCopy, held_key
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
        """Outbox rows per status; needs-attention also counts the held server changes."""
        with read_transaction(self._vault.engine) as conn:
            found = outbox.counts(conn)
            held = sync_state.held_count(conn)
        if held:
            attention = OutboxStatus.NEEDS_ATTENTION
            found[attention] = found.get(attention, 0) + held
        return found

    def entry(self, command_id: str) -> OutboxEntry | None:
        with read_transaction(self._vault.engine) as conn:
            return outbox.get(conn, command_id)

    def chart(self, patient_id: str) -> chart_state.PatientChart:
        """The patient's current local chart (server versions plus pending changes)."""
        return load_chart(self._vault.events, patient_id)[1]

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
                found.append(r.to_domain())
        return found

    def remote(self, resource_type: str, resource_id: str) -> RemoteCopy | None:
        with read_transaction(self._vault.engine) as conn:
            return sync_state.remote(conn, resource_type, resource_id)

    def server_id(self, resource_type: str, resource_id: str) -> str | None:
        """The id the server knows our resource by (None: the server has not got it)."""
        with read_transaction(self._vault.engine) as conn:
            return sync_state.server_id(conn, resource_type, resource_id)

    def local_id(self, resource_type: str, server_resource_id: str) -> str | None:
        """Our id of a resource the server knows by `server_resource_id`, if we have it."""
        with read_transaction(self._vault.engine) as conn:
            return sync_state.local_id(conn, resource_type, server_resource_id)

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

    def quarantined_count(self) -> int:
        """How many distinct items are in quarantine (the list above is capped)."""
        with read_transaction(self._vault.engine) as conn:
            return sync_state.quarantined_count(conn)

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
        self,
        command_id: str | None,
        resources: Sequence[dict[str, Any] | ServerCopy],
        patient_id: str | None,
    ) -> None:
        """The server holds these versions: remember them (with the ids the server gave them)
        and, given a command id, mark that command synced.

        Not durable (see write_transaction): lost in a power cut, the command is still
        marked in flight, and the next push asks the server what landed (Pusher)."""
        with write_transaction(self._vault.engine, durable=False) as conn:
            for copy in resources:
                if isinstance(copy, ServerCopy):
                    sync_state.save_remote(conn, copy.resource, patient_id, copy.server_id)
                else:
                    sync_state.save_remote(conn, copy, patient_id)
            if command_id is not None:
                outbox.set_status(conn, command_id, outbox.SYNCED)

    def record_received(self, received: Sequence[Received]) -> list[tuple[str, str]]:
        """Record server versions as confirmed events (skipping versions already known) and
        update the read models, in one transaction. Returns (type, id) of the new ones."""
        with write_transaction(self._vault.engine) as conn:
            new, appended = self._record(conn, received, {"origin": "server"})
            if appended:
                # The events just appended, as appended: catch-up need not read them back.
                self._runner.catch_up(conn, appended)
        return new

    def _record(
        self, conn: Transaction, received: Sequence[Received], extra: dict[str, str]
    ) -> tuple[list[tuple[str, str]], list[Any]]:
        new: list[tuple[str, str]] = []
        appended: list[Any] = []
        now = self._clock().isoformat(timespec="milliseconds")
        for item in received:
            meta = item.resource.get("meta") or {}
            known = sync_state.known_version(
                conn, item.resource["resourceType"], item.resource["id"]
            )
            if known is not None and known == str(meta.get("versionId")):
                continue
            sync_state.save_remote(conn, item.resource, item.patient_id, item.server_id)
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
                extra=extra,
            )
            stream = stream_of(item.patient_id)
            # Appended at the stream's current version: inside this write transaction
            # nobody else can move it, so append's own look-up is the only one needed.
            events = [item.event, *self._merges_received(conn, item.patient_id, item.event)]
            appended += self._vault.events.append(
                stream,
                ANY_VERSION,
                [NewEvent.of(e, metadata) for e in events],
                conn,
            )
        return new, appended

    def _merges_received(
        self, conn: Transaction, patient_id: str, event: DomainEvent
    ) -> list[DomainEvent]:
        """The merges a pulled Patient makes or undoes here (another device merged records:
        its Patient.link, docs/front-desk/merge.md). Only a Patient with links, or one with
        records merged into it here, needs its chart read."""
        if not isinstance(event, PatientVersionReceived):
            return []
        if not event.merges and not patient_links.merged_into(conn, patient_id):
            return []
        _version, chart = load_chart(self._vault.events, patient_id, conn)
        unsent = {
            e.merge_id
            for entry in outbox.later_in_stream(conn, stream_of(patient_id), 0)
            if entry.command_type in ("MergePatients", "UndoMerge")
            and entry.status in (outbox.PENDING, outbox.NEEDS_ATTENTION)
            for e in self._events_of(entry, conn)
            if isinstance(e, PatientMerged | MergeUndone)
        }
        return list(server_merge_events(chart, event.merges, unsent))

    # -- held server changes (sync/held_changes.py decides what is held) --------------------

    def remotes(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], RemoteCopy]:
        """The server copies we hold of these (type, our id), read in one transaction."""
        found = {}
        with read_transaction(self._vault.engine) as conn:
            for resource_type, resource_id in keys:
                copy = sync_state.remote(conn, resource_type, resource_id)
                if copy is not None:
                    found[(resource_type, resource_id)] = copy
        return found

    def held_changes(self) -> list[dict[str, Any]]:
        with read_transaction(self._vault.engine) as conn:
            return sync_state.held_changes(conn)

    def held_change(self, hold_id: str) -> dict[str, Any] | None:
        with read_transaction(self._vault.engine) as conn:
            return sync_state.held_change(conn, hold_id)

    def has_chart(self, patient_id: str) -> bool:
        """Whether this device holds the patient's chart (events in their stream)."""
        return self._vault.events.stream_version(stream_of(patient_id)) > 0

    def hold(self, held: dict[str, Any], notes: Sequence[tuple[str, DomainEvent]]) -> None:
        """Keep a server change for a person instead of applying it; ``notes`` (patient id,
        ServerChangeHeld) go into the charts concerned, in the same transaction."""
        with write_transaction(self._vault.engine) as conn:
            sync_state.hold_change(conn, held["id"], held)
            self._runner.catch_up(conn, self._note(conn, notes, SYSTEM_USER, SYSTEM_ROLE))

    def release(self, hold_id: str) -> None:
        """A held change is no longer needed (the server went back to what we accepted)."""
        with write_transaction(self._vault.engine) as conn:
            sync_state.release_change(conn, hold_id)

    def accept_held(
        self,
        hold_id: str,
        received: Received,
        actor: Actor,
        notes: Sequence[tuple[str, DomainEvent]],
    ) -> list[tuple[str, str]]:
        """A person accepted a held server version: record it exactly as a pull would (events,
        read models), note the decision in the charts concerned, and drop the hold."""
        with write_transaction(self._vault.engine) as conn:
            if sync_state.held_change(conn, hold_id) is None:
                raise LookupError("that item no longer needs attention")
            extra = {"origin": "server", "accepted_by": actor.user}
            new, appended = self._record(conn, [received], extra)
            appended += self._note(conn, notes, actor.user, actor.role.value)
            sync_state.release_change(conn, hold_id)
            self._runner.catch_up(conn, appended)
        return new

    def keep_ours(
        self, hold_id: str, actor: Actor, notes: Sequence[tuple[str, DomainEvent]]
    ) -> None:
        """A person kept our version: the chart stays as it is and the next cycle sends our
        version back over the server's (sync/held_changes.py push_back)."""
        with write_transaction(self._vault.engine) as conn:
            held = sync_state.held_change(conn, hold_id)
            if held is None:
                raise LookupError("that item no longer needs attention")
            sync_state.hold_change(conn, hold_id, {**held, "state": "push-back"})
            self._runner.catch_up(conn, self._note(conn, notes, actor.user, actor.role.value))

    def pushed_back(self, hold_id: str, copy: ServerCopy, patient_id: str | None) -> None:
        """The server took our version back: it is the base from now on; the hold is done."""
        with write_transaction(self._vault.engine) as conn:
            sync_state.save_remote(conn, copy.resource, patient_id, copy.server_id)
            sync_state.release_change(conn, hold_id)

    def _note(
        self,
        conn: Transaction,
        notes: Sequence[tuple[str, DomainEvent]],
        user: str,
        role: str,
    ) -> list[Any]:
        now = self._clock().isoformat(timespec="milliseconds")
        appended: list[Any] = []
        for patient_id, event in notes:
            metadata = EventMetadata(
                command_id=f"held:{uuid.uuid4()}",
                user=user,
                role=role,
                device_id=self._vault.device_id,
                recorded_at=now,
                occurred_at=now,
                extra={"origin": "sync"},
            )
            appended += self._vault.events.append(
                stream_of(patient_id), ANY_VERSION, [NewEvent.of(event, metadata)], conn
            )
        return appended

    def mark_in_flight(self, command_ids: list[str]) -> None:
        if not command_ids:
            return
        with write_transaction(self._vault.engine) as conn:
            outbox.mark_in_flight(conn, command_ids)

    def mark_attention(self, command_id: str, message: str, detail: ConflictDetail) -> None:
        with write_transaction(self._vault.engine) as conn:
            outbox.set_status(
                conn, command_id, outbox.NEEDS_ATTENTION, error=message, detail=detail.to_json()
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

    def update_journal(self, key: str, change: Callable[[Any], Any]) -> Any:
        """Read, change and write one journal entry in one write transaction: two writers
        (the sync worker and a person bringing a patient here) never lose each other's
        change. Returns the value written."""
        with write_transaction(self._vault.engine) as conn:
            value = change(sync_state.journal(conn, key))
            sync_state.set_journal(conn, key, value)
            return value

    def quarantine(
        self,
        resource_type: str | None,
        resource_id: str | None,
        reason: str,
        body: str | bytes | None,
    ) -> None:
        # Not waiting for the disk: a bad item lost to a power cut comes back with the next
        # pull, and the next durable commit makes this one durable too (100,000 bad items
        # were 100,000 fsyncs a cycle).
        with write_transaction(self._vault.engine, durable=False) as conn:
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
            version, chart = load_chart(self._vault.events, command.patient_id, conn)
            ctx = DecisionContext(
                now=now,
                actor=actor,
                new_id=lambda: str(uuid.uuid4()),
                catalog=self._catalog,
                clashing_appointment=lambda c, s, e, i: schedule.clash(conn, c, s, e, i),
                local_today=now.astimezone().date(),
            )
            later = [
                command_from_json(e.command)
                for e in outbox.later_in_stream(conn, entry.stream_id, entry.seq)
            ]
            outcome = decide_rebase(chart, command, later, ctx)
            if isinstance(outcome, Converged):
                # The server already shows what the command asked for.
                outbox.set_status(conn, entry.command_id, outbox.SYNCED, detail={"converged": True})
                return RebaseOutcome(True, converged=True)
            if isinstance(outcome, NeedsAttention):
                return RebaseOutcome(False, outcome.message, outcome.detail)
            decision = outcome.decision
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
                version,
                [NewEvent.of(e, metadata) for e in decision.events],
                conn,
            )
            outbox.set_positions(
                conn, entry.command_id, recorded[0].position, recorded[-1].position
            )
            self._runner.catch_up(conn)
        return RebaseOutcome(True)


__all__ = [
    "HELD_PREFIX",
    "OutboxEntry",
    "RebaseOutcome",
    "Received",
    "RemoteCopy",
    "SyncGateway",
    "held_key",
]
