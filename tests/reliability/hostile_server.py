"""Experiment 15.4–15.7: a hostile server (``hostile_http.HostileServer``, on 127.0.0.1).

What a device does against an endless body, a huge body, a gzip bomb, a body or headers
dripped a byte at a time, pages slow enough to outlast a sync cycle, a Retry-After of
``999999999``, of 400 digits or an HTTP-date in 2059 — and against an http:// URL to another
machine. For each case:

- **memory**: the FHIR client runs in a child process, each case with its peak RSS reset
  (``/proc/self/clear_refs``); the figure is the growth of ``VmHWM`` over the request;
- **time**: seconds until the request (or the cycle) failed, against its deadline;
- **state**: a ``SyncWorker`` runs the case as a cycle; its state afterwards must not be
  "syncing" and, for Retry-After, its next attempt must be within the cap (an hour);
- **recovery**: the server turns healthy and "Sync now" (a manual tick, even inside the
  server's wait) and a fresh client (what CLI ``sync`` makes) must both succeed;
- **clear text**: requests to ``http://fhir.clinic.example`` (auth none, a bearer token, an
  OAuth token URL) are routed to a capturing proxy on 127.0.0.1, which must receive 0 bytes —
  while a plain httpx client through the same proxy does reach it (the control). Settings with
  such URLs must be refused.

``run(size)`` returns the figures; ``rows(figures)`` the table rows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.domain.errors import ValidationError
from app.services.settings import DeviceSettings, validate
from app.services.sync_status import SyncProgress, SyncState
from sync.fhir.auth import BearerAuth, ClientCredentialsAuth
from sync.fhir.bounded_body import MIB, ResponseLimits
from sync.fhir.client import FhirClient
from sync.fhir.deadline import Deadlines
from sync.fhir.errors import FhirError
from sync.fhir.politeness import Politeness
from sync.worker import SyncWorker
from tests.reliability import report
from tests.reliability.common import REPO
from tests.reliability.hostile_http import CaptureProxy, HostileServer, gzip_bomb

SECTION = "15.4–7 Hostile server"
BODY_CASES = ("endless", "huge", "gzip-bomb", "drip-body", "slow-headers")
RETRY_CASES = {"retry-after-999999999": "999999999", "retry-after-400-digits": "9" * 400}
RETRY_CASES["retry-after-date-2059"] = "Thu, 01 Jan 2059 00:00:00 GMT"
CAP_S = 3600.0
NOT_LOOPBACK = "http://fhir.clinic.example/R4"


@dataclass(frozen=True)
class HostileSize:
    name: str
    entry_bytes: int  # the client's allowance per search entry (a page of 500 asked)
    resource_bytes: int  # ... and for one resource
    huge_bytes: int
    bomb_bytes: int  # what the gzip bomb inflates to
    drip_s: float
    request_deadline_s: float
    cycle_deadline_s: float
    rss_bound_mb: float  # peak RSS growth allowed per case
    margin_s: float  # how late a failure may come after its deadline


SMALL = HostileSize("small", 1024, MIB, 256 * MIB, 64 * MIB, 0.1, 0.5, 0.8, 64, 1.0)
FULL = HostileSize(
    "full", 256 * 1024, 16 * MIB, 2 * 1024 * MIB, 2 * 1024 * MIB, 5.0, 120.0, 150.0, 400, 5.0
)


def _client(base: str, size: HostileSize, **kw: Any) -> FhirClient:
    limits = ResponseLimits(
        resource_bytes=size.resource_bytes, entry_bytes=size.entry_bytes, bundle_bytes=64 * 1024
    )
    deadlines = Deadlines(size.request_deadline_s, size.cycle_deadline_s)
    return FhirClient(base, deadlines=deadlines, limits=limits, **kw)


def _ask(client: FhirClient, case: str) -> None:
    """The request each case answers: what sync sends that could meet it."""
    if case in ("endless", "huge", "slow-pages"):
        client.search_page("Patient", {"_count": "500"})
    else:
        client.read("Patient", "p1")


# -- memory, in a child process ----------------------------------------------------------------


def _hwm_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        found = re.search(r"VmHWM:\s+(\d+)", status.read())
    return int(found.group(1)) if found else 0


def child_main() -> None:
    """In the child: each body case once, its peak RSS growth and time, as JSON on stdout."""
    base, size = sys.argv[1], HostileSize(**json.loads(sys.argv[2]))
    out: dict[str, Any] = {}
    with _client(base, size) as client:
        client.read("Patient", "p1")  # warm up: imports and connection machinery
        for case in BODY_CASES:
            _control(base, case)
            with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")  # reset the peak RSS to the current RSS
            before, started = _hwm_kb(), time.monotonic()
            try:
                _ask(client, case)
                outcome = "answered"
            except FhirError as exc:
                outcome = type(exc).__name__
            seconds = time.monotonic() - started
            out[case] = {"rss_mb": (_hwm_kb() - before) / 1024, "s": seconds, "error": outcome}
            _control(base, "healthy")
    print(json.dumps(out))


def _control(base: str, mode: str) -> None:
    # urllib, not httpx: no TLS context to build for each switch
    with urllib.request.urlopen(base.replace("/fhir", f"/control?mode={mode}"), timeout=5):
        pass


def _memory(server: HostileServer, size: HostileSize) -> dict[str, Any]:
    args = [
        sys.executable,
        "-c",
        "from tests.reliability.hostile_server import child_main as m; m()",
    ]
    done = subprocess.run(
        [*args, server.base_url, json.dumps(asdict(size))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- state and recovery, through a sync worker -------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _worker_case(server: HostileServer, size: HostileSize, case: str) -> dict[str, Any]:
    clock = _Clock()
    pages = [0]
    with _client(server.base_url, size, clock=clock, politeness=Politeness()) as client:

        def cycle(progress: Any) -> int:
            client.begin_cycle()
            progress(SyncProgress("pull", 0, 0))
            if case == "slow-pages":  # page after page until the cycle's deadline
                for _ in client.iter_pages("Patient", {"_count": "500"}):
                    pages[0] += 1
            else:
                _ask(client, case)
            return pages[0]

        worker = SyncWorker(cycle, server_url=server.base_url, interval_s=300, clock=clock)
        server.mode = "retry-after" if case in RETRY_CASES else case
        server.retry_after = RETRY_CASES.get(case, "")
        started = time.monotonic()
        worker._tick()  # an interval cycle meets the hostile server
        seconds = time.monotonic() - started
        status = worker.status()
        next_at = status.next_attempt_at
        wait_s = (datetime.fromisoformat(next_at) - clock.now).total_seconds() if next_at else 0
        server.mode = "healthy"
        clock.now += timedelta(seconds=1)
        worker._tick(manual=True)  # "Sync now", inside any wait the server asked for
        recovered = worker.status().state is SyncState.IDLE
    with _client(server.base_url, size) as fresh:  # what CLI `sync` builds
        fresh.begin_cycle()
        _ask(fresh, "healthy")
    return {
        "s": seconds,
        "state": str(status.state),
        "error": status.last_error or "",
        "next_attempt_in_s": wait_s,
        "pages_kept": pages[0],
        "sync_now_recovered": recovered,
        "fresh_client_recovered": True,
    }


# -- clear text ----------------------------------------------------------------------------------


def _clear_text() -> dict[str, Any]:
    refused = attempts = 0
    with CaptureProxy() as proxy:
        token_url = "http://auth.clinic.example/token"
        clients = [
            (NOT_LOOPBACK, None),
            (NOT_LOOPBACK, BearerAuth("t0ken", allow_insecure_http=True)),  # an old enrolment
            ("https://fhir.clinic.example/R4", _token_auth(token_url)),
        ]
        for url, auth in clients:
            transport = httpx.HTTPTransport(proxy=proxy.url)
            with FhirClient(url, auth, transport=transport) as client:
                attempts += 1
                try:
                    client.search_page("Patient", {"name": "Ødegård"})
                except FhirError as exc:
                    refused += "fhir.clinic.example" in str(exc) or "auth.clinic" in str(exc)
        leaked = proxy.bytes_received
        with httpx.Client(transport=httpx.HTTPTransport(proxy=proxy.url)) as plain:
            plain.get(f"{NOT_LOOPBACK}/Patient?name=control")  # the control: it does arrive
        control = proxy.bytes_received - leaked
    settings_refused = 0
    enrolled = DeviceSettings(
        server_url="https://fhir.clinic.example/R4",
        auth_mode="client-secret-basic",
        token_url="https://auth.clinic.example/token",
        client_id="device",
        client_secret="s3cret",
    )
    for candidate in (
        replace(enrolled, server_url=NOT_LOOPBACK),
        replace(enrolled, token_url=token_url),
    ):
        try:
            validate(candidate)
        except ValidationError as exc:
            settings_refused += "fhir.clinic.example" in str(exc) or "auth.clinic" in str(exc)
    return {
        "requests": attempts,
        "requests_refused": refused,
        "bytes_sent_in_clear": leaked,
        "control_bytes": control,
        "settings_refused": settings_refused,
    }


def _token_auth(token_url: str) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(token_url, "device", "s3cret", allow_insecure_http=True)


# -- the experiment --------------------------------------------------------------------------


def run(size: HostileSize = SMALL) -> dict[str, Any]:
    """Every case at ``size``; the figures (see the module docstring)."""
    figures: dict[str, Any] = {"size": size.name, "bound": asdict(size), "cases": {}}
    bomb = gzip_bomb(size.bomb_bytes)
    with HostileServer(drip_s=size.drip_s, huge_bytes=size.huge_bytes, bomb=bomb) as server:
        for case in (*BODY_CASES, "slow-pages", *RETRY_CASES):
            started = time.monotonic()
            figures["cases"][case] = _worker_case(server, size, case)
            figures["cases"][case]["case_s"] = time.monotonic() - started
        started = time.monotonic()
        for case, measured in _memory(server, size).items():
            figures["cases"][case]["memory"] = measured
        figures["memory_s"] = time.monotonic() - started
    figures["clear_text"] = _clear_text()
    return figures


def rows(figures: dict[str, Any]) -> list[report.Row]:
    """The figures table's rows."""
    bound = figures["bound"]
    out: list[report.Row] = []
    for case, f in figures["cases"].items():
        s = f"{SECTION}: {case}"
        if "memory" in f:
            rss = round(f["memory"]["rss_mb"], 1)
            limit = bound["rss_bound_mb"]
            out.append(report.Row(s, "peak RSS growth (MB)", str(rss), f"<= {limit}", rss <= limit))
        if case in RETRY_CASES:
            wait = round(f["next_attempt_in_s"])
            out.append(
                report.Row(
                    s, "next attempt in (s)", str(wait), f"<= {CAP_S:.0f} + 30", wait <= CAP_S + 30
                )
            )
        else:
            deadline = bound["cycle_deadline_s" if case == "slow-pages" else "request_deadline_s"]
            late = deadline + bound["margin_s"]
            secs = round(f["s"], 2)
            out.append(
                report.Row(s, "seconds until it failed", str(secs), f"<= {late:g}", secs <= late)
            )
        out.append(report.yes(s, "state after it is not 'syncing'", f["state"] != "syncing"))
        out.append(report.yes(s, "'Sync now' after recovery succeeds", f["sync_now_recovered"]))
        out.append(report.yes(s, "a fresh client (CLI sync) succeeds", f["fresh_client_recovered"]))
    clear = figures["clear_text"]
    s = f"{SECTION}: http:// to another machine"
    out += [
        report.zero(s, "bytes sent in clear text", clear["bytes_sent_in_clear"]),
        report.yes(
            s,
            "every request refused, naming the host",
            clear["requests_refused"] == clear["requests"],
        ),
        report.yes(s, "settings with such URLs refused", clear["settings_refused"] == 2),
        report.info(s, "control: bytes a plain client sends there", clear["control_bytes"]),
    ]
    return out
