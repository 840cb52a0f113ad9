"""The bench's "link" section: sync through a slow rural link (tests/reliability/link.py) with
the in-memory FHIR peer (tests/peer), every figure from the same run.

Per link profile (600 ms / 256 kbit/s and 100 ms / 10 Mbit/s by default):

* day: on an emptied server, a device enrolled for facility 1 syncs once (nothing there), then
  records one clinic day offline — 20 patients × 7 commands (register, start encounter,
  vitals, diagnosis, prescription, note, finish) — and runs one sync cycle through the link;
* idle: the same device, one cycle to settle, then the median of three cycles with nothing to do;
* district: the server is loaded directly (not through the link) with `facilities` ×
  `patients` patients (tests/bench/link_district.py); a new device scoped to facility 1 runs
  its first sync through the link; what it received of other facilities is counted (by id,
  on every Bundle answer); the vault's size is measured after;
* resume: another new device's first sync, the link cut once half the bytes of the first sync
  above have come down, then restored and the sync run again: resources and pages received
  twice;
* storage: first sync (at the fastest profile) with 1, 5 and `facilities` facilities loaded.

Each figure: seconds, requests (counted on the client, by kind), bytes up/down on the wire
(headers included), and the ratio to the link floor: (bytes up + down) × 8 / bandwidth + the
round trips the protocol cannot avoid × RTT (one per cycle: a push, an idle check, a first sync
could each be a single exchange).
A device without scope support (code before issue 14) pulls everything: the report says so.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.services.clinic import Clinic
from app.services.settings import DeviceSettings
from app.services.sync_status import SyncProgress
from sync.clinic_sync import client_for, engine_for
from tests.bench import link_district as district
from tests.bench.sync_run import DESK, DOC, make_device
from tests.clinic_fixtures import prescription
from tests.peer.harness import PeerServer
from tests.reliability.link import CountingTransport, Link, LinkProfile, Traffic
from tests.sync.devices import server_time

ADMIN = Actor("admin", Role.ADMIN)
DAY_PATIENTS = 20
DAY_COMMANDS_PER_PATIENT = 7
IDLE_RUNS = 3
OWN_FACILITY = 1
#: Scope support in this code (the settings field of issue 14); absent before it.
SCOPED = "scope_organization" in {f.name for f in fields(DeviceSettings)}


@dataclass
class Device:
    clinic: Clinic
    counting: CountingTransport
    engine: Any
    data_dir: Path

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.counting.close()
        self.clinic.close()

    def vault_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.data_dir.rglob("*") if f.is_file())


def new_device(root: Path, name: str, peer: PeerServer, link: Link) -> Device:
    """A new vault enrolled with the server through the link, for facility 1 where scopes
    exist; its clock starts from the server's (direct, not through the link)."""
    clinic = make_device(root, name, clock_start=server_time(peer.base_url))
    changes: dict[str, Any] = {"server_url": link.base_url}
    if SCOPED:
        changes["scope_organization"] = district.organization_ref(OWN_FACILITY)
    settings = clinic.settings.update(ADMIN, **changes)
    counting = CountingTransport(collect_ids=True)
    client = client_for(settings, transport=counting)
    return Device(clinic, counting, engine_for(clinic, client), root / name)


@contextlib.contextmanager
def measured(link: Link, counting: CountingTransport, round_trips: int) -> Iterator[dict[str, Any]]:
    """Seconds, requests, bytes and the ratio to the link floor of the block."""
    out: dict[str, Any] = {}
    before_traffic, before_counts = link.traffic(), counting.snapshot()
    before_ids = len(counting.received_ids or [])
    started = time.perf_counter()
    try:
        yield out
    finally:
        seconds = time.perf_counter() - started
        traffic: Traffic = link.traffic() - before_traffic
        kinds = counting.snapshot() - before_counts
        floor = link.profile.floor_s(traffic.bytes_up, traffic.bytes_down, round_trips)
        out.update(
            seconds=round(seconds, 2),
            requests=sum(kinds.values()),
            requests_by_kind=dict(sorted(kinds.items())),
            bytes_up=traffic.bytes_up,
            bytes_down=traffic.bytes_down,
            connections=traffic.connections,
            resources_received=len(counting.received_ids or []) - before_ids,
            floor_s=round(floor, 2),
            floor_round_trips=round_trips,
            ratio_to_floor=round(seconds / floor, 2) if floor > 0 else None,
        )


def _cycle(device: Device, out: dict[str, Any]) -> None:
    report = device.engine.run_cycle()
    out["cycle"] = report.to_json()


