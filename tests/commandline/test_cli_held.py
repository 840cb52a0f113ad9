"""`fieldchart attention` and `fieldchart resolve` for server changes held for a person
(issue 15, item 3), as separate processes on a vault that synced with the FHIR peer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.errors import RoleError
from app.domain.roles import Actor, Role
from app.services.clinic import open_clinic
from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from sync.fhir_mapper import FhirResourceMapper
from sync.held_changes import attention_items, resolve_held
from tests.clock import cli_environment
from tests.peer.harness import PeerServer
from tests.reliability.identity_changes import move_item, register, rewrite_patient
from tests.sync.devices import DOC, make_device

pytestmark = pytest.mark.peer
REPO_ROOT = Path(__file__).resolve().parents[2]
NURSE, NURSE_PASS = "nurse", "nurse passphrase for held changes"
ADMIN = Actor("admin", Role.ADMIN)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = cli_environment() | {"FIELDCHART_USER": NURSE, "FIELDCHART_PASSPHRASE": NURSE_PASS}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_held_changes_are_listed_with_both_versions_and_resolved_from_the_cli(
    fhir_peer: PeerServer, tmp_path: Path
) -> None:
    a = make_device(tmp_path, "a", fhir_peer.base_url)
    a.clinic.vault.add_user(NURSE, Role.CLINICIAN, NURSE_PASS, kdf=FAST_FOR_TESTS)
    pid = register(a, "Amani", "Ødegård", "1984-03-02", "female")
    other = register(a, "Baraka", "Mwangi", "1990-07-11", "male")
    vitals = a.run(c.RecordVitals(patient_id=pid, heart_rate=72)).item_ids[0]
    a.sync()
    rewrite_patient(
        a, pid, name=[{"family": "Smith", "given": ["John"]}], birthDate="1975-05-05", gender="male"
    )
    move_item(a, "Observation", vitals, other)
    a.sync()
    data_dir = str(a.clinic.vault.data_dir)
    a.close()

    listed = run_cli("attention", "--data-dir", data_dir, "--json")
    assert listed.returncode == 0, listed.stderr
    items = {i["kind"]: i for i in json.loads(listed.stdout)}
    identity, moved = items["identity-change"], items["moved-between-patients"]
    assert identity["ours"] == "Amani Ødegård, born 1984-03-02, female"
    assert identity["servers"] == "John Smith, born 1975-05-05, male"
    assert "Baraka Mwangi" in moved["servers"] and "Amani Ødegård" in moved["ours"]

    status = run_cli("status", "--data-dir", data_dir, "--json")
    held = json.loads(status.stdout)["held_server_changes"]
    assert {h["kind"] for h in held} == {"identity-change", "moved-between-patients"}
    assert "Smith" not in status.stdout  # status names no patient

    for item_id, resolution in ((identity["id"], "accept-server"), (moved["id"], "keep-ours")):
        done = run_cli("resolve", "--data-dir", data_dir, item_id, resolution)
        assert done.returncode == 0, done.stderr

    vault = Vault.open(Path(data_dir))
    vault.unlock(NURSE, NURSE_PASS)
    clinic = open_clinic(vault)
    try:
        gateway = clinic.sync_gateway
        kept = [i for i in attention_items(gateway)]
        assert [i.kind for i in kept] == ["moved-between-patients"]  # sent back at next sync
        assert kept[0].message.startswith("Kept ours")
        assert clinic.queries.patient(pid).family == "Smith"  # type: ignore[union-attr]
        mapper = FhirResourceMapper(clinic.catalog)
        with pytest.raises(RoleError, match="may not resolve sync conflicts"):
            resolve_held(gateway, mapper, kept[0].command_id, "accept-server", ADMIN)
        with pytest.raises(LookupError, match="no longer needs attention"):
            resolve_held(gateway, mapper, "held:Patient/nobody", "keep-ours", DOC)
    finally:
        clinic.close()
