"""The background sync worker: APScheduler runs one cycle at a time, on an interval and on
demand, backs off with jitter on network trouble, honours Retry-After, and reports status DTOs.

Retry-After (docs/decisions.md, "Politeness"): a short one the FHIR client waits out itself; a
longer one ends the cycle with RateLimitedError, and the worker runs the next cycle no earlier
than the server asked (plus a little jitter, so a clinic's devices do not return at the same
instant) and says so: "the server asked us to wait until 10:42". A server cannot ask for more
than MAX_RETRY_AFTER_S (an hour): ``Retry-After: 999999999`` once suspended sync until 2058.
"Sync now" is a person's decision and runs a cycle whatever wait is pending — the server's too
(issue 15): after a server recovers, nobody has to wait out an hour it asked for while down. If
it still refuses, its new wait applies to the interval cycles again.

A cycle that runs out of time (``DeadlineError``, sync.fhir.deadline) ends like a network
failure: what it did is kept, the status says it timed out, the next cycle continues. Whatever
goes wrong, the state never stays "syncing" after a cycle.

Callbacks run on the scheduler's thread; the UI bridges them to Qt signals.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from app.i18n import _
from app.i18n.formatting import clock
from app.services.sync_lock import SyncBusyError
from app.services.sync_status import (
    OutboxStatus,
    Resolution,
    SyncProgress,
    SyncState,
    SyncStatus,
    VaultLockedError,
)
from sync.fhir.errors import FhirError, RateLimitedError, TlsError
from sync.fhir.retry_hints import MAX_RETRY_AFTER_S

log = logging.getLogger("fieldchart.sync")

ProgressCallback = Callable[[SyncProgress], None]
CycleRunner = Callable[[ProgressCallback], Any]
Listener = Callable[[SyncStatus], None]


def backoff_delay(failures: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of base * 2^(n-1), capped."""
    ceiling = min(max_s, base_s * 2 ** max(failures - 1, 0))
    return rng.uniform(ceiling / 2, ceiling)


#: Jitter added after a server's Retry-After: up to this share of the wait, and at most MAX.
RETRY_AFTER_JITTER = 0.1
RETRY_AFTER_JITTER_MAX_S = 30.0


def retry_after_delay(retry_after_s: float, rng: random.Random) -> float:
    """The server's wait (at most MAX_RETRY_AFTER_S), never less, plus a little jitter to
    spread a clinic's devices; whole seconds, so the time shown (to the second) is never
    before the time the cycle may run."""
    retry_after_s = min(max(retry_after_s, 0.0), MAX_RETRY_AFTER_S)
    return float(
        math.ceil(
            retry_after_s
            + rng.uniform(0.0, min(RETRY_AFTER_JITTER_MAX_S, RETRY_AFTER_JITTER * retry_after_s))
        )
    )


