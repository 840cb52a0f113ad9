"""ClinicCommands.execute(command, actor) -> Changes: the one way anything gets recorded.

One write transaction per command: load the chart, decide, append the events, write the outbox
row and update every read model; commit with synchronous=FULL. So a command the caller saw
succeed is durable, and a refused one leaves no trace.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

from app.domain import chart as chart_state
from app.domain.codec import command_to_json
from app.domain.commands import Command, RegisterPatient, ResolveSyncConflict
from app.domain.context import DecisionContext
from app.domain.decide import check_role, decide
from app.domain.decision import Decision
from app.domain.errors import NotFoundError, ValidationError
from app.domain.events import DomainEvent, stream_of
from app.domain.merge import linked_item_changed, with_linked
from app.domain.reference import Catalog
from app.domain.roles import Actor
from app.domain.values import item_id as valid_id
from app.i18n import _, say
from app.projections import chart_items, patient_links, schedule
from app.projections.runner import ProjectionRunner
from app.services.clock import Clock
from app.services.dto import Changes
from app.store import outbox
from app.store.charts import load_chart
from app.store.database import Transaction, write_transaction
from app.store.event_log import EventLog, EventMetadata, NewEvent, RecordedEvent
from app.store.vault import Vault

CACHE_SIZE = 256

AREAS: dict[str, tuple[str, ...]] = {
    "PatientRegistered": ("patients", "chart"),
    "DemographicsUpdated": ("patients", "chart"),
    "PatientMerged": ("patients", "chart"),
    "MergeUndone": ("patients", "chart"),
    "AppointmentScheduled": ("schedule", "chart"),
    "AppointmentRescheduled": ("schedule", "chart"),
    "AppointmentCancelled": ("schedule", "chart"),
    "AppointmentAttended": ("schedule", "chart"),
    "AppointmentMissed": ("schedule", "chart"),
    "EnteredInError": ("schedule", "chart"),
    # Follow-up calls change the call worklist (shown beside the schedule).
    "CallAttemptRecorded": ("schedule", "chart"),
    "RemovedFromWorklist": ("schedule", "chart"),
}


def item_ids_of(events: list[DomainEvent]) -> list[str]:
    """The chart items the events create or change: each event's first id field. Later id
    fields are references (drug_id, substance_id, a linked encounter_id), not changed items."""
    ids = []
    for event in events:
        for f in dataclasses.fields(event):
            if f.name.endswith("_id") and f.name != "patient_id":
                value = getattr(event, f.name)
                if isinstance(value, str) and value not in ids:
                    ids.append(value)
                break
    return ids


def changes_of(command: Command, command_id: str, decision: Decision) -> Changes:
    """What recording `decision` changes, as the caller (and a retry of it) is told."""
    types = [type(e).__name__ for e in decision.events]
    return Changes(
        command_id=command_id,
        patient_id=command.patient_id,
        command_type=type(command).__name__,
        events=types,
        item_ids=item_ids_of(decision.events),
        warnings=[say(w) for w in decision.warnings],
        areas=sorted({"audit", "chart", *(a for t in types for a in AREAS.get(t, ()))}),
    )


def _check_open_conflict(conn: Transaction, command: ResolveSyncConflict) -> None:
    entry = outbox.get(conn, command.conflict_command_id)
    if entry is None or entry.status != outbox.NEEDS_ATTENTION:
        raise NotFoundError(_("There is no open sync conflict with this id"), "conflict_command_id")
    if entry.stream_id != stream_of(command.patient_id):
        raise NotFoundError(_("That sync conflict belongs to another patient"), "patient_id")


def merged_view(chart: chart_state.PatientChart, ctx: DecisionContext) -> chart_state.PatientChart:
    """The survivor's chart with the items of the records merged into it, as decide sees it
    (the prescribing check must see the replaced record's allergies)."""
    linked = [c for c in (ctx.chart_of(pid) for pid in chart.merged) if c is not None]
    return with_linked(chart, linked)


def refuse_linked_changes(
    command: Command,
    decision: Decision,
    own: chart_state.PatientChart,
    seen: chart_state.PatientChart,
) -> None:
    """A command on the survivor may read a linked record's items, not change them: they live
    in that record's stream (and resource), which undoing the merge must give back as it was."""
    linked = {i: item for i, item in seen.items.items() if i not in own.items}
    changed = linked_item_changed(item_ids_of(decision.events), linked)
    if changed is None:
        return
    field_name = next(
        (
            f.name
            for f in dataclasses.fields(command)
            if f.name.endswith("_id") and getattr(command, f.name) == changed
        ),
        "item_id",
    )
    raise ValidationError(
        _(
            "This item is from a record merged into this chart; it cannot be changed here "
            "(undo the merge to change it on its own record)"
        ),
        field_name,
    )


class ClinicCommands:
    def __init__(
        self,
        vault: Vault,
        runner: ProjectionRunner,
        catalog: Catalog,
        clock: Clock,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._vault = vault
        self._runner = runner
        self._catalog = catalog
        self._clock = clock
        self._new_id = new_id
        # Charts folded so far, by stream: a command on a big chart reads only newer events.
        self._charts: OrderedDict[str, tuple[int, chart_state.PatientChart]] = OrderedDict()
        self._lock = threading.Lock()

    def execute(self, command: Command, actor: Actor) -> Changes:
        """Validate and record one command; raises DomainError (nothing recorded) if refused."""
        now = self._clock()
        ctx = self._context(now, actor)
        check_role(command, ctx)  # before touching the database at all
        command, command_id = self._with_ids(command)
        stream, log = stream_of(command.patient_id), self._vault.events
        with self._lock, self._forgetting_chart_on_failure(stream), self._transaction() as conn:
            previous = outbox.get(conn, command_id)
            if previous is not None:  # a retry: the first attempt was recorded
                return dataclasses.replace(Changes(**previous.result), duplicate=True)
            if isinstance(command, ResolveSyncConflict):
                _check_open_conflict(conn, command)
            version, chart = self._load(conn, log, command.patient_id)
            ctx_here = self._with_lookups(ctx, conn)
            seen = merged_view(chart, ctx_here) if chart.merged else chart
            decision = decide(seen if version else None, command, ctx_here)
            if seen is not chart:
                refuse_linked_changes(command, decision, chart, seen)
            metadata = self._metadata(command_id, decision, actor, now)
            new = [NewEvent.of(e, metadata) for e in decision.events]
            recorded = log.append(stream, version, new, conn)
            changes = changes_of(command, command_id, decision)
            self._record_in_outbox(conn, command, recorded, metadata, changes)
            self._runner.catch_up(conn, recorded)
            self._remember(stream, recorded[-1].stream_version, chart, decision.events)
        return changes

    def _context(self, now: datetime, actor: Actor) -> DecisionContext:
        """What deciding needs besides the chart, without the lookups in the database."""
        return DecisionContext(
            now=now,
            actor=actor,
            new_id=self._new_id,
            catalog=self._catalog,
            local_today=now.astimezone().date(),
        )

    def _with_ids(self, command: Command) -> tuple[Command, str]:
        """The command with its command id and, for a registration, its patient id: the
        caller's if given (a retry sends the same ones), else new ones."""
        if isinstance(command, RegisterPatient):
            patient_id = (
                valid_id(command.patient_id, "patient_id") if command.patient_id else self._new_id()
            )
            command = dataclasses.replace(command, patient_id=patient_id)
        command_id = command.command_id or self._new_id()
        return dataclasses.replace(command, command_id=command_id), command_id

    def _with_lookups(self, ctx: DecisionContext, conn: Transaction) -> DecisionContext:
        """`ctx` answering questions about other charts from the read models in `conn`."""
        return dataclasses.replace(
            ctx,
            clashing_appointment=lambda c, s, e, i: schedule.clash(conn, c, s, e, i),
            # no clinician users on this device: it cannot check the name
            clinicians=lambda: frozenset(schedule.clinicians(conn)) or None,
            item_id_taken=lambda item_id: chart_items.exists(conn, item_id),
            chart_of=lambda pid: load_chart(self._vault.events, pid, conn)[1],
            replaced_by=lambda pid: patient_links.replaced_by(conn, pid),
        )

    @contextmanager
    def _forgetting_chart_on_failure(self, stream: str) -> Iterator[None]:
        # The cached chart may have been evolved before a failed commit: drop it.
        try:
            yield
        except BaseException:
            self._charts.pop(stream, None)
            raise

    def _transaction(self) -> AbstractContextManager[Transaction]:
        """The durable write transaction one command runs in (the benchmark's bulk loader
        shares one among many commands; see tests/bench/bulk.py)."""
        return write_transaction(self._vault.engine)

    def _load(
        self, conn: Transaction, log: EventLog, patient_id: str
    ) -> tuple[int, chart_state.PatientChart]:
        """The patient's chart from the cache, brought up to date with newer events."""
        return load_chart(log, patient_id, conn, start=self._charts.get(stream_of(patient_id)))

    def _metadata(
        self, command_id: str, decision: Decision, actor: Actor, now: datetime
    ) -> EventMetadata:
        """Who recorded the command's events, on which device, when, and when they happened."""
        return EventMetadata(
            command_id=command_id,
            user=actor.user,
            role=actor.role.value,
            device_id=self._vault.device_id,
            recorded_at=now.isoformat(timespec="milliseconds"),
            occurred_at=decision.occurred_at,
        )

    @staticmethod
    def _record_in_outbox(
        conn: Transaction,
        command: Command,
        recorded: list[RecordedEvent],
        metadata: EventMetadata,
        changes: Changes,
    ) -> None:
        """Queue the command for sync with what it changed (a retry is answered from here);
        resolving a sync conflict closes it."""
        outbox.record(
            conn,
            command_id=metadata.command_id,
            stream_id=recorded[0].stream_id,
            command_type=type(command).__name__,
            command=command_to_json(command),
            first_position=recorded[0].position,
            last_position=recorded[-1].position,
            recorded_at=metadata.recorded_at,
            user=metadata.user,
            role=metadata.role,
            result=changes.to_json(),
        )
        if isinstance(command, ResolveSyncConflict):
            outbox.set_status(conn, command.conflict_command_id, outbox.RESOLVED)

    def _remember(
        self,
        stream: str,
        version: int,
        chart: chart_state.PatientChart,
        events: list[DomainEvent],
    ) -> None:
        """Cache the chart as `events` (just recorded at `version`) leave it."""
        for event in events:
            chart_state.evolve(chart, event)
        self._charts[stream] = (version, chart)
        self._charts.move_to_end(stream)
        while len(self._charts) > CACHE_SIZE:
            self._charts.popitem(last=False)

    def forget(self) -> None:
        """Drop cached charts (on lock: no patient data stays in memory)."""
        with self._lock:
            self._charts.clear()
