"""Experiment 2: network faults. Three devices run random command sequences with random offline
periods, syncing through the fault-injecting proxy; then all sync until quiet.

Ground truth for conflicts is kept by the generator: every edit of an existing value (a
demographic field, a dose, an appointment's start) records which other edits its device had
seen. Two edits of the same field are *concurrent* when neither had seen the other; only an
edit with a concurrent partner may end in needs-attention. "Seen" is approximated on the safe
side: a device has seen another device's edit once that edit was confirmed by the server before
the start of a sync cycle of this device that completed with a full pull (no page quarantined).
A partial pull can only make the device know more than the model says, which widens the set of
edits allowed to need attention, so the check never reports a false violation.

Cycles are driven directly (`SyncEngine.run_cycle()`; a FhirError is a failed cycle), not by
the worker's timers, so backoff and Retry-After do not slow the experiment down.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.domain import commands as c
from app.domain.errors import DomainError
from app.domain.events import patient_of_command_stream
from app.domain.roles import Actor
from app.services.clinic import open_clinic
from app.store import outbox
from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError
from sync.fhir.mapping import PULL_TYPES
from sync.fhir.politeness import Politeness
from tests.clinic_fixtures import prescription
from tests.peer.harness import PeerServer
from tests.reliability.common import NAMES, REGISTRY
from tests.reliability.proxy import FaultPlan, FaultProxy
from tests.sync.devices import (
    DOC,
    PASSPHRASE,
    STAFF,
    Device,
    FaultyTransport,
    TickingClock,
    clinical_view,
    server_time,
)

READ_TIMEOUT_S = 1.0
MAX_ROUNDS = 40  # rounds of "every device syncs" while settling
MAX_ATTEMPTS_PER_ROUND = 40  # cycles one device may try in one round
KINDS = (
    ("register", 8),
    ("vitals", 22),
    ("demographics", 25),
    ("prescribe", 13),
    ("dose", 7),
    ("schedule", 15),
    ("reschedule", 10),
)


def net_device(tmp: Path, name: str, base_url: str, server_url: str) -> Device:
    """A device whose client goes to `base_url` with short timeouts (the proxy's timeouts are
    longer than the read timeout)."""
    data_dir = REGISTRY.add_dir(tmp / name)
    vault, _ = Vault.create(data_dir, "admin", PASSPHRASE, kdf=FAST_FOR_TESTS)
    clock = TickingClock(server_time(server_url) - timedelta(hours=1))  # set, not faulted
    clinic = open_clinic(vault, clock=clock)
    transport = FaultyTransport()
    client = FhirClient(
        base_url,
        transport=transport,
        timeout=httpx.Timeout(5.0, read=READ_TIMEOUT_S),
        # Cycles are driven by hand and the device's clock ticks per reading, not in real
        # time: no Retry-After is sat out or held to (the proxy draws each answer anew).
        sleep=lambda seconds: None,
        politeness=Politeness(hold_off=False),
    )
    return Device(name, clinic, client, transport, engine_for(clinic, client), clock)


def close_device(device: Device) -> None:
    device.client.close()
    device.clinic.close()


@dataclass
class Acked:
    device: str
    command_id: str
    kind: str
    patient_id: str
    key: tuple[str, str] | None = None  # (item or patient id, field) for edits
    seen: frozenset[str] = frozenset()


@dataclass
class SeedResult:
    seed: int
    commands_acked: int = 0
    commands_refused: int = 0
    cycles: int = 0
    cycles_failed: int = 0
    cycles_crashed: int = 0  # anything but a FhirError out of run_cycle: a bug
    converged: bool = False
    converged_after_resolving: bool = False
    quiet: bool = False
    lost: int = 0
    duplicates: int = 0
    needs_attention: int = 0
    attention_without_overlap: int = 0
    overlapping_edits: int = 0
    quarantined_by_faults: int = 0
    read_models_differing: int = 0  # from a rebuild of the device's log, at the end
    faults: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def ok(self) -> bool:
        return (
            self.converged
            and self.converged_after_resolving
            and self.quiet
            and self.lost == 0
            and self.duplicates == 0
            and self.attention_without_overlap == 0
            and self.cycles_crashed == 0
            and self.read_models_differing == 0
        )


class Simulation:
    def __init__(self, seed: int, commands: int, peer: PeerServer, tmp: Path) -> None:
        self.seed = seed
        self.commands = commands
        self.rng = random.Random(seed)
        self.peer = peer
        self.tmp = tmp
        self.plan = FaultPlan(seed, client_read_timeout_s=READ_TIMEOUT_S)
        self.result = SeedResult(seed)
        self.acked: dict[str, Acked] = {}
        self.landed: set[str] = set()  # command ids confirmed synced on their device
        self.unsettled: dict[str, set[str]] = {}  # device -> acked ids not yet synced
        self.seen_foreign: dict[str, frozenset[str]] = {}
        self.online: dict[str, bool] = {}
        self.slots: set[tuple[str, str]] = set()

    # -- running -------------------------------------------------------------------------------

    def run(self) -> SeedResult:
        started = time.monotonic()
        self.peer.reset()
        assert self.peer.port is not None
        with FaultProxy(self.peer.port, self.plan) as proxy:
            devices = [
                net_device(self.tmp, n, proxy.base_url, self.peer.base_url) for n in ("a", "b", "c")
            ]
            try:
                self._play(devices)
            finally:
                self.result.faults = Counter(self.plan.applied)
                for d in devices:
                    close_device(d)
        self.result.seconds = round(time.monotonic() - started, 2)
        return self.result

    def _play(self, devices: list[Device]) -> None:
        for d in devices:
            self.unsettled[d.name] = set()
            self.seen_foreign[d.name] = frozenset()
            self.online[d.name] = True
        # Shared patients: registered on one device, synced to all.
        first = devices[0]
        for _ in range(3):
            self._execute(first, "register")
        for d in devices:
            self._sync_until_success(d)
        self._sync_until_success(first)
        for d in devices[1:]:
            self._sync_until_success(d)
        # Random phase.
        budget = {d.name: self.commands for d in devices}
        while any(budget.values()):
            d = self.rng.choice([d for d in devices if budget[d.name]])
            if self.rng.random() < 0.06:
                self.online[d.name] = not self.online[d.name]
            kind = self._pick_kind()
            self._execute(d, kind)
            budget[d.name] -= 1
            if self.online[d.name] and self.rng.random() < 0.3:
                self._cycle(d)
        # Everyone back online; sync until quiet.
        self.result.quiet = self._settle(devices)
        self._check(devices, resolved=False)
        self._resolve_all(devices)
        quiet_again = self._settle(devices)
        self.result.quiet = self.result.quiet and quiet_again
        self._check(devices, resolved=True)

    def _pick_kind(self) -> str:
        total = sum(w for _, w in KINDS)
        roll = self.rng.uniform(0, total)
        for kind, weight in KINDS:
            roll -= weight
            if roll <= 0:
                return kind
        return KINDS[-1][0]

    # -- commands ------------------------------------------------------------------------------

    def _execute(self, d: Device, kind: str) -> None:
        built = self._build(d, kind)
        if built is None:  # nothing to change yet (no prescription, no booking)
            kind = "vitals"
            built = self._build(d, kind)
        assert built is not None
        if isinstance(built[0], c.RegisterPatient):
            kind = "register"
        command, actor, key = built
        seen = self._seen_now(d.name)
        try:
            changes = d.run(command, actor)
        except DomainError as exc:
            self.result.commands_refused += 1
            self.result.refusals[f"{kind}: {exc.message[:60]}"] += 1
            return
        acked = Acked(d.name, changes.command_id, kind, changes.patient_id, key, seen)
        self.acked[changes.command_id] = acked
        self.unsettled[d.name].add(changes.command_id)
        self.result.commands_acked += 1

    def _seen_now(self, device: str) -> frozenset[str]:
        own = {cid for cid, a in self.acked.items() if a.device == device}
        return frozenset(own) | self.seen_foreign[device]

    def _patients(self, d: Device) -> list[str]:
        return sorted(p.patient_id for p in d.clinic.queries.search_patients("", 100_000))

    def _build(
        self, d: Device, kind: str
    ) -> tuple[c.Command, Actor, tuple[str, str] | None] | None:
        rng = self.rng
        patients = self._patients(d)
        if kind == "register" or not patients:
            given = NAMES.make(rng, accented=rng.random() < 0.2)
            family = NAMES.make(rng)
            return (
                c.RegisterPatient(
                    given=given,
                    family=family,
                    birth_date=f"{rng.randint(1940, 2020)}-{rng.randint(1, 12):02d}-"
                    f"{rng.randint(1, 28):02d}",
                    sex=rng.choice(["female", "male", "other", "unknown"]),
                    phone=NAMES.phi(f"+255 7{rng.randint(10_000_000, 99_999_999)}"),
                    address=NAMES.phi(f"Plot {rng.randint(1, 999)} {NAMES.make(rng)} Road"),
                ),
                STAFF,
                None,
            )
        pid = rng.choice(patients)
        if kind == "vitals":
            # With a plausible diastolic (the pair is checked), half of the time.
            systolic, diastolic = float(rng.randint(100, 160)), float(rng.randint(60, 90))
            with_pressure = rng.random() < 0.5
            return (
                c.RecordVitals(
                    patient_id=pid,
                    heart_rate=float(rng.randint(50, 120)),
                    temperature=round(rng.uniform(36.0, 39.5), 1),
                    systolic=systolic if with_pressure else None,
                    diastolic=diastolic if with_pressure else None,
                ),
                DOC,
                None,
            )
        if kind == "demographics":
            patient = d.clinic.queries.patient(pid)
            assert patient is not None
            fld = rng.choice(["phone", "address", "phone", "address", "given", "family"])
            current = getattr(patient, fld)
            if fld == "phone":
                new = NAMES.phi(f"+255 6{rng.randint(10_000_000, 99_999_999)}")
            elif fld == "address":
                new = NAMES.phi(f"House {rng.randint(1, 9999)} {NAMES.make(rng)} Street")
            else:
                new = NAMES.make(rng)
            return (
                c.UpdateDemographics(
                    patient_id=pid, changes={fld: c.FieldChange(new=new, expected=current)}
                ),
                STAFF,
                (pid, fld),
            )
        if kind == "prescribe":
            drug = rng.choice(["paracetamol", "ibuprofen", "amoxicillin", "metformin"])
            return (
                prescription(
                    pid,
                    drug,
                    dose=float(rng.choice([250, 500, 1000])),
                    frequency=rng.choice(["BID", "TID", "QD"]),
                    duration_days=rng.randint(3, 14),
                ),
                DOC,
                None,
            )
        view = d.chart(pid)
        if kind == "dose":
            active = [m for m in view.medications if m.status == "active"]
            if not active:
                return None
            med = rng.choice(active)
            current = float(med.data["dose"])
            new_dose = rng.choice(
                [d_ for d_ in (100, 200, 250, 400, 500, 750, 1000) if d_ != current]
            )
            return (
                c.ChangeDose(
                    patient_id=pid,
                    prescription_id=med.item_id,
                    dose=float(new_dose),
                    expected_dose=current,
                ),
                DOC,
                (med.item_id, "dose"),
            )
        if kind == "schedule":
            return (
                c.ScheduleFollowUp(
                    patient_id=pid, clinician="doc", start=self._slot(), reason="Review"
                ),
                STAFF,
                None,
            )
        if kind == "reschedule":
            booked = [a for a in view.appointments if a.status == "booked"]
            if not booked:
                return None
            appt = rng.choice(booked)
            return (
                c.RescheduleAppointment(
                    patient_id=pid,
                    appointment_id=appt.item_id,
                    start=self._slot(),
                    expected_start=appt.data["start"],
                ),
                STAFF,
                (appt.item_id, "start"),
            )
        raise AssertionError(kind)

    def _slot(self) -> str:
        """A free 15-minute slot (per this simulation) so double booking is rare."""
        while True:
            day = datetime(2031, 1, 6, tzinfo=UTC) + timedelta(days=self.rng.randint(0, 300))
            start = day + timedelta(
                hours=self.rng.randint(6, 14), minutes=15 * self.rng.randint(0, 3)
            )
            text = start.isoformat()
            if ("doc", text) not in self.slots:
                self.slots.add(("doc", text))
                return text

    # -- syncing -------------------------------------------------------------------------------

    def _cycle(self, d: Device) -> Any:
        """One cycle; the report, or None if it failed. Updates the model of who saw what."""
        confirmed_before = frozenset(self.landed)
        self.result.cycles += 1
        report = None
        try:
            report = d.engine.run_cycle()
        except FhirError:
            self.result.cycles_failed += 1
        except Exception as exc:  # a bug: recorded, and the device goes on
            self.result.cycles_crashed += 1
            self.result.problems.append(f"cycle crashed on {d.name}: {type(exc).__name__}: {exc}")
        self._settle_statuses(d)
        if report is not None:
            if report.quarantined:
                self.result.quarantined_by_faults += report.quarantined
            else:
                mine = {cid for cid, a in self.acked.items() if a.device == d.name}
                self.seen_foreign[d.name] = frozenset(confirmed_before - mine)
        return report

    def _settle_statuses(self, d: Device) -> None:
        gateway = d.engine._gateway
        for cid in list(self.unsettled[d.name]):
            entry = gateway.entry(cid)
            if entry is not None and entry.status != outbox.PENDING:
                self.unsettled[d.name].discard(cid)
                if entry.status == outbox.SYNCED:
                    self.landed.add(cid)

    def _sync_until_success(self, d: Device, attempts: int = MAX_ATTEMPTS_PER_ROUND) -> Any:
        for _ in range(attempts):
            report = self._cycle(d)
            if report is not None and not report.quarantined:
                return report
        return None

    def _settle(self, devices: list[Device]) -> bool:
        """Rounds of "every device completes a cycle" until a whole round changed nothing on
        any device: a fixed point. (A cycle's report alone is not enough: a push made in a
        failed attempt, or a write that landed after its client gave up, shows up in no
        successful cycle's counts, yet it is news for the other devices.)"""
        for d in devices:
            self.online[d.name] = True
        for _ in range(MAX_ROUNDS):
            before = [self._snapshot(d) for d in devices]
            completed = [self._sync_until_success(d) is not None for d in devices]
            if all(completed) and [self._snapshot(d) for d in devices] == before:
                return True
        return False

    @staticmethod
    def _snapshot(d: Device) -> tuple[int, tuple[tuple[str, int], ...]]:
        gateway = d.engine._gateway
        return d.clinic.vault.events.head_position(), tuple(sorted(gateway.counts().items()))

    def _resolve_all(self, devices: list[Device]) -> None:
        for d in devices:
            for item in d.clinic.queries.sync_overview().attention:
                detail = item.detail or {}
                entry = d.engine._gateway.entry(item.command_id)
                assert entry is not None
                try:
                    d.run(
                        c.ResolveSyncConflict(
                            patient_id=patient_of_command_stream(entry.stream_id),
                            conflict_command_id=item.command_id,
                            resolution="take-servers",
                            field=detail.get("field"),
                        ),
                        STAFF,
                    )
                except DomainError as exc:
                    self.result.problems.append(
                        f"could not resolve {item.command_type} on {d.name}: {exc.message}"
                    )

    # -- checking ------------------------------------------------------------------------------

    def _check(self, devices: list[Device], *, resolved: bool) -> None:
        observer = net_device(
            self.tmp,
            f"observer-{'after' if resolved else 'before'}",
            self.peer.base_url,
            self.peer.base_url,
        )
        try:
            observer.sync()  # straight to the peer: what the server holds
            server_patients = self._patients(observer)
            same = True
            for d in devices:
                if self._patients(d) != server_patients:
                    same = False
                    mine = set(self._patients(d))
                    missing = sorted(set(server_patients) - mine)
                    extra = sorted(mine - set(server_patients))
                    quarantined = [q["reason"][:80] for q in d.engine._gateway.quarantined(5)]
                    watermark = d.engine._gateway.watermark("Patient")
                    behind = d.clinic.runner.catch_up()  # events the read models had not seen
                    self.result.problems.append(
                        f"{d.name} does not know every patient ({'after' if resolved else 'before'}"
                        f" resolving): missing {missing[:3]}, extra {extra[:3]}, Patient "
                        f"watermark {watermark}; read models {behind} events behind the log; "
                        f"recent quarantine {quarantined}"
                    )
                    continue
                for pid in server_patients:
                    if clinical_view(d.chart(pid)) != clinical_view(observer.chart(pid)):
                        same = False
                        self.result.problems.append(
                            f"{d.name}'s chart of {pid} differs from the server's"
                            f" ({'after' if resolved else 'before'} resolving)"
                        )
            if resolved:
                self.result.converged_after_resolving = same
                for d in devices:  # invariant 4 on every device, after all that
                    if d.clinic.queries.digest() != d.clinic.runner.rebuild():
                        self.result.read_models_differing += 1
                        self.result.problems.append(f"{d.name}'s read models differ from a rebuild")
                return
            self.result.converged = same
            self._check_commands(devices, observer)
        finally:
            close_device(observer)

    def _check_commands(self, devices: list[Device], observer: Device) -> None:
        by_name = {d.name: d for d in devices}
        expected: set[tuple[str, str]] = set()
        must_exist: set[tuple[str, str]] = set()
        attention = []
        for cid, acked in self.acked.items():
            d = by_name[acked.device]
            gateway = d.engine._gateway
            entry = gateway.entry(cid)
            if entry is None or entry.status == outbox.PENDING:
                self.result.lost += 1
                self.result.problems.append(f"{acked.kind} {cid} is {entry and entry.status}")
                continue
            keys = d.engine._mapper.keys(gateway.events_of(entry), acked.patient_id)
            expected |= keys
            if entry.status == outbox.SYNCED:
                must_exist |= keys
            elif entry.status == outbox.NEEDS_ATTENTION:
                attention.append(acked)
        server: Counter[tuple[str, str]] = Counter()
        for resource_type in PULL_TYPES:
            for resource in observer.client.iter_search(resource_type, {"_count": "1000"}):
                server[(resource_type, resource["id"])] += 1
        missing = must_exist - set(server)
        self.result.lost += len(missing)
        for key in sorted(missing)[:5]:
            self.result.problems.append(f"{key} confirmed but not on the server")
        extra = set(server) - expected
        self.result.duplicates += len(extra) + sum(n - 1 for n in server.values() if n > 1)
        for key in sorted(extra)[:5]:
            self.result.problems.append(f"{key} on the server but written by no command")
        # Needs-attention only where two devices edited the same field concurrently.
        edits = [a for a in self.acked.values() if a.key is not None]
        overlapping = set()
        for i, x in enumerate(edits):
            for y in edits[i + 1 :]:
                if (
                    x.key == y.key
                    and x.device != y.device
                    and x.command_id not in y.seen
                    and y.command_id not in x.seen
                ):
                    overlapping |= {x.command_id, y.command_id}
        self.result.overlapping_edits = len(overlapping)
        self.result.needs_attention = len(attention)
        for a in attention:
            if a.command_id not in overlapping:
                self.result.attention_without_overlap += 1
                entry = by_name[a.device].engine._gateway.entry(a.command_id)
                same_key = [
                    (e.device, e.command_id[:8], e.command_id in a.seen, a.command_id in e.seen)
                    for e in edits
                    if e.key == a.key and e is not a
                ]
                self.result.problems.append(
                    f"{a.kind} {a.command_id[:8]} on {a.device} needs attention without a "
                    f"concurrent edit of the same field: {entry and entry.last_error!r} "
                    f"{entry and entry.detail!r}; same field: {same_key}"
                )


def run_seed(seed: int, commands: int, peer: PeerServer, tmp: Path) -> SeedResult:
    work = tmp / f"seed-{seed}"
    work.mkdir(parents=True, exist_ok=True)
    return Simulation(seed, commands, peer, work).run()


def summarise(results: list[SeedResult]) -> dict[str, Any]:
    attention = [r.needs_attention for r in results]
    faults: Counter[str] = Counter()
    for r in results:
        faults.update(r.faults)
    return {
        "seeds": len(results),
        "seeds_converged": sum(1 for r in results if r.converged and r.converged_after_resolving),
        "seeds_quiet": sum(1 for r in results if r.quiet),
        "commands_acknowledged": sum(r.commands_acked for r in results),
        "commands_lost": sum(r.lost for r in results),
        "duplicates_on_server": sum(r.duplicates for r in results),
        "needs_attention_per_seed": {
            "min": min(attention, default=0),
            "mean": round(sum(attention) / len(attention), 2) if attention else 0,
            "max": max(attention, default=0),
        },
        "needs_attention_total": sum(attention),
        "overlapping_edits_total": sum(r.overlapping_edits for r in results),
        "attention_without_overlap": sum(r.attention_without_overlap for r in results),
        "cycles": sum(r.cycles for r in results),
        "cycles_failed_by_faults": sum(r.cycles_failed for r in results),
        "cycles_crashed": sum(r.cycles_crashed for r in results),
        "read_models_differing": sum(r.read_models_differing for r in results),
        "pages_quarantined_by_faults": sum(r.quarantined_by_faults for r in results),
        "faults_injected": dict(sorted(faults.items())),
        "seconds": round(sum(r.seconds for r in results), 1),
        "problems": [p for r in results for p in r.problems[:10]],
    }
