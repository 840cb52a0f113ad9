"""Sync figures against two FHIR servers side by side, in the same run, by the same method:

* ``peer``: the in-memory FHIR peer (tests/peer: Medplum's router behind node:http, started
  here, empty);
* ``real``: a real Medplum server on PostgreSQL + Redis (tests/realfhir/harness.py
  ``provide()``: ../shared/realfhir, or a server named by FIELDCHART_FHIR_BASE), reached with
  OAuth2 client credentials like a clinic. It keeps data between runs and other people may
  write to it, so everything here is counted on the bench's own new patients and the pull is
  bounded by ``_lastUpdated`` (below). Skipped, with the reason in ``status``, when there is
  none or ``--skip-real`` is given.

On each server, every device is its own vault (cheap test KDF) running the real sync engine
(sync.clinic_sync.engine_for); its clock is set from the server's Date header.

* push: device A records `pushes` commands offline (ten per new patient: registration,
  encounter, two vitals sets, diagnosis, allergy, prescription, two notes, finish), then runs
  one sync cycle; the figure is the push phase (cycle start to the last push progress report),
  with the HTTP requests and bytes of that phase. A's watermarks are set to the server's time
  just before, so its pull phase reads only what was written since (on the real server, not
  the whole server).
* idle: a device with nothing pending and nothing new (watermarks at the server's time) runs
  cycles; the figure is the median of five after the first (the first also reads the
  CapabilityStatement, once a day).
* pull: the server's time is taken as the mark; a seeding device records new patients
  offline until the bench's own resources reach `pulls` and pushes them (not timed: it is how
  the data gets there; one device, since on Medplum concurrent pushes from several end cycles
  with 409 "could not serialize"), running cycles until nothing is pending, as the worker
  would; then a new device C, in a fresh process (tests/bench/pull_probe.py), with its
  watermarks set to the mark, runs one cycle: the figure is that cycle (C has nothing to
  push), with its RSS sampled every 20 ms. A new device with no watermark would pull the
  whole server, which on a shared real server is every earlier run's data (district scoping
  is a later issue); on the peer the mark changes nothing but keeps the method the same.
"""

from __future__ import annotations

import math
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.services.clinic import Clinic, open_clinic
from app.services.sync_status import SyncProgress
from app.store.crypto import FAST_FOR_TESTS
from app.store.reference_data import bundled_catalog
from app.store.vault import Vault
from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from sync.fhir_mapper import FhirResourceMapper
from tests.bench.probes import _child
from tests.clinic_fixtures import prescription
from tests.sync.devices import TickingClock, our_resources, server_time

DOC = Actor("doc", Role.CLINICIAN)
DESK = Actor("desk", Role.STAFF)
PASS = "bench-sync-passphrase"
COMMANDS_PER_PATIENT = 10
SEED_THREADS = 1  # several devices seeding at once get 409s from Medplum (see above)
IDLE_RUNS = 5
MAX_CYCLES = 20
#: Environment of the pull child: the real server's client credentials (never on its argv).
ENV_TOKEN_URL = "FIELDCHART_BENCH_TOKEN_URL"
ENV_CLIENT_ID = "FIELDCHART_BENCH_CLIENT_ID"
ENV_CLIENT_SECRET = "FIELDCHART_BENCH_CLIENT_SECRET"


@dataclass(frozen=True)
class Server:
    """One FHIR server the bench syncs with, and how a device authenticates to it."""

    name: str  # "peer" | "real"
    label: str
    base_url: str
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    atomic_tx: bool | None = None

    def auth(self) -> httpx.Auth | None:
        return auth_from(self.token_url, self.client_id, self.client_secret)

    def child_env(self) -> dict[str, str]:
        if not (self.token_url and self.client_id and self.client_secret):
            return {}
        return {
            ENV_TOKEN_URL: self.token_url,
            ENV_CLIENT_ID: self.client_id,
            ENV_CLIENT_SECRET: self.client_secret,
        }


def auth_from(
    token_url: str | None, client_id: str | None, client_secret: str | None
) -> httpx.Auth | None:
    """OAuth2 client credentials (the product's ClientCredentialsAuth), or None."""
    if not (token_url and client_id and client_secret):
        return None
    from sync.fhir.auth import ClientCredentialsAuth

    host = httpx.URL(token_url).host
    loopback = host in ("127.0.0.1", "localhost", "::1")
    return ClientCredentialsAuth(token_url, client_id, client_secret, allow_insecure_http=loopback)


