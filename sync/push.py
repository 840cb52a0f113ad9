"""Push: pending commands in order, one transaction Bundle per command, PUT with our ids,
If-Match on every update of a resource the server already has, no no-op writes.

A version conflict hands the command to rebase (sync/rebase.py) and the push carries on with
the next command: one stuck command never blocks the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.domain.chart import PatientChart
from app.domain.events import DomainEvent, patient_of_command_stream
from app.services.sync_gateway import OutboxEntry, SyncGateway
from app.services.sync_status import OutboxStatus, SyncProgress
from sync.fhir.bundle import TooManyEntriesError, TransactionBuilder
from sync.fhir.client import FhirClient
from sync.fhir.errors import VersionConflictError
from sync.ports import Outgoing, ResourceMapper
from sync.rebase import Rebaser

PREFETCH = 500  # commands whose events are read in one transaction


@dataclass
class PushReport:
    pushed: int = 0
    unchanged: int = 0  # nothing to write: the server already had it
    conflicts: int = 0
    needs_attention: int = 0
    writes: int = 0
    deferred: int = 0  # waited for an earlier command on the same resource (next pass)
    touched_patients: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PlannedWrite:
    outgoing: Outgoing
    resource: dict[str, Any]
    if_match: str | None


class Pusher:
    def __init__(
        self,
        gateway: SyncGateway,
        client: FhirClient,
        mapper: ResourceMapper,
        rebaser: Rebaser,
        progress: Callable[[SyncProgress], None],
    ) -> None:
        self._gateway = gateway
        self._client = client
        self._mapper = mapper
        self._rebaser = rebaser
        self._progress = progress
        self._charts: dict[str, PatientChart] = {}
        # Events of the next PREFETCH commands of this pass, read in one transaction, keyed by
        # command id and the log span they were read from (a rebase may re-record a command).
        self._events: dict[str, tuple[tuple[int, int], list[DomainEvent]]] = {}

    def push_pending(self) -> PushReport:
        report = PushReport()
        entries = self._gateway.pending()
        # Flags from before this cycle: those commands may have landed without us knowing.
        possibly_landed = {e.command_id for e in entries if e.in_flight}
        self._gateway.mark_in_flight([e.command_id for e in entries])
        # Resources of commands this pass left pending (rebased, to be sent again): later
        # commands on them wait for the next pass, so one device's edits of a resource reach
        # the server in the order they were made. Otherwise the earlier command would next be
        # judged against the device's own later edit (a false needs-attention).
        waiting: set[tuple[str, str]] = set()
        for done, entry in enumerate(entries):
            self._progress(SyncProgress("push", done, len(entries)))
            if done % PREFETCH == 0:
                self._prefetch(entries[done : done + PREFETCH])
            current = self._gateway.entry(entry.command_id)
            if current is None or current.status != OutboxStatus.PENDING:
                continue  # settled meanwhile (e.g. by a rebase of an earlier command)
            if waiting and self._keys(current) & waiting:
                report.deferred += 1
                continue
            settled = self._push(
                current, report, retry=True, check_server=current.command_id in possibly_landed
            )
            if not settled:
                waiting |= self._keys(current)
        self._progress(SyncProgress("push", len(entries), len(entries)))
        return report

    def _prefetch(self, entries: list[OutboxEntry]) -> None:
        """Read the events of the next commands in one transaction (memory stays bounded by
        PREFETCH however many commands wait)."""
        found = self._gateway.events_of_many(entries)
        self._events = {
            e.command_id: ((e.first_position, e.last_position), found[e.command_id])
            for e in entries
        }

    def _keys(self, entry: OutboxEntry) -> set[tuple[str, str]]:
        return self._mapper.keys(self._events_of(entry), patient_of_command_stream(entry.stream_id))

    def _events_of(self, entry: OutboxEntry) -> list[DomainEvent]:
        known = self._events.get(entry.command_id)
        if known is not None and known[0] == (entry.first_position, entry.last_position):
            return known[1]
        return self._gateway.events_of(entry)

    def _chart(self, patient_id: str) -> PatientChart:
        if patient_id not in self._charts:
            self._charts[patient_id] = self._gateway.chart(patient_id)
        return self._charts[patient_id]

    def forget_chart(self, patient_id: str) -> None:
        self._charts.pop(patient_id, None)

    def plan(self, entry: OutboxEntry) -> list[PlannedWrite]:
        """What this command must write, against the server copies we know (no-ops left out)."""
        patient_id = patient_of_command_stream(entry.stream_id)
        outs = self._mapper.outgoing(self._events_of(entry), self._chart(patient_id))
        planned = []
        for out in outs:
            remote = self._gateway.remote(out.resource_type, out.resource_id)
            desired = out.build(remote.body if remote else None)
            if remote is not None and self._mapper.same_content(desired, remote.body):
                continue
            planned.append(PlannedWrite(out, desired, remote.version_id if remote else None))
        return planned

    def _push(
        self, entry: OutboxEntry, report: PushReport, retry: bool, check_server: bool = False
    ) -> bool:
        """Push one command; False if it is still pending afterwards (rebased, to be sent
        again), True if it was settled (synced, converged or needs attention)."""
        patient_id = patient_of_command_stream(entry.stream_id)
        planned: list[PlannedWrite] | None = self.plan(entry)
        if check_server and planned:
            planned = self._drop_landed(entry, planned, patient_id, report)
            if planned is None:  # the server moved on: handled like any conflict
                return self._after_conflict(entry, report, retry)
        if not planned:
            self._gateway.record_pushed(entry.command_id, [], patient_id)
            report.unchanged += 1
            return True
        try:
            written = self._send(planned)
        except VersionConflictError:
            report.conflicts += 1
            outcome = self._rebaser.on_conflict(
                entry, [p.outgoing for p in planned], [p.resource for p in planned]
            )
            self._charts.pop(patient_id, None)
            if outcome == "attention":
                report.needs_attention += 1
            return self._after_conflict(entry, report, retry)
        report.writes += len(written)
        report.pushed += 1
        report.touched_patients.add(patient_id)
        self._gateway.record_pushed(entry.command_id, written, patient_id)
        return True

    def _after_conflict(self, entry: OutboxEntry, report: PushReport, retry: bool) -> bool:
        """After a rebase: send a still-pending command once more (on the first conflict)."""
        current = self._gateway.entry(entry.command_id)
        if current is None or current.status != OutboxStatus.PENDING:
            return True
        if retry:
            return self._push(current, report, retry=False)
        return False

    def _drop_landed(
        self, entry: OutboxEntry, planned: list[PlannedWrite], patient_id: str, report: PushReport
    ) -> list[PlannedWrite] | None:
        """Writes of an earlier attempt whose answer we never recorded: keep only those the
        server does not already hold. None if the server moved on (handled as a conflict)."""
        remaining: list[PlannedWrite] = []
        landed: list[dict[str, Any]] = []
        for write in planned:
            found = self._client.read(write.outgoing.resource_type, write.outgoing.resource_id)
            if found is None:
                remaining.append(write)
            elif self._mapper.same_content(write.resource, found.resource):
                landed.append(found.resource)
            elif found.version_id != write.if_match:
                report.conflicts += 1
                self._rebaser.on_conflict(
                    entry, [p.outgoing for p in planned], [p.resource for p in planned]
                )
                self._charts.pop(patient_id, None)
                return None
            else:
                remaining.append(write)
        if landed:
            self._gateway.record_pushed(None, landed, patient_id)
        return remaining

    def _send(self, planned: list[PlannedWrite]) -> list[dict[str, Any]]:
        """One transaction per command; split only where the server's limits force it."""
        written: list[dict[str, Any]] = []
        builder = TransactionBuilder()
        batches: list[TransactionBuilder] = [builder]
        for write in planned:
            try:
                builder.add_put(
                    write.outgoing.resource_type,
                    write.outgoing.resource_id,
                    write.resource,
                    write.if_match,
                )
            except TooManyEntriesError:
                builder = TransactionBuilder()
                batches.append(builder)
                builder.add_put(
                    write.outgoing.resource_type,
                    write.outgoing.resource_id,
                    write.resource,
                    write.if_match,
                )
        for batch in batches:
            for result in self._client.transaction(batch.build()):
                if result.resource is not None:
                    written.append(result.resource)
        return written
