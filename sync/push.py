"""Push: pending commands in order, one transaction Bundle per command (sync/write_plan.py:
creates with our ids or the server's, If-Match on every update of a resource the server
already has), no no-op writes, and a command synced only when every write landed.

A version conflict hands the command to rebase (sync/rebase.py) and the push carries on with
the next command: one stuck command never blocks the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.domain.chart import PatientChart
from app.domain.events import DomainEvent, patient_of_command_stream
from app.domain.rebase import ConflictDetail
from app.services.gateway_types import ServerCopy
from app.services.sync_gateway import OutboxEntry, SyncGateway
from app.services.sync_status import OutboxStatus, SyncProgress
from sync.fhir.client import FhirClient
from sync.fhir.errors import Issue, RejectedError, VersionConflictError
from sync.ports import ResourceMapper
from sync.rebase import Rebaser
from sync.server_ids import find_on_server
from sync.write_plan import FailedWrite, PlannedWrite, WriteSender, gone_message

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
        self._ids = rebaser.ids
        self._strategy = rebaser.strategy
        self._sender = WriteSender(client, self._ids, self._strategy)
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
            self._ids.note(out.resource_type, out.resource_id, remote.server_id if remote else None)
            desired = out.build(remote.body if remote else None)
            if remote is not None and self._mapper.same_content(desired, remote.body):
                continue
            planned.append(
                PlannedWrite(
                    out,
                    desired,
                    remote.version_id if remote else None,
                    remote.server_id if remote else None,
                )
            )
        return planned

    def _push(
        self, entry: OutboxEntry, report: PushReport, retry: bool, check_server: bool = False
    ) -> bool:
        """Push one command; False if it is still pending afterwards (rebased or partly
        landed, to be sent again), True if it was settled (synced, converged or needs
        attention)."""
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

        def landed(copies: list[ServerCopy]) -> None:
            # Kept at once: what the server holds is the base of any retry (never sent twice).
            self._gateway.record_pushed(None, copies, patient_id)

        try:
            sent = self._sender.send(planned, landed)
        except VersionConflictError:
            return self._conflict(entry, planned, report, retry)
        except RejectedError as exc:
            # An atomic server refused the whole Bundle, so nothing of it was written.
            if retry and self._refused_put_create(planned, exc.status, exc.issues):
                return self._push(entry, report, retry=False)
            if exc.status in (404, 410) and any(w.server_id for w in planned):
                return self._needs_attention(
                    entry, gone_message(w.key[0] for w in planned if w.server_id), report
                )
            return self._needs_attention(entry, _refusal(exc), report)
        report.writes += len(sent.landed)
        if sent.failed:
            return self._after_failures(entry, planned, sent.failed, report, retry)
        if sent.existing:
            # A create found ours already there (an earlier answer was lost): it may hold an
            # older content, so plan again against it and send what still differs.
            landed(sent.unrecorded)
            self._charts.pop(patient_id, None)
            return self._after_conflict(entry, report, retry)
        report.pushed += 1
        report.touched_patients.add(patient_id)
        self._gateway.record_pushed(entry.command_id, sent.unrecorded, patient_id)
        return True

    def _after_failures(
        self,
        entry: OutboxEntry,
        planned: list[PlannedWrite],
        failed: list[FailedWrite],
        report: PushReport,
        retry: bool,
    ) -> bool:
        """Some entries of a non-atomic transaction failed (those that landed are kept)."""
        if any(f.conflict for f in failed):
            return self._conflict(entry, planned, report, retry)
        refused = [f for f in failed if not f.transient]
        if (
            retry
            and refused
            and all(f.put_create for f in refused)
            and self._refused_put_create(
                [f.write for f in refused], refused[0].status, refused[0].issues
            )
        ):
            return self._push(entry, report, retry=False)
        gone = [f.write for f in refused if f.status in (404, 410) and f.write.server_id]
        if gone:
            return self._needs_attention(entry, gone_message(w.key[0] for w in gone), report)
        if refused:
            message = "; ".join(f.describe() for f in refused)
            return self._needs_attention(entry, f"the server refused {message}", report)
        self._gateway.mark_error(
            entry.command_id, "; ".join(f"not yet written: {f.describe()}" for f in failed)
        )
        return False

    def _refused_put_create(
        self, planned: list[PlannedWrite], status: int | None, issues: tuple[Issue, ...]
    ) -> bool:
        """A create by PUT with our id was refused because the server assigns ids: switch
        those types to POST. True if anything changed (worth one more try)."""
        if not _refuses_client_ids(status, issues):
            return False
        changed = False
        for write in planned:
            if write.server_id is None and not self._strategy.by_post(write.key[0]):
                changed = self._strategy.refuse_put(write.key[0]) or changed
        return changed

    def _needs_attention(self, entry: OutboxEntry, message: str, report: PushReport) -> bool:
        """Refused for good: a person (or IT) must look; the other commands go on."""
        self._gateway.mark_attention(entry.command_id, message, ConflictDetail(None, None, None))
        report.needs_attention += 1
        return True

    def _conflict(
        self, entry: OutboxEntry, planned: list[PlannedWrite], report: PushReport, retry: bool
    ) -> bool:
        report.conflicts += 1
        outcome = self._rebaser.on_conflict(
            entry, [p.outgoing for p in planned], [p.resource for p in planned]
        )
        self._charts.pop(patient_of_command_stream(entry.stream_id), None)
        if outcome == "attention":
            report.needs_attention += 1
        return self._after_conflict(entry, report, retry)

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
        landed: list[ServerCopy] = []
        for write in planned:
            found = find_on_server(
                self._client,
                self._ids,
                *write.key,
                by_post=self._strategy.by_post(write.key[0]),
            )
            if found is None:
                remaining.append(write)
                continue
            resource, server_id, version = found
            if self._mapper.same_content(write.resource, resource):
                landed.append(ServerCopy(resource, server_id))
            elif version != write.if_match:
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


def _refuses_client_ids(status: int | None, issues: tuple[Issue, ...]) -> bool:
    """Whether a refused PUT-create means "this server assigns ids": Medplum answers 404 to
    a PUT of an unknown id (400 "Cannot perform create as update with client-assigned ID" or
    "Cannot provide ID for create by update" for conditional forms); HAPI 400 "Can not create
    resource with ID ..."; others 405. A validation error (400/422 about the content) is not."""
    if status in (404, 405):
        return True
    said = " ".join(i.diagnostics or "" for i in issues).lower()
    return status in (400, 422) and "create" in said and " id" in said


def _refusal(exc: RejectedError) -> str:
    said = "; ".join(exc.diagnostics) or ", ".join(f"{i.severity}/{i.code}" for i in exc.issues)
    return f"the server refused this change ({exc.status}): {said or exc.message}"
