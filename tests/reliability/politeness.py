"""Experiment 6: a server that rations requests. Two devices record patients and vitals and
sync through their sync workers, in front of the real FHIR peer, behind a rate limiter like
Medplum's: a shared quota of requests per minute; past it, 429 with the time the quota resets
(as ``Retry-After`` seconds, as an HTTP-date with the server's ``Date``, or only as Medplum's
``RateLimit: "…";r=0;t=N`` header). Now and then a write is answered 409 "could not serialize
access" or 503 with a short Retry-After instead of reaching the server.

Time is simulated: one clock serves as the devices' clinic clock, the workers' scheduler clock,
the client's sleep (a wait moves it on) and the limiter's clock, so a minute of quota passes in
no time and nothing sleeps. The workers run as in the app, except that their scheduler is
driven by hand: every simulated ``TICK`` each worker gets an interval tick, which it skips
while a Retry-After or a backoff holds.

Required: nothing lost (every command synced, both devices show every chart the same), no
request sent before the time the server gave that device (not hammered), nothing needing
attention (the devices never edit the same thing), and every sync ending quiet.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx

from app.domain import commands as c
from app.services.clinic import Clinic, open_clinic
from app.services.sync_status import OutboxStatus, SyncState, SyncStatus
from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from sync.worker import SyncWorker
from tests.peer.harness import PeerServer
from tests.reliability.common import REGISTRY, scanned_patient
from tests.sync.devices import DOC, PASSPHRASE, STAFF, clinical_view, server_time

TICK = timedelta(seconds=30)  # how often each worker's interval job fires (simulated)
MAX_TICKS = 2000
QUOTA_WINDOW_S = 60
#: Requests a minute for both devices together: about what one cycle of one device takes (a
#: Bundle or two of commands and one batch of searches), so nearly every cycle meets the limit.
QUOTA_PER_MINUTE = 3
#: Medplum's 409 when PostgreSQL could not serialize a write (SQLSTATE 40001).
SERIALIZATION_FAILURE = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "conflict",
            "details": {
                "coding": [{"code": "40001"}],
                "text": "could not serialize access due to concurrent update",
            },
        }
    ],
}


class SimClock:
    """Simulated time: moved by hand and by the clients' waits; each reading a microsecond
    later than the last, as a real clock ticks."""

    def __init__(self, start: datetime) -> None:
        self.base = start
        self._ticks = itertools.count()
        self.waits: list[float] = []  # what the FHIR clients waited

    def __call__(self) -> datetime:
        return self.base + timedelta(microseconds=next(self._ticks))

    def advance(self, seconds: float) -> None:
        self.base += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """The clients' sleep: time passes, nobody waits."""
        self.waits.append(seconds)
        self.advance(seconds)


@dataclass
class LimiterFigures:
    requests: int = 0
    forwarded: int = 0
    answered: Counter[str] = field(default_factory=Counter)  # 429-seconds, 409, 503, ...
    early: int = 0  # requests that came before the time the server gave that device


