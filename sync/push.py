"""Push: pending commands in order, several independent ones per transaction Bundle
(sync/write_plan.py: creates with our ids or the server's, If-Match on every update of a
resource the server already has), no no-op writes, and a command synced only when every one of
its writes landed.

Grouping (docs/district/push.md): commands are taken in the order they were recorded and join
the Bundle being built, except one that

- touches a resource already in the Bundle, or one of a command passed over for a later Bundle,
  or refers to what a passed-over command writes: it goes in a later Bundle (the same resource
  never twice in a Bundle; one device's edits of a resource reach the server in order);
- touches or refers to a resource of a command this pass left pending (`waiting`): next pass;
- would take the Bundle over the server's limits: the Bundle is closed (a command too big for
  one Bundle goes alone, split in order by write_plan).

A conflict or refusal the server names per entry (a server whose transactions are not atomic)
is that command's alone. An atomic server fails the whole Bundle without saying which entry:
the group is split in two and each half sent again, until the failing command is alone and is
handled as a lone command always was: a version conflict hands it to rebase (sync/rebase.py), a
refusal to needs-attention, and the push carries on; one stuck command never blocks the others.
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
from sync.fhir.errors import (
    RejectedError,
    TransactionTooLargeError,
    VersionConflictError,
)
from sync.ports import ResourceMapper
from sync.rebase import Rebaser
from sync.server_ids import Key, find_on_server
from sync.write_plan import (
    FailedWrite,
    Found,
    PlannedWrite,
    SendResult,
    WriteSender,
    find_landed,
    gone_message,
    refusal,
    switch_to_post,
)

PREFETCH = 500  # commands whose events are read in one transaction

Planned = tuple[OutboxEntry, list[PlannedWrite]]


@dataclass
class PushReport:
    pushed: int = 0
    unchanged: int = 0  # nothing to write: the server already had it
    conflicts: int = 0
    needs_attention: int = 0
    writes: int = 0
    deferred: int = 0  # waited for an earlier command on the same resource (next pass)
    bundles: int = 0  # transactions holding several commands (sent whole or narrowed down)
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
        # Resources of commands this pass left pending (rebased, to be sent again): later
        # commands on them wait for the next pass, so one device's edits of a resource reach
        # the server in the order they were made. Otherwise the earlier command would next be
        # judged against the device's own later edit (a false needs-attention).
        self._waiting: set[Key] = set()
        # Commands sent in an earlier cycle whose answer was never recorded, and what the
        # server holds of their resources (looked up together, one search per type).
        self._possibly_landed: set[str] = set()
        self._found: dict[Key, Found] = {}
        self._looked_up: set[Key] = set()  # found or not
        self._answer_lost: set[str] = set()  # all of them, for this pass's guard

    def push_pending(self) -> PushReport:
        report = PushReport()
        queue = self._gateway.pending()
        total = len(queue)
        in_flight = [e for e in queue if e.in_flight]
        self._possibly_landed = {e.command_id for e in in_flight}
        self._answer_lost = set(self._possibly_landed)
        if in_flight:
            self._prefetch(in_flight)
            self._looked_up = set().union(*(self._keys(e) for e in in_flight))
            self._found = find_landed(self._client, self._ids, self._strategy, self._looked_up)
        while queue:
            self._progress(SyncProgress("push", total - len(queue), total))
            self._prefetch(queue[:PREFETCH])
            group, queue = self._take_group(queue, report)
            if group:
                self._send_group(group, report)
        self._progress(SyncProgress("push", total, total))
        return report

    def _take_group(
        self, queue: list[OutboxEntry], report: PushReport
    ) -> tuple[list[Planned], list[OutboxEntry]]:
        """The commands of the next Bundle, taken in order from `queue`, and what is left."""
        group: list[Planned] = []
        in_bundle: set[Key] = set()
        passed: set[Key] = set()  # resources of commands passed over for a later Bundle
        rest: list[OutboxEntry] = []
        size, conditional = 0, False
        for index, queued in enumerate(queue):
            ready = self._ready(queued, report)
            if ready is None:
                continue
            entry, keys = ready
            if keys & (in_bundle | passed):
                rest.append(entry)
                passed |= keys
                continue
            planned = self._planned(entry, keys, report)
            if planned is None:
                continue
            refers = set().union(*(w.references() for w in planned))
            if refers & passed:
                rest.append(entry)
                passed |= keys
                continue
            guard = self._guard(entry)
            together = conditional or any(self._sender.conditional(w, guard) for w in planned)
            if not self._sender.fits(size + len(planned), together):
                if not group:  # too big for one Bundle: alone, in several
                    return [(entry, planned)], rest + queue[index + 1 :]
                return group, rest + queue[index:]
            group.append((entry, planned))
            size, conditional = size + len(planned), together
            in_bundle |= keys | {w.key for w in planned}
        return group, rest

    def _ready(
        self, queued: OutboxEntry, report: PushReport
    ) -> tuple[OutboxEntry, set[Key]] | None:
        """The command as it stands now and its resources, or None if it is not to be sent
        in this pass: settled meanwhile (e.g. by a rebase of an earlier command), or waiting
        for a command on the same resources this pass left pending."""
        current = self._gateway.entry(queued.command_id)
        if current is None or current.status != OutboxStatus.PENDING:
            return None
        keys = self._keys(current)
        if keys & self._waiting:
            report.deferred += 1
            self._waiting |= keys
            return None
        return current, keys

    def _planned(
        self, entry: OutboxEntry, keys: set[Key], report: PushReport
    ) -> list[PlannedWrite] | None:
        """What the command still has to write, or None if nothing (settled here, or it must
        wait: it refers to what a command left pending writes)."""
        patient_id = patient_of_command_stream(entry.stream_id)
        planned: list[PlannedWrite] | None = self.plan(entry)
        if planned and entry.command_id in self._possibly_landed:
            self._possibly_landed.discard(entry.command_id)
            planned = self._drop_landed(entry, planned, patient_id, report)
            if planned is None:  # the server moved on: handled like any conflict
                if not self._after_conflict(entry, report, retry=True):
                    self._waiting |= keys
                return None
        if not planned:
            self._gateway.record_pushed(entry.command_id, [], patient_id)
            report.unchanged += 1
            return None
        if set().union(*(w.references() for w in planned)) & self._waiting:
            report.deferred += 1
            self._waiting |= keys
            return None
        return planned

    def _guard(self, entry: OutboxEntry) -> bool:
        """Whether the command's creates carry ifNoneExist: only if an earlier send of it may
        have landed unseen (write_plan.WriteSender.conditional)."""
        return entry.command_id in self._answer_lost

    def _send_group(self, group: list[Planned], report: PushReport) -> None:
        """Send these commands in one Bundle (marked in flight just before), and settle each
        by its own entries' answers; narrowed down if the server fails the Bundle whole."""
        self._gateway.mark_in_flight([entry.command_id for entry, _ in group])
        if len(group) == 1:
            entry, planned = group[0]
            if not self._send_one(entry, planned, report, retry=True):
                self._waiting |= self._keys(entry)
            return
        report.bundles += 1
        try:
            results = self._sender.send_together(
                [(planned, self._guard(entry)) for entry, planned in group]
            )
        except TransactionTooLargeError as exc:
            self._sender.shrink(exc, sum(len(planned) for _, planned in group))
            self._split(group, report)
            return
        except RejectedError as exc:
            writes = [w for _, planned in group for w in planned]
            if switch_to_post(self._strategy, writes, exc.status, exc.issues):
                self._split(group, report, halves=1)  # the same group, now by POST
            else:
                self._split(group, report)
            return
        except VersionConflictError:
            self._split(group, report)
            return
        for (entry, planned), sent in zip(group, results, strict=True):
            if not self._settle(entry, planned, sent, report, retry=True):
                self._waiting |= self._keys(entry)

    def _split(self, group: list[Planned], report: PushReport, halves: int = 2) -> None:
        """An atomic server refused the Bundle as a whole (nothing of it was written) without
        naming the entry: send each half again, planned afresh (what an earlier half did may
        have settled or held up a command), until the failing command is alone."""
        cut = len(group) // halves
        for part in (group[:cut], group[cut:]):
            again: list[Planned] = []
            for queued, _ in part:
                ready = self._ready(queued, report)
                planned = self._planned(*ready, report) if ready else None
                if ready is not None and planned is not None:
                    again.append((ready[0], planned))
            if again:
                self._send_group(again, report)

    def _prefetch(self, entries: list[OutboxEntry]) -> None:
        """Read the events of the next commands in one transaction (memory stays bounded by
        PREFETCH however many commands wait)."""
        missing = [e for e in entries if e.command_id not in self._events]
        found = self._gateway.events_of_many(missing) if missing else {}
        self._events = {
            e.command_id: self._events.get(e.command_id)
            or ((e.first_position, e.last_position), found[e.command_id])
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

    def _push(self, entry: OutboxEntry, report: PushReport, retry: bool) -> bool:
        """Push one command alone; False if it is still pending afterwards (rebased or partly
        landed, to be sent again), True if it was settled (synced, converged or needs
        attention)."""
        planned = self.plan(entry)
        if not planned:
            self._gateway.record_pushed(
                entry.command_id, [], patient_of_command_stream(entry.stream_id)
            )
            report.unchanged += 1
            return True
        return self._send_one(entry, planned, report, retry)

    def _send_one(
        self, entry: OutboxEntry, planned: list[PlannedWrite], report: PushReport, retry: bool
    ) -> bool:
        """Send one command's writes alone (in several Bundles if the limits ask), as `_push`."""
        patient_id = patient_of_command_stream(entry.stream_id)

        def landed(copies: list[ServerCopy]) -> None:
            # Kept at once: what the server holds is the base of any retry (never sent twice).
            self._gateway.record_pushed(None, copies, patient_id)

        try:
            sent = self._sender.send(planned, landed, self._guard(entry))
        except VersionConflictError:
            return self._conflict(entry, planned, report, retry)
        except RejectedError as exc:
            # An atomic server refused the whole Bundle, so nothing of it was written.
            if retry and switch_to_post(self._strategy, planned, exc.status, exc.issues):
                return self._push(entry, report, retry=False)
            if exc.status in (404, 410) and any(w.server_id for w in planned):
                return self._needs_attention(
                    entry, gone_message(w.key[0] for w in planned if w.server_id), report
                )
            return self._needs_attention(entry, refusal(exc), report)
        return self._settle(entry, planned, sent, report, retry)

    def _settle(
        self,
        entry: OutboxEntry,
        planned: list[PlannedWrite],
        sent: SendResult,
        report: PushReport,
        retry: bool,
    ) -> bool:
        """Act on the answers to one command's entries (alone or in a Bundle with others)."""
        patient_id = patient_of_command_stream(entry.stream_id)
        report.writes += len(sent.landed)
        if (sent.failed or sent.existing) and sent.unrecorded:
            # What landed is kept at once: the base of any retry (never sent twice).
            self._gateway.record_pushed(None, sent.unrecorded, patient_id)
        if sent.failed:
            return self._after_failures(entry, planned, sent.failed, report, retry)
        if sent.existing:
            # A create found ours already there (an earlier answer was lost): it may hold an
            # older content, so plan again against it and send what still differs.
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
            and switch_to_post(
                self._strategy, [f.write for f in refused], refused[0].status, refused[0].issues
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
            found = self._found.get(write.key)
            if found is None and write.key not in self._looked_up:
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
