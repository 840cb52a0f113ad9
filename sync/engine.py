"""One sync cycle: push, then pull, then push again what rebase re-based.

Every step is its own durable transaction, so a crash at any point leaves a state the next
cycle continues from: pushed commands are marked synced only after the server confirmed them,
and a retried write is recognised by comparing the server's copy with what we would send.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from app.services.sync_gateway import SyncGateway
from app.services.sync_status import OutboxStatus, SyncProgress
from sync.audit_push import AuditPusher
from sync.fhir.client import FhirClient
from sync.held_changes import push_back
from sync.ports import ResourceMapper
from sync.pull import ChainingRefusedError, Puller, PullReport
from sync.push import Pusher, PushReport
from sync.rebase import Rebaser
from sync.scope import SyncScope
from sync.scope_cache import chaining_refused, strategy_for
from sync.server_check.atomicity import refresh_server_facts

#: Removes the patients out of scope (given the scope and a way to pull patients back whole);
#: returns the server ids of those removed.
Retention = Callable[[SyncScope, Callable[[list[str]], object]], Iterable[str]]


@dataclass(frozen=True)
class CycleReport:
    pushed: int
    unchanged: int
    pulled: int
    pulled_new: int
    conflicts: int
    rebased: int
    needs_attention: int
    quarantined: int
    audit_events: int
    pending_after: int
    seconds: float
    # Server changes held for a person this cycle (identity changes, moves between patients;
    # sync/held_changes.py): counted in needs_attention too.
    held: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class SyncEngine:
    def __init__(
        self,
        gateway: SyncGateway,
        client: FhirClient,
        mapper: ResourceMapper,
        clock: Callable[[], datetime],
        *,
        scope: SyncScope | Callable[[], SyncScope] | None = None,
        retention: Retention | None = None,
    ) -> None:
        """``scope``: the device's (or a callable reading it from the settings each cycle);
        None, an enrolment without one, pulls everything as before scopes. ``retention``,
        run at the end of each cycle (sync/retention.py's apply_retention, wired by the
        composition root), removes the patients out of scope and returns their server ids;
        it gets the cycle's ``pull_patients`` to bring back those who return."""
        self._gateway = gateway
        self._client = client
        self._mapper = mapper
        self._clock = clock
        self._scope = scope
        self._retention = retention
        # A Retry-After date without the server's Date is measured on the clinic's clock.
        client.use_clock(clock)

    def scope(self) -> SyncScope:
        scope = self._scope
        return scope() if callable(scope) else scope or SyncScope()

    def puller(
        self,
        rebaser: Rebaser | None = None,
        progress: Callable[[SyncProgress], None] = lambda _: None,
        pushed: Collection[str] = (),
    ) -> Puller:
        """A Puller of this device's scope (``pull_patients`` for a patient from elsewhere)."""
        rebaser = rebaser or Rebaser(self._gateway, self._client, self._mapper)
        scope = self.scope()
        strategy = strategy_for(self._gateway, self._client, scope, self._clock())
        return Puller(
            self._gateway,
            self._client,
            self._mapper,
            rebaser,
            progress,
            self._clock,
            scope=scope,
            strategy=strategy,
            pushed=pushed,
        )

    def _pull(
        self, rebaser: Rebaser, progress: Callable[[SyncProgress], None], pushed: PushReport
    ) -> tuple[Puller, PullReport]:
        # Patients this push registered come back in the scope's patients: their record is
        # here already (issue 14: a clinic day's pull fetched each of them back whole).
        ours = [self._gateway.server_id("Patient", p) for p in pushed.touched_patients]
        server_ids = [s for s in ours if s]
        puller = self.puller(rebaser, progress, server_ids)
        try:
            return puller, puller.pull_all()
        except ChainingRefusedError as exc:
            # Decided once: the next strategy (patient lists) starts its queries from scratch.
            chaining_refused(self._gateway, str(exc))
            puller = self.puller(rebaser, progress, server_ids)
            return puller, puller.pull_all()

    def run_cycle(self, progress: Callable[[SyncProgress], None] = lambda _: None) -> CycleReport:
        started = self._clock()
        self._client.begin_cycle()  # the client's budget for waiting on the server, per cycle
        refresh_server_facts(self._gateway, self._client, started)  # at most once a day
        rebaser = Rebaser(self._gateway, self._client, self._mapper)
        # Held server changes a person decided to overwrite with ours go back first.
        push_back(self._gateway, self._client, rebaser.ids)
        pusher = Pusher(self._gateway, self._client, self._mapper, rebaser, progress)
        first = pusher.push_pending()
        puller, pulled = self._pull(rebaser, progress, first)
        second = (
            Pusher(self._gateway, self._client, self._mapper, rebaser, progress).push_pending()
            if rebaser.rebased
            else None
        )
        audit = AuditPusher(
            self._gateway, self._client, self._mapper, rebaser.ids, rebaser.strategy
        ).push()
        if self._retention is not None:
            puller.forget(self._retention(self.scope(), puller.pull_patients))
        counts = self._gateway.counts()
        finished = self._clock()
        self._gateway.set_journal("last_success_at", finished.isoformat(timespec="seconds"))
        return CycleReport(
            pushed=first.pushed + (second.pushed if second else 0),
            unchanged=first.unchanged + (second.unchanged if second else 0),
            pulled=pulled.seen,
            pulled_new=pulled.new,
            conflicts=first.conflicts + (second.conflicts if second else 0),
            rebased=rebaser.rebased,
            needs_attention=counts.get(OutboxStatus.NEEDS_ATTENTION, 0),
            quarantined=pulled.quarantined,
            audit_events=audit,
            pending_after=counts.get(OutboxStatus.PENDING, 0),
            seconds=round((finished - started).total_seconds(), 3),
            held=rebaser.guard.held,
        )