class RateLimiter:
    """A project quota shared by every device: ``quota`` requests per fixed minute window of
    the simulated clock. Every device's transport goes through it to the real peer."""

    def __init__(self, clock: SimClock, quota: int, rng: random.Random) -> None:
        self.clock = clock
        self.quota = quota
        self.rng = rng
        self.used: Counter[int] = Counter()
        self.not_before: dict[str, datetime] = {}  # per device: the time we told it
        self.figures = LimiterFigures()
        self.early_requests: list[str] = []  # what came early, for the problems list
        self._upstream = httpx.HTTPTransport()

    def transport(self, device: str) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: self.handle(device, request))

    def close(self) -> None:
        self._upstream.close()

    def handle(self, device: str, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        self.figures.requests += 1
        told = self.not_before.get(device)
        if told is not None and now < told:
            self.figures.early += 1
            self.early_requests.append(
                f"{device}: {request.method} {request.url.path} {(told - now).total_seconds():.1f}"
                " s before the time the server gave"
            )
        window = int(now.timestamp() // QUOTA_WINDOW_S)
        if self.used[window] >= self.quota:
            reset = (window + 1) * QUOTA_WINDOW_S - now.timestamp()
            return self._limited(device, now, math.ceil(reset))
        self.used[window] += 1
        writes = request.method in ("PUT", "POST", "DELETE")
        draw = self.rng.random()
        if writes and draw < 0.08:
            self.figures.answered["409"] += 1
            return _json(409, SERIALIZATION_FAILURE)
        if draw > 0.97:
            self.not_before[device] = now + timedelta(seconds=3)
            self.figures.answered["503"] += 1
            return _json(503, None, {"Retry-After": "3"})
        self.figures.forwarded += 1
        response = self._upstream.handle_request(request)
        response.read()
        return response

    def _limited(self, device: str, now: datetime, wait_s: int) -> httpx.Response:
        self.not_before[device] = now + timedelta(seconds=wait_s)
        form = self.rng.choice(("seconds", "http-date", "ratelimit"))
        self.figures.answered[f"429 {form}"] += 1
        headers = {"RateLimit": f'"requests";r=0;t={wait_s}'}
        if form == "seconds":
            headers["Retry-After"] = str(wait_s)
        elif form == "http-date":
            # In the server's clock, with its Date: whole seconds, rounded up.
            date = now.replace(microsecond=0)
            headers["Date"] = format_datetime(date, usegmt=True)
            later = date + timedelta(seconds=wait_s + (1 if now.microsecond else 0))
            headers["Retry-After"] = format_datetime(later, usegmt=True)
            self.not_before[device] = later
        issue = {"severity": "error", "code": "throttled", "diagnostics": "Too many requests"}
        return _json(429, {"resourceType": "OperationOutcome", "issue": [issue]}, headers)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/fhir+json", **(headers or {})}
    return httpx.Response(status, content=content, headers=all_headers)


@dataclass
class SimDevice:
    name: str
    clinic: Clinic
    client: FhirClient
    worker: SyncWorker
    patients: list[str] = field(default_factory=list)


def _device(
    tmp: Path, name: str, peer: PeerServer, clock: SimClock, limiter: RateLimiter, seed: int
) -> SimDevice:
    data_dir = REGISTRY.add_dir(tmp / name)
    vault, _ = Vault.create(data_dir, "admin", PASSPHRASE, kdf=FAST_FOR_TESTS)
    clinic = open_clinic(vault, clock=clock)
    client = FhirClient(
        peer.base_url, transport=limiter.transport(name), sleep=clock.sleep, rng=random.Random(seed)
    )
    engine = engine_for(clinic, client)
    # Up to date with what the shared peer held before (earlier tests' patients).
    mark = (server_time(peer.base_url) - timedelta(seconds=5)).isoformat(timespec="milliseconds")
    for resource_type in engine._mapper.pull_types():
        clinic.sync_gateway.set_watermark(resource_type, mark)
    worker = SyncWorker(
        engine.run_cycle,
        server_url=peer.base_url,
        interval_s=TICK.total_seconds(),
        counts=clinic.sync_gateway.counts,
        clock=clock,
        scheduler_clock=clock,
        rng=random.Random(seed + 1),
    )
    return SimDevice(name, clinic, client, worker)


@dataclass
class PolitenessResult:
    seed: int
    commands: int = 0
    cycles: int = 0
    cycles_told_to_wait: int = 0  # ended by a long Retry-After; the status named the time
    cycles_backed_off: int = 0  # ended otherwise for a retryable error (bounded retries)
    cycles_failed: int = 0  # ended in ERROR: must not happen
    waits_in_client: int = 0
    seconds_waited_in_client: float = 0.0
    simulated_minutes: float = 0.0
    requests: int = 0
    forwarded: int = 0
    answered: dict[str, int] = field(default_factory=dict)
    requests_too_early: int = 0
    pending_at_end: int = 0
    needs_attention: int = 0
    charts_differing: int = 0
    missing_on_server: int = 0
    quiet: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return (
            self.quiet
            and self.requests_too_early == 0
            and self.pending_at_end == 0
            and self.needs_attention == 0
            and self.charts_differing == 0
            and self.missing_on_server == 0
            and self.cycles_failed == 0
        )


def run(
    seed: int, commands: int, peer: PeerServer, tmp: Path, quota: int = QUOTA_PER_MINUTE
) -> PolitenessResult:
    """Two devices, ``commands`` commands each, against a quota of ``quota`` requests a minute."""
    started = time.monotonic()
    rng = random.Random(seed)
    clock = SimClock(server_time(peer.base_url) - timedelta(hours=1))
    begin = clock.base
    limiter = RateLimiter(clock, quota, random.Random(seed + 7))
    result = PolitenessResult(seed)
    devices = [
        _device(tmp / f"seed{seed}", name, peer, clock, limiter, seed * 10 + n)
        for n, name in enumerate(("a", "b"))
    ]
    statuses: list[tuple[str, SyncStatus]] = []

    def listener(name: str) -> Callable[[SyncStatus], None]:
        return lambda status: statuses.append((name, status))

    for device in devices:
        device.worker.subscribe(listener(device.name))
    try:
        todo = {d.name: commands for d in devices}
        for _ in range(MAX_TICKS):
            for device in devices:
                if todo[device.name] and rng.random() < 0.6:
                    _record(device, rng)
                    todo[device.name] -= 1
                    result.commands += 1
                mark = len(statuses)
                device.worker._tick()
                _count_cycle(device, statuses[mark:], result)
            clock.advance(TICK.total_seconds())
            if not any(todo.values()) and _quiet(devices):
                result.quiet = True
                break
        # One more cycle each, so each has pulled what the other pushed last.
        for device in devices * 2:
            _run_until_done(device, clock, statuses, result)
        _check(devices, peer, result)
    finally:
        for device in devices:
            device.worker.stop()
            device.client.close()
            device.clinic.close()
        limiter.close()
    f = limiter.figures
    result.requests, result.forwarded, result.requests_too_early = f.requests, f.forwarded, f.early
    result.answered = dict(sorted(f.answered.items()))
    result.problems += limiter.early_requests[:5]
    result.simulated_minutes = round((clock.base - begin).total_seconds() / 60, 1)
    result.waits_in_client = len(clock.waits)
    result.seconds_waited_in_client = round(sum(clock.waits), 1)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _record(device: SimDevice, rng: random.Random) -> None:
    if not device.patients or rng.random() < 0.3:
        changes = device.clinic.commands.execute(
            scanned_patient(
                rng, "1980-05-05", rng.choice(("female", "male")), "+255 700 000", "Plot {}"
            ),
            STAFF,
        )
        assert changes.patient_id is not None
        device.patients.append(changes.patient_id)
    else:
        device.clinic.commands.execute(
            c.RecordVitals(
                patient_id=rng.choice(device.patients), heart_rate=float(rng.randint(50, 120))
            ),
            DOC,
        )


def _count_cycle(
    device: SimDevice, published: list[tuple[str, SyncStatus]], result: PolitenessResult
) -> None:
    """Count the cycle this tick ran, if it ran one, by how it ended."""
    if not any(status.state is SyncState.SYNCING for _, status in published):
        return  # skipped: a Retry-After or a backoff still held
    result.cycles += 1
    status = device.worker.status()
    if status.state is SyncState.IDLE:
        return
    if status.state is SyncState.OFFLINE and status.next_attempt_at:
        if (status.last_error or "").startswith("the server asked us to wait until"):
            result.cycles_told_to_wait += 1
        else:
            result.cycles_backed_off += 1
        return
    result.cycles_failed += 1
    result.problems.append(f"{device.name}: {status.state}: {status.last_error}")


def _quiet(devices: list[SimDevice]) -> bool:
    return all(d.clinic.sync_gateway.counts().get(OutboxStatus.PENDING, 0) == 0 for d in devices)


def _run_until_done(
    device: SimDevice,
    clock: SimClock,
    statuses: list[tuple[str, SyncStatus]],
    result: PolitenessResult,
) -> None:
    target = device.worker.cycles_run + 1
    for _ in range(MAX_TICKS):
        mark = len(statuses)
        device.worker._tick()
        _count_cycle(device, statuses[mark:], result)
        if device.worker.cycles_run >= target:
            return
        clock.advance(TICK.total_seconds())
    result.problems.append(f"{device.name}: never completed a final cycle")


def _check(devices: list[SimDevice], peer: PeerServer, result: PolitenessResult) -> None:
    for device in devices:
        counts = device.clinic.sync_gateway.counts()
        result.pending_at_end += counts.get(OutboxStatus.PENDING, 0)
        result.needs_attention += counts.get(OutboxStatus.NEEDS_ATTENTION, 0)
    a, b = devices
    with FhirClient(peer.base_url) as direct:
        for pid in a.patients + b.patients:
            views = [
                clinical_view(d.clinic.queries.chart(pid, DOC, record_view=False)) for d in devices
            ]
            if views[0] != views[1]:
                result.charts_differing += 1
                result.problems.append(f"chart of {pid} differs between the devices")
            if direct.read("Patient", pid) is None:
                result.missing_on_server += 1


def summarise(results: list[PolitenessResult]) -> dict[str, Any]:
    answered: Counter[str] = Counter()
    for r in results:
        answered.update(r.answered)
    return {
        "seeds": len(results),
        "seeds_ok": sum(r.ok() for r in results),
        "commands": sum(r.commands for r in results),
        "cycles": sum(r.cycles for r in results),
        "cycles_told_to_wait": sum(r.cycles_told_to_wait for r in results),
        "cycles_backed_off": sum(r.cycles_backed_off for r in results),
        "cycles_failed": sum(r.cycles_failed for r in results),
        "waits_in_client": sum(r.waits_in_client for r in results),
        "seconds_waited_in_client": round(sum(r.seconds_waited_in_client for r in results), 1),
        "requests": sum(r.requests for r in results),
        "forwarded": sum(r.forwarded for r in results),
        "answered": dict(sorted(answered.items())),
        "requests_too_early": sum(r.requests_too_early for r in results),
        "pending_at_end": sum(r.pending_at_end for r in results),
        "needs_attention": sum(r.needs_attention for r in results),
        "charts_differing": sum(r.charts_differing for r in results),
        "missing_on_server": sum(r.missing_on_server for r in results),
        "seeds_quiet": sum(r.quiet for r in results),
        "simulated_minutes": round(sum(r.simulated_minutes for r in results), 1),
        "problems": [p for r in results for p in r.problems][:20],
    }