class SyncWorker:
    def __init__(
        self,
        run_cycle: CycleRunner,
        *,
        server_url: str,
        interval_s: float,
        counts: Callable[[], dict[str, int]] = dict,
        resolver: Callable[[str, Resolution, str | None], None] | None = None,
        clock: Callable[[], datetime],
        scheduler_clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        backoff_base_s: float = 5.0,
        backoff_max_s: float = 15 * 60.0,
        last_success_at: str | None = None,
    ) -> None:
        self._run_cycle = run_cycle
        self._interval_s = interval_s
        self._counts = counts
        self._resolver = resolver
        self._clock = clock  # the clinic's: the times people see (last success, next attempt)
        # APScheduler fires jobs by the machine's wall clock whatever the clinic's clock says,
        # so run dates and the retry gate are kept in the scheduler's time (tests pass one).
        self._scheduler_clock = scheduler_clock or clock
        self._rng = rng or random.Random()
        self._base = backoff_base_s
        self._max = backoff_max_s
        self._cycle_lock = threading.Lock()
        # start() and stop() may come from two threads (a lock while the worker starts): the
        # scheduler is "running" before its thread has started, and joining it then fails.
        self._lifecycle = threading.Lock()
        self._listeners: list[Listener] = []
        self._failures = 0
        self._again = False
        self._not_before: datetime | None = None  # backoff: interval ticks wait, "Sync now" not
        self._server_wait_until: datetime | None = None  # Retry-After: every cycle waits
        self._scheduler = BackgroundScheduler(daemon=True, timezone=UTC)
        initial = self._count_fields()
        self._status = SyncStatus(
            SyncState.IDLE,
            server_url=server_url,
            last_success_at=last_success_at,
            pending=initial.get(OutboxStatus.PENDING, 0),
            needs_attention=initial.get("needs_attention", 0),
        )
        self.cycles_run = 0

    # -- SyncControl ---------------------------------------------------------------------

    def status(self) -> SyncStatus:
        return self._status

    def subscribe(self, callback: Listener) -> None:
        self._listeners.append(callback)
        callback(self._status)

    def sync_now(self) -> None:
        """Run a cycle as soon as possible (ignores backoff and the server's Retry-After;
        never two at once)."""
        self._scheduler.add_job(
            self._tick,
            kwargs={"manual": True},
            id="now",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def resolve(
        self, command_id: str, resolution: Resolution, edited_value: str | None = None
    ) -> None:
        if self._resolver is None:
            raise RuntimeError("resolving conflicts is not wired")
        self._resolver(command_id, resolution, edited_value)
        self._publish(**self._count_fields())

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, run_first_now: bool = True) -> None:
        now = self._scheduler_clock()
        first = now if run_first_now else now + timedelta(seconds=self._interval_s)
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=self._interval_s,
            id="cycle",
            max_instances=1,
            coalesce=True,
            next_run_time=first,
            misfire_grace_time=None,
        )
        with self._lifecycle:
            self._scheduler.start()

    def stop(self) -> None:
        with self._lifecycle:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=True)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no cycle runs (for the CLI and tests)."""
        if self._cycle_lock.acquire(timeout=timeout):
            self._cycle_lock.release()
            return True
        return False

    # -- one cycle -----------------------------------------------------------------------

    def _tick(self, manual: bool = False) -> None:
        if not self._cycle_lock.acquire(blocking=False):
            # A cycle is running ("never two at once"); a manual request made meanwhile (e.g.
            # a conflict resolved during the cycle) runs right after it instead of being lost.
            if manual:
                self._again = True
            return
        try:
            now = self._scheduler_clock()
            waiting = self._server_wait_until or self._not_before
            if not manual and waiting and now < waiting:
                return  # the server asked us to wait, or we back off; "Sync now" does not
            try:
                self._cycle()
            except RateLimitedError as exc:
                self._retry_later(exc.retry_after_s, str(exc), waiting_for="rate-limited")
            except SyncBusyError as exc:  # a `fieldchart sync` holds this vault's sync lock
                self._retry_later(None, str(exc), waiting_for="busy")
            except TlsError as exc:
                # Not a passing outage: IT has to trust the certificate (or fix the server).
                self._publish(
                    state=SyncState.ERROR,
                    progress=None,
                    next_attempt_at=None,
                    last_error=_("certificate not trusted: {reason}").format(reason=exc.reason),
                )
            except FhirError as exc:
                if exc.retryable:  # offline, 5xx, a captive portal's answer ...
                    self._retry_later(None, str(exc))
                    return
                self._publish(
                    state=SyncState.ERROR, progress=None, last_error=str(exc), next_attempt_at=None
                )
            except Exception as exc:  # the worker thread must never die silently
                log.error("sync cycle failed unexpectedly: %s", type(exc).__name__)
                self._publish(
                    state=SyncState.ERROR,
                    progress=None,
                    next_attempt_at=None,
                    last_error=f"unexpected error ({type(exc).__name__})",
                )
        finally:
            if self._status.state is SyncState.SYNCING:  # e.g. a failure while reporting one
                self._publish(
                    state=SyncState.ERROR,
                    progress=None,
                    next_attempt_at=None,
                    last_error=self._status.last_error or _("the sync cycle ended unexpectedly"),
                )
            self._cycle_lock.release()
            if self._again:
                self._again = False
                if self._scheduler.running:
                    self.sync_now()

    def _cycle(self) -> Any:
        self._publish(
            state=SyncState.SYNCING,
            progress=SyncProgress("start", 0, 0),
            last_error=None,
            waiting_for="",
        )
        report = self._run_cycle(lambda p: self._publish(progress=p))
        self.cycles_run += 1
        self._failures = 0
        self._not_before = self._server_wait_until = None
        self._publish(
            state=SyncState.IDLE,
            progress=None,
            next_attempt_at=None,
            last_success_at=self._clock().isoformat(timespec="seconds"),
            **self._count_fields(),
        )
        return report

    def _retry_later(
        self, retry_after_s: float | None, message: str, *, waiting_for: str = ""
    ) -> None:
        self._failures += 1
        if retry_after_s is not None:
            retry_after_s = min(max(retry_after_s, 0.0), MAX_RETRY_AFTER_S)
            delay = retry_after_delay(retry_after_s, self._rng)
            # In the clinic's clock, as the sync panel shows times (local time of day).
            until = (self._clock() + timedelta(seconds=retry_after_s)).astimezone()
            message = _("the server asked us to wait until {time}").format(time=clock(until))
        else:
            delay = backoff_delay(self._failures, self._base, self._max, self._rng)
        at = self._scheduler_clock() + timedelta(seconds=delay)
        self._not_before = at
        self._server_wait_until = at if retry_after_s is not None else None
        if self._scheduler.running:
            self._scheduler.add_job(
                self._tick,
                "date",
                run_date=at,
                id="retry",
                replace_existing=True,
                misfire_grace_time=None,
            )
        self._publish(
            state=SyncState.OFFLINE,
            progress=None,
            last_error=message,
            waiting_for=waiting_for,
            next_attempt_at=(self._clock() + timedelta(seconds=delay)).isoformat(
                timespec="seconds"
            ),
            **self._count_fields(),
        )

    def _count_fields(self) -> dict[str, int]:
        try:
            counts = self._counts()
        except VaultLockedError:  # a locked vault must not break status reporting
            return {}
        return {
            "pending": counts.get(OutboxStatus.PENDING, 0),
            "needs_attention": counts.get(OutboxStatus.NEEDS_ATTENTION, 0),
        }

    def _publish(self, **changes: Any) -> None:
        self._status = replace(self._status, **changes)
        for listener in list(self._listeners):
            try:
                listener(self._status)
            except Exception:  # a broken listener must not stop sync
                log.exception("sync status listener failed")


def wall_clock() -> datetime:
    """The machine's wall clock: the time base APScheduler fires jobs by (not a clinical time)."""
    return datetime.now(UTC)
