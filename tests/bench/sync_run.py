"""Sync figures against the real FHIR peer (tests/peer: Medplum's router behind node:http).

Three devices, each its own vault (cheap test KDF) with the real sync engine
(sync.clinic_sync.engine_for) over plain HTTP on loopback:

* push: device A records `pushes` commands offline (ten per patient: registration, encounter,
  two vitals sets, diagnosis, allergy, prescription, two notes, finish), then runs one sync
  cycle; the figure is the push phase (first push progress report to the first pull report),
  and the whole cycle is reported too.
* pull: device B records and pushes commands until the server holds at least `pulls`
  resources (not timed), then a new device C, in a fresh process (tests/bench/pull_probe.py),
  runs one cycle against the full server: the figure is the cycle (C has nothing to push),
  with C's RSS sampled every 20 ms during it.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from datetime import UTC, datetime, timedelta
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
from tests.bench.probes import _child
from tests.clinic_fixtures import prescription
from tests.peer.harness import PeerServer

DOC = Actor("doc", Role.CLINICIAN)
DESK = Actor("desk", Role.STAFF)
PASS = "bench-sync-passphrase"


class Clock:
    def __init__(self) -> None:
        self._ticks = itertools.count()
        self._start = datetime.now(UTC) - timedelta(hours=2)

    def __call__(self) -> datetime:
        return self._start + timedelta(milliseconds=next(self._ticks))


def make_device(root: Path, name: str) -> Clinic:
    vault, _ = Vault.create(root / name, "admin", PASS, kdf=FAST_FOR_TESTS)
    vault.add_user("doc", Role.CLINICIAN, PASS, kdf=FAST_FOR_TESTS)
    vault.add_user("desk", Role.STAFF, PASS, kdf=FAST_FOR_TESTS)
    return open_clinic(vault, clock=Clock(), catalog=bundled_catalog())


def _record(clinic: Clinic, patients: int, start: int = 0) -> int:
    """Ten commands per patient; returns the number recorded."""
    run = clinic.commands.execute
    done = 0
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
        done += 10
    return done


def _server_total(base_url: str) -> int:
    total = 0
    for kind in (
        "Patient", "Encounter", "Observation", "Condition", "AllergyIntolerance",
        "MedicationRequest", "DocumentReference", "Appointment",
    ):  # fmt: skip
        r = httpx.get(f"{base_url}/{kind}", params={"_summary": "count"}, timeout=60)
        r.raise_for_status()
        total += int(r.json().get("total", 0))
    return total


def run(_data_dir: str, _user: str, pushes: int, pulls: int) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "measured", "server": "tests/peer (Medplum router)"}
    with tempfile.TemporaryDirectory(prefix="fieldchart-sync-") as tmp, PeerServer() as peer:
        root = Path(tmp)
        base = peer.base_url

        # -- push -------------------------------------------------------------------------
        a = make_device(root, "a")
        recorded = _record(a, max(pushes // 10, 1))
        phases: dict[str, float] = {}

        def progress(p: SyncProgress) -> None:
            phases.setdefault(p.phase, time.perf_counter())

        client = FhirClient(base)
        engine = engine_for(a, client)
        start = time.perf_counter()
        report = engine.run_cycle(progress)
        cycle_s = time.perf_counter() - start
        push_end = phases.get("pull", start + cycle_s)
        out["push_commands"] = recorded
        out["push_1000_s"] = round((push_end - start) * 1000 / max(recorded, 1), 3)
        out["push_s"] = round(push_end - start, 3)
        out["push_cycle_s"] = round(cycle_s, 3)
        out["push_report"] = report.to_json()
        client.close()
        a.close()

        # -- pull -------------------------------------------------------------------------
        b = make_device(root, "b")
        client = FhirClient(base)
        engine = engine_for(b, client)
        made = 0
        seeded = _server_total(base)
        setup_started = time.perf_counter()
        while seeded < pulls:
            missing = pulls - seeded
            made += _record(b, max(missing // 12, 10), start=10_000 + made // 10)
            engine.run_cycle()
            seeded = _server_total(base)
        out["pull_seed_s"] = round(time.perf_counter() - setup_started, 1)
        client.close()
        b.close()
        out["server_resources"] = seeded

        pulled = _child("tests.bench.pull_probe", [base, str(root)], {}, timeout=900)
        out.update(pulled)
        if "pull_s" in pulled:
            out["pull_10000_s"] = round(pulled["pull_s"] * 10_000 / max(pulled["pulled"], 1), 3)
            out["pull_rss_growth_mb"] = round(
                pulled["pull_rss_peak_mb"] - pulled["pull_rss_before_mb"], 1
            )
    return out