class CountingTransport(httpx.BaseTransport):
    """Counts the requests a client sends and the bytes of their bodies both ways (the OAuth2
    token requests of the auth flow included: one an hour)."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.requests = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self._kinds: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = len(request.read())
        response = self._inner.handle_request(request)
        body = response.read()
        kind = _kind(request, response)
        with self._lock:
            self.requests += 1
            self.bytes_sent += sent
            self.bytes_received += len(body)
            self._kinds[kind] += 1
        return response

    def kinds(self) -> Counter[str]:
        """Requests so far by method, resource type (or "transaction") and status."""
        with self._lock:
            return Counter(self._kinds)

    def snapshot(self) -> tuple[int, int, int]:
        with self._lock:
            return self.requests, self.bytes_sent, self.bytes_received

    def close(self) -> None:
        self._inner.close()


def _kind(request: httpx.Request, response: httpx.Response) -> str:
    path = request.url.path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    if request.method == "POST" and last in ("R4", "fhir", ""):
        what = "transaction"
    else:
        # The first resource type in the path (not the base's "R4"), else its last segment.
        what = next((p for p in path.split("/") if p[:2].istitle() and p.isalpha()), last)
    return f"{request.method} {what} {response.status_code}"


@dataclass
class Device:
    clinic: Clinic
    client: FhirClient
    transport: CountingTransport

    @property
    def engine(self) -> Any:
        return engine_for(self.clinic, self.client)

    def close(self) -> None:
        self.client.close()
        self.clinic.close()


def make_device(
    root: Path,
    name: str,
    server: Server | None = None,
    *,
    clock_start: datetime | None = None,
    auth: httpx.Auth | None = None,
) -> Clinic:
    """A new vault with a clinician and a front-desk user, opened on a ticking clock started
    an hour before ``clock_start`` (the server's time: what it stamps is by its clock)."""
    vault, _ = Vault.create(root / name, "admin", PASS, kdf=FAST_FOR_TESTS)
    vault.add_user("doc", Role.CLINICIAN, PASS, kdf=FAST_FOR_TESTS)
    vault.add_user("desk", Role.STAFF, PASS, kdf=FAST_FOR_TESTS)
    start = clock_start or (server_time(server.base_url) if server else None)
    if start is None:
        raise ValueError("a device needs a server or a clock start")
    clock = TickingClock(start - timedelta(hours=1))
    return open_clinic(vault, clock=clock, catalog=bundled_catalog())


def set_watermarks(clinic: Clinic, mark: datetime) -> None:
    """As if the device had pulled everything the server held before ``mark``."""
    value = mark.isoformat(timespec="milliseconds")
    for resource_type in FhirResourceMapper(clinic.catalog).pull_types():
        clinic.sync_gateway.set_watermark(resource_type, value)


def device(root: Path, name: str, server: Server, mark: datetime | None) -> Device:
    clinic = make_device(root, name, server)
    if mark is not None:
        set_watermarks(clinic, mark)
    transport = CountingTransport()
    client = FhirClient(server.base_url, server.auth(), transport=transport)
    return Device(clinic, client, transport)


def _record(clinic: Clinic, patients: int, start: int = 0) -> tuple[int, list[str]]:
    """Ten commands per patient; returns the number recorded and the patients' ids."""
    run = clinic.commands.execute
    done = 0
    ids = []
    for i in range(start, start + patients):
        pid = run(
            c.RegisterPatient(
                given=f"Zawadi {i}",
                family="Mwakyusa" if i % 2 else "Ødegård",
                birth_date=f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}",
                sex="female" if i % 2 else "male",
                phone="+255 754 000 111",
                identifiers=(c.Identifier("urn:fieldchart:mrn", f"SYNC-{i:06d}"),),
            ),
            DESK,
        ).patient_id
        ids.append(pid)
        enc = run(c.StartEncounter(patient_id=pid, reason="Fever"), DOC).item_ids[0]
        run(
            c.RecordVitals(
                patient_id=pid, encounter_id=enc, systolic=128, diastolic=84, heart_rate=80,
                temperature=37.9, spo2=97, weight=61, height=165,
            ),
            DOC,
        )  # fmt: skip
        run(c.RecordDiagnosis(patient_id=pid, code="J06.9", encounter_id=enc), DOC)
        run(c.RecordAllergy(patient_id=pid, substance="peanut", reaction="Hives"), DOC)
        run(prescription(pid, "paracetamol", duration_days=5, encounter_id=enc), DOC)
        run(c.AddNote(patient_id=pid, text="Fluids and rest.", encounter_id=enc), DOC)
        run(c.RecordVitals(patient_id=pid, encounter_id=enc, temperature=37.2, heart_rate=76), DOC)
        run(c.AddNote(patient_id=pid, text="Fever settling.", encounter_id=enc), DOC)
        run(c.FinishEncounter(patient_id=pid, encounter_id=enc), DOC)
        done += COMMANDS_PER_PATIENT
    return done, ids


