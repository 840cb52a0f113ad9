"""Experiment 15.8: wrong device clocks (docs/clocks.md).

A device's clock is injected and set wrong; the FHIR server (the peer, or the real Medplum)
keeps its own. Four cases:

- **ahead, then fixed**: the device clock runs 10 years ahead while one resource comes back
  stamped 5 years in the future (the transport rewrites its ``meta.lastUpdated``: neither
  server lets a client choose it); the clock is then fixed and another system writes more
  patients. Asked three ways: a server that takes batches, one that refuses them, and a device
  whose stored watermark was already frozen in the future by an earlier version. Every patient
  written after the fix must arrive.
- **behind**: the device clock runs two days slow. The server's clock is moved on two minutes
  (its ``Date`` header, as if the cycles ran minutes after the facility was written; nothing
  is written later, so nothing can be missed by it): after the first sync, idle cycles must
  receive nothing.
- **stepped back between commands** (no server): the clock steps back an hour mid-day, then
  again; "as of" lookups for every patient every ten minutes must not fail for a patient
  who has a record at or before that time, the timeline must keep log order where the
  clinical time is only the clock's reading, and the steps must be found.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from app.domain import commands as c
from app.domain.errors import NotFoundError
from app.domain.events import stream_of
from app.services.clinic import Clinic, open_clinic
from app.store import recorded_order
from app.store.crypto import FAST_FOR_TESTS
from app.store.database import read_transaction
from app.store.vault import Vault
from sync.engine import SyncEngine
from sync.fhir.client import FhirClient
from sync.fhir_mapper import FhirResourceMapper
from sync.scope import SyncScope
from tests.clinic_fixtures import CATALOG, DESK, DOC, create_vault, registration
from tests.reliability import report
from tests.sync.devices import PASSPHRASE, server_time
from tests.sync.pull_fixtures import Facility, add_facility, add_patient

SECTION = "15.8 Wrong clocks"
log = logging.getLogger(__name__)


class DeviceClock:
    """The device's clock: ``start`` plus whatever it is set wrong by, a millisecond later at
    each reading (as a real clock ticks)."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.wrong_by = timedelta(0)
        self._ticks = itertools.count()

    def __call__(self) -> datetime:
        return self.start + self.wrong_by + timedelta(milliseconds=next(self._ticks))


class ServerSide(httpx.BaseTransport):
    """Forwards to the server; can refuse batches, stamp chosen resources in the future and
    move the server's clock on (its Date header). Counts requests and resources received."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.refuse_batches = False
        self.future: dict[str, str] = {}  # resource id -> the lastUpdated it comes back with
        self.server_ahead = timedelta(0)
        self.requests = 0
        self.resources = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.refuse_batches and request.method == "POST" and request.url.path in ("", "/"):
            return httpx.Response(400, json={"resourceType": "OperationOutcome"})
        response = self._inner.handle_request(request)
        response.read()
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        }
        if self.server_ahead and "date" in response.headers:
            moved = parsedate_to_datetime(response.headers["date"]) + self.server_ahead
            headers = {k: v for k, v in headers.items() if k.lower() != "date"}
            headers["Date"] = format_datetime(moved, usegmt=True)
        content = response.content
        if "json" in response.headers.get("content-type", ""):
            body = json.loads(content)
            self._walk(body)
            content = json.dumps(body).encode()
        return httpx.Response(response.status_code, headers=headers, content=content)

    def _walk(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        if body.get("resourceType") != "Bundle":
            if body.get("id") in self.future:
                body.setdefault("meta", {})["lastUpdated"] = self.future[body["id"]]
            return
        for entry in body.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict):
                if body.get("type") == "searchset" and resource.get("resourceType") != "Bundle":
                    self.resources += 1
                self._walk(resource)

    def close(self) -> None:
        self._inner.close()


@dataclass
class Device:
    clinic: Clinic
    client: FhirClient
    transport: ServerSide
    clock: DeviceClock
    engine: SyncEngine

    def patients(self) -> int:
        return self.clinic.queries.patient_count()

    def watermarks_ahead(self, server_now: datetime) -> int:
        """Stored pull positions later than the server's time."""
        with read_transaction(self.clinic.vault.engine) as conn:
            marks = conn.exec_driver_sql("SELECT watermark FROM pull_marks").scalars().all()
        return sum(1 for m in marks if m and datetime.fromisoformat(m) > server_now)


