"""The background worker: interval and on-demand cycles, never two at once, backoff with
jitter on network errors, Retry-After honoured, status DTOs for the UI."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx

from app.services.sync_status import SyncProgress, SyncState, SyncStatus
from sync.fhir.errors import AuthError, OfflineError, RateLimitedError, TlsError
from sync.worker import SyncWorker, backoff_delay

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def worker(run, clock: Clock | None = None, **kw) -> SyncWorker:
    return SyncWorker(
        run,
        server_url="https://fhir.example.org",
        interval_s=300,
        clock=clock or Clock(),
        rng=random.Random(3),
        counts=lambda: {"pending": 4, "needs-attention": 1},
        **kw,
    )


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    for failures in range(1, 12):
        ceiling = min(900.0, 5.0 * 2 ** (failures - 1))
        delays = [backoff_delay(failures, 5.0, 900.0, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1, "jitter spreads devices out"


def test_a_successful_cycle_reports_idle_with_counts_and_last_success() -> None:
    seen: list[SyncStatus] = []

    def run(progress):
        progress(SyncProgress("push", 1, 2))
        return "report"

    w = worker(run)
    w.subscribe(seen.append)
    w._tick(manual=True)
    states = [s.state for s in seen]
    assert states[0] is SyncState.IDLE and SyncState.SYNCING in states
    assert any(s.progress == SyncProgress("push", 1, 2) for s in seen)
    final = w.status()
    assert (final.state, final.pending, final.needs_attention) == (SyncState.IDLE, 4, 1)
    assert final.last_success_at == T0.isoformat(timespec="seconds")


def test_network_errors_back_off_and_say_when_the_next_try_is() -> None:
    clock = Clock()
    w = worker(lambda p: (_ for _ in ()).throw(OfflineError("down")), clock)
    delays = []
    for _ in range(4):
        w._tick()
        status = w.status()
        assert status.state is SyncState.OFFLINE
        assert status.next_attempt_at is not None
        delays.append(datetime.fromisoformat(status.next_attempt_at) - clock.now)
        clock.now = datetime.fromisoformat(status.next_attempt_at) + timedelta(seconds=1)
    assert delays[-1] > delays[0]
    # Before the retry time, interval ticks do nothing (the backoff is respected) ...
    calls = []
    w._run_cycle = lambda p: calls.append(1)
    clock.now = datetime.fromisoformat(w.status().next_attempt_at or "") - timedelta(seconds=1)
    w._tick()
    assert calls == []
    # ... but "Sync now" always runs.
    w._tick(manual=True)
    assert calls == [1] and w.status().state is SyncState.IDLE


def test_retry_after_is_honoured_no_earlier_than_asked_and_said_in_the_status() -> None:
    clock = Clock()
    calls: list[int] = []

    def run(progress):
        calls.append(1)
        if len(calls) == 1:
            raise RateLimitedError("the server is busy", retry_after_s=120)
        return "report"

    w = worker(run, clock)
    w._tick()
    status = w.status()
    at = datetime.fromisoformat(status.next_attempt_at or "")
    # No earlier than asked; a little jitter (at most 10%) spreads a clinic's devices.
    assert T0 + timedelta(seconds=120) <= at <= T0 + timedelta(seconds=132)
    until = (T0 + timedelta(seconds=120)).astimezone()
    assert status.state is SyncState.OFFLINE
    assert status.last_error == f"the server asked us to wait until {until:%H:%M}"
    assert status.waiting_for == "rate-limited"  # the panel says "Waiting", not "Offline"
    # The interval does not run a cycle before then ("Sync now" would: see below) ...
    clock.now = at - timedelta(seconds=1)
    w._tick()
    assert calls == [1]
    # ... and the retry job at that time does.
    clock.now = at
    w._tick()
    assert calls == [1, 1] and w.status().state is SyncState.IDLE
    assert w.status().last_error is None


def test_retry_after_waits_pass_sync_now_only_for_network_backoff() -> None:
    # After the server's wait is over, backoff from a later network error is skipped by
    # "Sync now" as before.
    clock = Clock()
    errors = [RateLimitedError("busy", retry_after_s=60), OfflineError("down")]
    calls: list[int] = []

    def run(progress):
        calls.append(1)
        if errors:
            raise errors.pop(0)

    w = worker(run, clock)
    w._tick()
    clock.now = datetime.fromisoformat(w.status().next_attempt_at or "")
    w._tick()  # the retry: now offline, backing off
    assert w.status().last_error == "down"
    assert w.status().waiting_for == ""  # a network error is "Offline" again
    w._tick(manual=True)
    assert len(calls) == 3 and w.status().state is SyncState.IDLE


def test_the_worker_schedules_its_retry_job_at_the_servers_time() -> None:
    clock = Clock()
    w = worker(lambda p: (_ for _ in ()).throw(RateLimitedError("busy", retry_after_s=600)), clock)
    # APScheduler fires by the machine's clock, which is past this test's: a running
    # scheduler would fire the jobs at once, racing the assertions (and itself). Paused, it
    # keeps them as scheduled, which is what is checked here.
    start = w._scheduler.start
    w._scheduler.start = lambda *a, **kw: start(*a, paused=True, **kw)
    w.start(run_first_now=False)
    try:
        w._tick()
        job = w._scheduler.get_job("retry")
        assert job is not None
        assert job.next_run_time >= T0 + timedelta(seconds=600)
        assert job.next_run_time <= T0 + timedelta(seconds=630)
    finally:
        w.stop()


def test_auth_and_certificate_errors_need_a_person() -> None:
    w = worker(lambda p: (_ for _ in ()).throw(AuthError("401 Unauthorized")))
    w._tick()
    assert (w.status().state, w.status().next_attempt_at) == (SyncState.ERROR, None)
    request = httpx.Request("GET", "https://fhir.example.org/metadata")
    w = worker(
        lambda p: (_ for _ in ()).throw(
            TlsError("tls", reason="self-signed certificate", request=request)
        )
    )
    w._tick()
    assert w.status().state is SyncState.ERROR
    assert "certificate not trusted" in (w.status().last_error or "")


def test_an_unexpected_error_is_reported_without_its_message() -> None:
    w = worker(lambda p: (_ for _ in ()).throw(KeyError("Ødegård")))
    w._tick()
    assert w.status().state is SyncState.ERROR
    assert w.status().last_error == "unexpected error (KeyError)"


def test_never_two_cycles_at_once_and_sync_now_runs_on_the_scheduler() -> None:
    running = threading.Event()
    release = threading.Event()
    active: list[int] = []
    overlaps = []

    def run(progress):
        if active:
            overlaps.append(1)
        active.append(1)
        running.set()
        release.wait(5)
        active.pop()

    w = SyncWorker(run, server_url="x", interval_s=3600, clock=Clock())
    w.start(run_first_now=False)
    try:
        w.sync_now()
        assert running.wait(5), "sync_now starts a cycle on the worker thread"
        w._tick(manual=True)  # a second request while one runs is skipped, not queued twice
        w.sync_now()
        release.set()
        deadline = time.monotonic() + 5
        # The request made during the cycle is not lost: it runs right after.
        while w.cycles_run < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert w.wait_idle(5)
    finally:
        release.set()
        w.stop()
    assert overlaps == []
    assert w.cycles_run >= 2