def record_day(clinic: Clinic, day: int = 0) -> int:
    """One clinic day: DAY_PATIENTS patients × 7 commands, recorded offline."""
    run = clinic.commands.execute
    for i in range(DAY_PATIENTS):
        n = day * 1000 + i
        pid = run(
            c.RegisterPatient(
                given=f"Rehema {n}",
                family="Mushi",
                birth_date=f"19{60 + i % 40}-0{1 + i % 9}-2{i % 8}",
                sex="female" if i % 2 else "male",
                phone="+255 754 000 222",
                identifiers=(c.Identifier("urn:fieldchart:mrn", f"DAY-{n:06d}"),),
            ),
            DESK,
        ).patient_id
        enc = run(c.StartEncounter(patient_id=pid, reason="Cough"), DOC).item_ids[0]
        run(
            c.RecordVitals(
                patient_id=pid, encounter_id=enc, systolic=124, diastolic=82, heart_rate=78,
                temperature=37.6, spo2=97, weight=58, height=160,
            ),
            DOC,
        )  # fmt: skip
        run(c.RecordDiagnosis(patient_id=pid, code="J06.9", encounter_id=enc), DOC)
        run(prescription(pid, "paracetamol", duration_days=3, encounter_id=enc), DOC)
        run(c.AddNote(patient_id=pid, text="Fluids, review in 3 days.", encounter_id=enc), DOC)
        run(c.FinishEncounter(patient_id=pid, encounter_id=enc), DOC)
    return DAY_PATIENTS * DAY_COMMANDS_PER_PATIENT


def day_and_idle(peer: PeerServer, profile: LinkProfile, root: Path) -> dict[str, Any]:
    """The clinic day's push and an idle cycle, on an emptied server."""
    peer.reset()
    district.load_facilities(peer.base_url, range(OWN_FACILITY, OWN_FACILITY + 1), 0)
    assert peer.port is not None
    with Link(peer.port, profile) as link:
        device = new_device(root, f"day-{profile.name}", peer, link)
        try:
            device.engine.run_cycle()  # enrolment's first sync: an empty facility
            commands = record_day(device.clinic)
            phase: list[tuple[float, Traffic, int]] = []

            def progress(p: SyncProgress) -> None:
                if p.phase == "push":  # the cycle so far, at the push's last report
                    phase.append((time.perf_counter(), link.traffic(), device.counting.total))

            started, traffic, requests = time.perf_counter(), link.traffic(), device.counting.total
            with measured(link, device.counting, round_trips=1) as push:
                push["cycle"] = device.engine.run_cycle(progress).to_json()
            push["commands"] = commands
            if phase:
                end, at_end, requests_at_end = phase[-1]
                moved = at_end - traffic
                push["push_phase"] = {
                    "seconds": round(end - started, 2),
                    "requests": requests_at_end - requests,
                    "bytes_up": moved.bytes_up,
                    "bytes_down": moved.bytes_down,
                }
            device.engine.run_cycle()  # settles (reads what the push left to read, if any)
            runs = []
            for _ in range(IDLE_RUNS):
                with measured(link, device.counting, round_trips=1) as idle:
                    _cycle(device, idle)
                runs.append(idle)
        finally:
            device.close()
    median = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {
        "push": push,
        "idle": {**median, "runs_s": [r["seconds"] for r in runs]},
    }


def first_sync(
    peer: PeerServer,
    profile: LinkProfile,
    root: Path,
    name: str,
    foreign: set[str],
) -> dict[str, Any]:
    """A new device's first sync through the link; what it received of other facilities."""
    assert peer.port is not None
    with Link(peer.port, profile) as link:
        device = new_device(root, name, peer, link)
        try:
            with measured(link, device.counting, round_trips=1) as out:
                _cycle(device, out)
            out["foreign_resources_received"] = _foreign(device, foreign)
            out["largest_page"] = max(device.counting.bundle_sizes or [0])
        finally:
            device.close()
    out["vault_bytes"] = device.vault_bytes()
    return out


def _foreign(device: Device, foreign: set[str]) -> int:
    return sum(1 for i in device.counting.received_ids or [] if i in foreign)


