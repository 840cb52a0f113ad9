"""Experiment 1 on a real FHIR server (tests/realfhir): kill -9 during `fieldchart sync`.

The real server keeps every earlier trial's (and run's) data and assigns its own ids, so unlike
the peer trials (crash.sync_trials) nothing is reset or compared whole: each trial is a new vault
with new patients (the same command stream, new ids), killed at a random instant of its sync,
then synced again. Then, for its own patients only, the server must hold each patient once
(``Patient?identifier=urn:fieldchart:fhir:id|<our id>``), each of our resources once (grouped by
that identifier), and as many resources of each type as an uninterrupted sync of the same stream
left: nothing twice, nothing missing.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.services.clinic import open_clinic
from app.store.vault import Vault
from sync.fhir.client import FhirClient
from sync.fhir.mapping import PULL_TYPES
from tests.realfhir.harness import RealFhirServer
from tests.realfhir.plugin import real_server
from tests.reliability.common import (
    ADMIN,
    ADMIN_PASS,
    DOC,
    DOC_PASS,
    STANDARD_USERS,
    cli,
    copy_vault,
    make_vault,
)
from tests.reliability.crash import (
    SyncFigures,
    _fill,
    _killed_at_random,
    count_kill,
    run_and_kill,
)
from tests.sync.devices import OUR_ID_SYSTEM, vault_pulled_up_to_now

SYNC = ["sync", "--json"]


@dataclass
class RealSyncFigures(SyncFigures):
    """The peer trials' figures (the vault checks are theirs: vaults_failing_* stay 0 here),
    plus what only a server that assigns ids can show."""

    patients_missing: int = 0
    without_our_identifier: int = 0  # our resources that lack urn:fieldchart:fhir:id


def _filled(template: Path, target: Path, seed: int, commands: int, base_url: str) -> Path:
    """A copy of the enrolled template with the seed's command stream pending (new ids each
    time), already up to date with the server as of now: its sync pulls only what is new, not
    every earlier run's data."""
    data_dir = copy_vault(template, target)
    _fill(data_dir, random.Random(seed), commands)
    vault_pulled_up_to_now(data_dir, DOC, DOC_PASS, base_url)
    return data_dir


def _patients(data_dir: Path) -> list[str]:
    vault = Vault.open(data_dir)
    vault.unlock(DOC, DOC_PASS)
    clinic = open_clinic(vault)
    try:
        return [p.patient_id for p in clinic.queries.search_patients("")]
    finally:
        clinic.close()


def _ours(resource: dict[str, Any]) -> str | None:
    for identifier in resource.get("identifier") or []:
        if identifier.get("system") == OUR_ID_SYSTEM:
            return str(identifier.get("value"))
    return None


def _on_server(client: FhirClient, patients: list[str]) -> dict[str, Counter[str | None]]:
    """Per type, how often each of our ids occurs among these patients' resources."""
    found: dict[str, Counter[str | None]] = {t: Counter() for t in PULL_TYPES}
    for local_id in patients:
        copies = list(client.iter_search("Patient", {"identifier": f"{OUR_ID_SYSTEM}|{local_id}"}))
        found["Patient"].update(_ours(p) for p in copies)
        for patient in copies:
            for resource_type in PULL_TYPES:
                if resource_type != "Patient":
                    params = {"patient": f"Patient/{patient['id']}", "_count": "1000"}
                    found[resource_type].update(
                        _ours(r) for r in client.iter_search(resource_type, params)
                    )
    return found


def real_sync_trials(
    trials: int, commands: int, seed: int, server: RealFhirServer, work: Path
) -> RealSyncFigures:
    started = time.monotonic()
    rng = random.Random(seed)
    figures = RealSyncFigures()
    tmp = work / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    template = make_vault(work / "real-template", users=STANDARD_USERS)
    enroll = ["enroll", "--data-dir", str(template), *real_server(server).enroll_args(work)]
    enrolled = cli(enroll, tmpdir=tmp)
    if enrolled.returncode != 0:
        raise RuntimeError(f"enroll failed: {enrolled.stderr}")
    with FhirClient(server.base_url, server.auth()) as client:
        # Calibrate: an uninterrupted sync of the same stream, and what it leaves on the server.
        probe = _filled(template, work / "real-calibration", seed, commands, server.base_url)
        timing = run_and_kill([*SYNC, "--data-dir", str(probe)], b"", None, ADMIN, ADMIN_PASS, tmp)
        if timing.returncode != 0:
            raise RuntimeError(f"calibration sync failed: {timing.stderr.strip()[-500:]}")
        clean = {t: c.total() for t, c in _on_server(client, _patients(probe)).items()}
        for trial in range(trials):
            figures.trials += 1
            data_dir = _filled(template, work / f"real-{trial}", seed, commands, server.base_url)
            args = [*SYNC, "--data-dir", str(data_dir)]
            killed = _killed_at_random(
                figures, rng, timing.ran_s, args, b"", ADMIN, ADMIN_PASS, work
            )
            at_kill = sum(c.total() for c in _on_server(client, _patients(data_dir)).values())
            wrote_all = at_kill >= sum(clean.values())
            count_kill(figures, killed, wrote_any=at_kill > 0, wrote_all=wrote_all)
            _check(figures, trial, data_dir, clean, client, tmp)
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def _check(
    figures: RealSyncFigures,
    trial: int,
    data_dir: Path,
    clean: dict[str, int],
    client: FhirClient,
    tmp: Path,
) -> None:
    after = cli([*SYNC, "--data-dir", str(data_dir)], tmpdir=tmp)
    if after.returncode != 0:
        figures.next_sync_failed += 1
        figures.problems.append(f"trial {trial}: next sync failed: {after.stderr.strip()}")
        return
    state = json.loads(cli(["status", "--data-dir", str(data_dir), "--json"], tmpdir=tmp).stdout)
    figures.pending_after_next_sync += state["pending"]
    figures.needs_attention_after_next_sync += state["needs_attention"]
    patients = _patients(data_dir)
    found = _on_server(client, patients)
    missing_patients = [p for p in patients if not found["Patient"][p]]
    figures.patients_missing += len(missing_patients)
    for resource_type, counts in found.items():
        twice = {k: n for k, n in counts.items() if k is not None and n > 1}
        figures.duplicates_on_server += sum(n - 1 for n in twice.values())
        figures.without_our_identifier += counts[None]
        short = max(0, clean[resource_type] - counts.total())
        figures.missing_on_server += short
        if twice or short or counts[None]:
            figures.problems.append(
                f"trial {trial}: {resource_type}: {len(twice)} of our ids more than once, "
                f"{short} fewer than an uninterrupted sync, {counts[None]} without our id"
            )
    if missing_patients:
        figures.problems.append(f"trial {trial}: patients not on the server: {missing_patients}")