@contextmanager
def device(
    work: Path, name: str, base_url: str, auth: httpx.Auth | None, facility: Facility
) -> Iterator[Device]:
    vault, _ = Vault.create(work / name, "admin", PASSPHRASE, kdf=FAST_FOR_TESTS)
    clock = DeviceClock(server_time(base_url))
    clinic = open_clinic(vault, clock=clock)
    transport = ServerSide()
    client = FhirClient(base_url, auth, transport=transport)
    scope = SyncScope(organization=facility.organization)
    mapper = FhirResourceMapper(clinic.catalog)
    engine = SyncEngine(clinic.sync_gateway, client, mapper, clock, scope=scope)
    try:
        yield Device(clinic, client, transport, clock, engine)
    finally:
        client.close()
        clinic.close()


def ahead_then_fixed(
    base_url: str, auth: httpx.Auth | None, work: Path, patients: int, how: str, tag: str
) -> int:
    """Patients written after the clock was fixed that the device did not get."""
    with FhirClient(base_url, auth) as writer:
        facility = add_facility(writer, patients, f"{tag}{how[:3]}")
    with device(work, f"ahead-{how}", base_url, auth, facility) as d:
        d.clock.wrong_by = timedelta(days=3652)
        d.transport.refuse_batches = how == "no-batch"
        d.transport.future[facility.patients[0]] = (
            server_time(base_url) + timedelta(days=5 * 365)
        ).isoformat(timespec="milliseconds")
        d.engine.run_cycle()
        if how == "frozen":  # what an earlier version left: every position in 2031
            frozen = (server_time(base_url) + timedelta(days=5 * 365)).isoformat()
            with d.clinic.vault.engine.begin() as conn:
                conn.exec_driver_sql("UPDATE pull_marks SET watermark = ?", (frozen,))
        d.clock.wrong_by = timedelta(0)
        with FhirClient(base_url, auth) as writer:
            for n in range(patients):
                add_patient(writer, facility, f"{tag}late{n}")
        d.engine.run_cycle()
        d.engine.run_cycle()
        missing = len(facility.patients) - d.patients()
        ahead = d.watermarks_ahead(server_time(base_url) + timedelta(seconds=5))
        return missing + ahead


def behind(
    base_url: str, auth: httpx.Auth | None, work: Path, patients: int, idle: int, tag: str
) -> dict[str, int]:
    with FhirClient(base_url, auth) as writer:
        facility = add_facility(writer, patients, f"{tag}slow")
    with device(work, "behind", base_url, auth, facility) as d:
        d.clock.wrong_by = -timedelta(days=2)
        # Every cycle runs minutes after the facility was written (see the module docstring).
        d.transport.server_ahead = timedelta(minutes=2)
        d.engine.run_cycle()
        first = d.patients()
        d.transport.resources = d.transport.requests = 0
        full = 0
        for _ in range(idle):
            before = d.transport.resources
            d.engine.run_cycle()
            full += d.transport.resources - before >= patients
        return {
            "slow_first_sync_patients_missing": patients - first,
            "slow_idle_resources": d.transport.resources,
            "slow_idle_full_downloads": full,
            "slow_idle_requests": d.transport.requests,
        }


@dataclass
class StepBackFigures:
    lookups: int
    failing: int
    timeline_violations: int
    steps_found: int