def _describe(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _finish(
    engine: Any, errors: list[str], progress: Callable[[SyncProgress], None] | None = None
) -> Any:
    """Cycles until nothing is pending, as the worker would run them: a cycle the server ends
    (e.g. a 409 "could not serialize" still refused after the client's retries, when several
    devices write at once) is followed by another, which continues where it stopped."""
    for _ in range(MAX_CYCLES):
        try:
            report = engine.run_cycle(progress) if progress else engine.run_cycle()
        except Exception as exc:  # a failed cycle: the next one continues
            errors.append(_describe(exc))
            continue
        if report.pending_after == 0:
            return report
    raise RuntimeError(f"still pending after {MAX_CYCLES} cycles; errors: {errors[-3:]}")


def _resources_of(server: Server, patient_id: str) -> int:
    """How many resources the server holds for one of our patients (by our identifier)."""
    with FhirClient(server.base_url, server.auth()) as client:
        types = FhirResourceMapper(bundled_catalog()).pull_types()
        return sum(len(our_resources(client, t, [patient_id])) for t in types)


def _mark(server: Server, *, after_writes: bool = True) -> datetime:
    """The server's time, with nothing of ours written from then on yet: the Date header has
    whole seconds, so, after writes, wait until they are more than a second old."""
    if after_writes:
        time.sleep(1.1)
    return server_time(server.base_url)


def _seed(root: Path, server: Server, patients: int, base: int) -> dict[str, Any]:
    """`patients` new patients (ten commands each) recorded and pushed by SEED_THREADS devices."""
    shares = [patients // SEED_THREADS + (i < patients % SEED_THREADS) for i in range(SEED_THREADS)]
    errors: list[BaseException] = []
    failed_cycles: list[str] = []

    def seeder(i: int, share: int) -> None:
        try:
            d = device(root, f"seed{i}", server, server_time(server.base_url))
            try:
                # All recorded offline, then one cycle: one push, and one pull of what was
                # written since the device's watermark (cycles in between would each re-read
                # the pull's two-minute margin).
                _record(d.clinic, share, start=base + i * 1_000_000)
                _finish(d.engine, failed_cycles)
            finally:
                d.close()
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=seeder, args=(i, s)) for i, s in enumerate(shares) if s]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return {
        "seed_s": round(time.perf_counter() - started, 1),
        "seed_patients": patients,
        "seed_commands": patients * COMMANDS_PER_PATIENT,
        "seed_failed_cycles": len(failed_cycles),
        "seed_errors": sorted(set(failed_cycles))[:3],
    }