def resume(
    peer: PeerServer,
    profile: LinkProfile,
    root: Path,
    uninterrupted: dict[str, Any],
) -> dict[str, Any]:
    """A first sync cut once half its bytes have come down, then run again after restore."""
    assert peer.port is not None
    out: dict[str, Any] = {"cut_after_bytes_down": uninterrupted["bytes_down"] // 2}
    with Link(peer.port, profile) as link:
        device = new_device(root, f"resume-{profile.name}", peer, link)
        try:
            link.cut_after_down(out["cut_after_bytes_down"])
            with measured(link, device.counting, round_trips=1) as cut:
                try:
                    _cycle(device, cut)
                    cut["error"] = None
                except Exception as exc:  # the cut: the device sees an offline cycle
                    cut["error"] = f"{type(exc).__name__}: {exc}"[:200]
            cut["link_cut"] = link.is_cut
            link.restore()
            with measured(link, device.counting, round_trips=1) as resumed:
                _cycle(device, resumed)
        finally:
            device.close()
    received = cut["resources_received"] + resumed["resources_received"]
    again = received - uninterrupted["resources_received"]
    page = max(uninterrupted.get("largest_page") or 1, 1)
    out.update(
        before_cut=cut,
        resumed=resumed,
        resources_received_twice=again,
        pages_received_twice=round(again / page, 2),
    )
    return out


def _growth(one: dict[str, Any], all_: dict[str, Any]) -> dict[str, Any]:
    """How much more a device holds and pulls with every facility loaded than with its own
    alone (1.0: it grows with the facility, not the district)."""
    out: dict[str, Any] = {}
    for key in ("vault_bytes", "bytes_down", "requests", "seconds"):
        a, b = one.get(key), all_.get(key)
        out[key] = round(b / a, 2) if isinstance(a, int | float) and a and b is not None else None
    return out


def _describe(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _guarded(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except Exception as exc:  # one part failing still reports the others
        return {"status": f"failed: {_describe(exc)}"}


def district_parts(
    peer: PeerServer,
    profiles: list[LinkProfile],
    root: Path,
    sizes: tuple[int, int],
    parts: set[str],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Storage with 1, 5 and all facilities loaded (at the fastest capped profile), then,
    with all of them, every profile's first sync and its resume after a cut."""
    facilities, patients = sizes
    peer.reset()
    foreign = district.foreign_ids(OWN_FACILITY, facilities, patients)
    capped = [p for p in profiles if p.kbit_s] or profiles
    fastest = max(capped, key=lambda p: p.kbit_s or 0.0)  # where storage is measured
    out: dict[str, Any] = {}
    storage: dict[str, Any] = {}
    loaded = 0
    steps = sorted({1, min(5, facilities), facilities}) if "storage" in parts else [facilities]
    for step in steps:
        log(f"link: loading facilities {loaded + 1}..{step} ({patients} patients each)")
        load = district.load_facilities(peer.base_url, range(loaded + 1, step + 1), patients)
        storage[str(step)] = {"load": load}
        loaded = step
        if "storage" in parts:
            log(f"link {fastest.name}: first sync with {step} facilities on the server")
            sync = partial(first_sync, peer, fastest, root, f"store-{step}", foreign)
            storage[str(step)].update(_guarded(sync))
    out["storage"] = storage
    out["storage_growth"] = _growth(storage.get("1", {}), storage.get(str(facilities), {}))
    firsts: dict[str, Any] = {}
    for p in profiles:
        if p == fastest and "storage" in parts:
            firsts[p.name] = storage[str(facilities)]
            continue
        log(f"link {p.name}: first sync of facility {OWN_FACILITY}")
        firsts[p.name] = _guarded(partial(first_sync, peer, p, root, f"first-{p.name}", foreign))
    out["first_sync"] = firsts
    if "resume" in parts:
        out["resume"] = {}
        for p in profiles:
            if "bytes_down" in firsts[p.name]:
                log(f"link {p.name}: first sync cut at 50 % and resumed")
                out["resume"][p.name] = _guarded(partial(resume, peer, p, root, firsts[p.name]))
    return out


def run(
    root: Path,
    profiles: list[LinkProfile],
    sizes: tuple[int, int],
    parts: set[str],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """`sizes`: facilities on the server, patients per facility; `parts`: of day, district,
    resume, storage."""
    out: dict[str, Any] = {
        "status": "measured",
        "scoped": SCOPED,
        "sizes": {"facilities": sizes[0], "patients_per_facility": sizes[1]},
        "profiles": {p.name: {"rtt_s": p.rtt_s, "kbit_s": p.kbit_s} for p in profiles},
    }
    with PeerServer() as peer:
        if "day" in parts:
            out["day"] = {}
            for p in profiles:
                log(f"link {p.name}: clinic day push and idle cycle")
                out["day"][p.name] = _guarded(partial(day_and_idle, peer, p, root))
        if {"district", "resume", "storage"} & parts:
            out.update(district_parts(peer, profiles, root, sizes, parts, log))
    return out