def stepped_back(work: Path, patients: int) -> StepBackFigures:
    """A clinic day whose clock steps back an hour twice; "as of" every ten minutes."""
    start = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    clock = DeviceClock(start)
    clinic = open_clinic(create_vault(work / "stepped"), clock=clock, catalog=CATALOG)
    try:
        ids: list[str] = []
        for n in range(patients):
            # Minutes apart; the clock steps back an hour after a third, and again after
            # two thirds of the patients (an NTP fix, then someone setting it by hand).
            clock.start = start + timedelta(minutes=7 * n)
            if n == patients // 3 or n == 2 * patients // 3:
                clock.wrong_by -= timedelta(hours=1)
            command = registration(given=f"Clock{n}", identifiers=())
            ids.append(clinic.commands.execute(command, DESK).patient_id)
            for earlier in ids[-2:]:  # a visit of this patient and of the one before
                clinic.commands.execute(c.RecordVitals(patient_id=earlier, heart_rate=70), DOC)
                clinic.commands.execute(c.AddNote(patient_id=earlier, text="seen"), DOC)
        lookups = failing = 0
        moments = [start - timedelta(hours=2) + timedelta(minutes=10 * k) for k in range(30)]
        for pid in ids:
            stream = clinic.vault.events.read_stream(stream_of(pid))
            own = [r.metadata.recorded_at for r in stream]
            for moment in moments:
                exists = any(datetime.fromisoformat(t) <= moment for t in own)
                if not exists:
                    continue
                lookups += 1
                try:
                    clinic.queries.chart(pid, DOC, as_of=moment, record_view=False)
                except NotFoundError:
                    failing += 1
        violations = sum(_violations(clinic, pid) for pid in ids)
        with read_transaction(clinic.vault.engine) as conn:
            steps = len(recorded_order.steps_back(conn))
        return StepBackFigures(lookups, failing, violations, steps)
    finally:
        clinic.close()


def _violations(clinic: Clinic, patient_id: str) -> int:
    """Adjacent timeline entries (newest first) without a clinical time of their own whose
    log positions run the wrong way."""
    view = clinic.queries.chart(patient_id, DOC, record_view=False)
    own_time = timedelta(seconds=1)
    positions = [
        e.position
        for e in view.timeline
        if abs(datetime.fromisoformat(e.occurred_at) - datetime.fromisoformat(e.recorded_at))
        < own_time
    ]
    return sum(1 for a, b in itertools.pairwise(positions) if a < b)


def run(
    base_url: str, auth: httpx.Auth | None, work: Path, patients: int = 2, idle: int = 3
) -> dict[str, Any]:
    """The experiment at a size: ``patients`` per facility (and per clinic day, times 3),
    ``idle`` idle cycles with a slow clock."""
    work.mkdir(parents=True, exist_ok=True)
    tag = f"K{datetime.now(UTC).strftime('%H%M%S%f')}"
    figures: dict[str, Any] = {}
    for how in ("batch", "no-batch", "frozen"):
        figures[f"not_pulled_after_fix_{how}"] = ahead_then_fixed(
            base_url, auth, work, patients, how, tag
        )
    figures.update(behind(base_url, auth, work, patients, idle, tag))
    day = stepped_back(work, patients * 3)
    figures.update(
        as_of_lookups=day.lookups,
        as_of_failing=day.failing,
        timeline_violations=day.timeline_violations,
        clock_steps_found=day.steps_found,
        idle_cycles=idle,
    )
    return figures


def rows(figures: dict[str, Any]) -> list[report.Row]:
    f = figures
    not_pulled = sum(f[f"not_pulled_after_fix_{how}"] for how in ("batch", "no-batch", "frozen"))
    return [
        report.zero(
            SECTION,
            "changes not pulled after a clock 10 years ahead was fixed (batch, no batch, frozen)",
            not_pulled,
        ),
        report.zero(
            SECTION,
            "full re-downloads on idle cycles, clock 2 days behind",
            f["slow_idle_full_downloads"],
        ),
        report.zero(
            SECTION,
            "resources received on idle cycles, clock 2 days behind",
            f["slow_idle_resources"],
        ),
        report.info(SECTION, "requests on those idle cycles", f["slow_idle_requests"]),
        report.zero(SECTION, "'as of' lookups failing for existing patients", f["as_of_failing"]),
        report.info(SECTION, "'as of' lookups made (clock stepped back twice)", f["as_of_lookups"]),
        report.zero(SECTION, "timeline order violations", f["timeline_violations"]),
        report.at_least(SECTION, "clock steps back found in the log", f["clock_steps_found"], 2),
    ]