def measure(server: Server, root: Path, pushes: int, pulls: int) -> dict[str, Any]:
    """Push, idle cycle and pull on one server."""
    out: dict[str, Any] = {"status": "measured", "server": server.label}
    if server.atomic_tx is not None:
        out["atomic_transactions"] = server.atomic_tx
    # Patient numbers (names, MRNs) unique to this run: the real server keeps earlier runs'.
    base = random.SystemRandom().randrange(1, 10_000) * 10_000_000

    # -- push -----------------------------------------------------------------------------
    a = device(root, "a", server, _mark(server, after_writes=False))
    recorded, a_patients = _record(a.clinic, max(pushes // COMMANDS_PER_PATIENT, 1), start=base)
    last_push: list[tuple[float, tuple[int, int, int], Counter[str]]] = []

    def progress(p: SyncProgress) -> None:
        if p.phase == "push":
            transport = a.transport
            last_push.append((time.perf_counter(), transport.snapshot(), transport.kinds()))

    engine = a.engine
    failed: list[str] = []
    start = time.perf_counter()
    report = _finish(engine, failed, progress)
    cycle_s = time.perf_counter() - start
    cycle_counts = a.transport.snapshot()
    push_end, (requests, sent, received), kinds = (
        last_push[-1] if last_push else (start, (0, 0, 0), Counter())
    )
    push_s = push_end - start
    out["push_commands"] = recorded
    out["push_s"] = round(push_s, 3)
    out["push_1000_s"] = round(push_s * 1000 / max(recorded, 1), 3)
    out["push_commands_per_s"] = round(recorded / push_s, 1) if push_s > 0 else None
    out["push_requests"] = requests
    out["push_requests_per_command"] = round(requests / max(recorded, 1), 3)
    out["push_requests_by_kind"] = dict(sorted(kinds.items()))
    out["push_bytes_sent"] = sent
    out["push_bytes_received"] = received
    out["push_cycle_s"] = round(cycle_s, 3)
    out["push_cycle_requests"] = cycle_counts[0]
    out["push_report"] = report.to_json()
    # Cycles the server ended before the push was done (the figures include their time).
    out["push_failed_cycles"] = len(failed)
    if failed:
        out["push_errors"] = sorted(set(failed))[:3]
    a.close()
    per_patient = _resources_of(server, a_patients[0]) if a_patients else 0
    out["resources_per_patient"] = per_patient

    # -- idle -----------------------------------------------------------------------------
    idle = device(root, "idle", server, _mark(server))
    engine = idle.engine
    engine.run_cycle()  # the first also reads the CapabilityStatement (at most once a day)
    runs, idle_requests = [], []
    for _ in range(IDLE_RUNS):
        before = idle.transport.snapshot()[0]
        start = time.perf_counter()
        engine.run_cycle()
        runs.append(time.perf_counter() - start)
        idle_requests.append(idle.transport.snapshot()[0] - before)
    idle.close()
    out["idle_cycle_s"] = round(statistics.median(runs), 3)
    out["idle_cycle_runs_s"] = [round(r, 3) for r in runs]
    out["idle_cycle_requests"] = max(idle_requests)

    # -- pull -----------------------------------------------------------------------------
    mark = _mark(server, after_writes=False)  # the idle device wrote nothing
    seed_patients = math.ceil(pulls / max(per_patient, 1))
    out.update(_seed(root, server, seed_patients, base + 100_000))
    out["seeded_resources"] = seed_patients * per_patient
    pulled = _child(
        "tests.bench.pull_probe",
        [server.base_url, str(root), mark.isoformat(timespec="milliseconds")],
        server.child_env(),
        timeout=1800,
    )
    out.update(pulled)
    if "pull_s" in pulled:
        seconds, count = pulled["pull_s"], max(pulled["pulled"], 1)
        out["pull_resources_per_s"] = round(count / seconds, 1) if seconds > 0 else None
        out["pull_10000_s"] = round(seconds * 10_000 / count, 3)
        out["pull_rss_growth_mb"] = round(
            pulled["pull_rss_peak_mb"] - pulled["pull_rss_before_mb"], 1
        )
        # Resources on the server since the mark that are not the bench's: other writers.
        out["pulled_not_seeded"] = pulled["pulled"] - out["seeded_resources"]
    return out


#: The figures shown side by side (key in each server's section).
SIDE_BY_SIDE = (
    "push_commands",
    "push_s",
    "push_commands_per_s",
    "push_requests",
    "push_bytes_sent",
    "push_bytes_received",
    "push_cycle_s",
    "idle_cycle_s",
    "idle_cycle_requests",
    "pulled",
    "pull_s",
    "pull_resources_per_s",
    "pull_rss_growth_mb",
    "seed_s",
)


def side_by_side(servers: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key: {name: s.get(key) for name, s in servers.items()} for key in SIDE_BY_SIDE}


def _on_peer(root: Path, pushes: int, pulls: int) -> dict[str, Any]:
    from tests.peer.harness import PeerServer

    try:
        with PeerServer() as peer:
            server = Server("peer", "tests/peer (Medplum router, in memory)", peer.base_url)
            return measure(server, root, pushes, pulls)
    except Exception as exc:  # the other server's figures are still reported
        return {"status": f"failed: {_describe(exc)}"}


def _on_real(root: Path, pushes: int, pulls: int, skip_real: bool) -> dict[str, Any]:
    if skip_real:
        return {"status": "skipped: --skip-real"}
    from tests.realfhir.harness import RealFhirError, availability, provide

    where = availability()
    if not where.available:
        return {"status": f"skipped: no real FHIR server: {where.detail}"}
    try:
        real = provide()
    except RealFhirError as exc:
        reason = " ".join(str(exc).split())[:300]
        return {"status": f"skipped: the real FHIR server is not usable: {reason}"}
    try:
        server = Server(
            "real",
            f"{real.source}: {real.base_url}",
            real.base_url,
            real.token_url,
            real.client_id,
            real.client_secret,
            real.atomic_tx,
        )
        return measure(server, root, pushes, pulls)
    except Exception as exc:  # the peer's figures are still reported
        return {"status": f"failed: {_describe(exc)}"}
    finally:
        real.restore()


def run(
    _data_dir: str,
    _user: str,
    pushes: int,
    pulls: int,
    *,
    skip_real: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "measured", "sizes": {"push": pushes, "pull": pulls}}
    with tempfile.TemporaryDirectory(prefix="fieldchart-sync-") as tmp:
        root = Path(tmp)
        log("sync: in-memory peer")
        (root / "peer").mkdir()
        out["peer"] = _on_peer(root / "peer", pushes, pulls)
        log("sync: real server")
        (root / "real").mkdir()
        out["real"] = _on_real(root / "real", pushes, pulls, skip_real)
    out["side_by_side"] = side_by_side({"peer": out["peer"], "real": out["real"]})
    return out
