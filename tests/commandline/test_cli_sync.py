"""`enroll`, `sync` and `status` through the real CLI, against the in-memory FHIR peer and a
real FHIR server (tests/realfhir)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.commandline.test_cli_clinic import PASSPHRASES, exec_as, results, run_cli
from tests.peer.harness import PeerServer
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import vault_pulled_up_to_now


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    data = tmp_path / "vault"
    assert run_cli("init", "--data-dir", data, "--user", "admin", user="admin").returncode == 0
    added = run_cli(
        "user",
        "add",
        "--data-dir",
        data,
        "--user",
        "doc",
        "--role",
        "clinician",
        user="admin",
        FIELDCHART_NEW_PASSPHRASE=PASSPHRASES["doc"],
    )
    assert added.returncode == 0, added.stderr
    return data


def test_enroll_sync_and_status(vault: Path, fhir_server: FhirServer, tmp_path: Path) -> None:
    config = tmp_path / "clinic.json"
    config.write_text(json.dumps({"sync_interval_minutes": 10, "auto_lock_minutes": 5}))
    enrolled = run_cli(
        "enroll",
        "--data-dir",
        vault,
        "--config",
        config,
        *fhir_server.enroll_args(tmp_path),
        "--pull-everything",  # this test syncs the whole (shared) server, as before scopes
        "--json",
        user="admin",
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout)["fhir_version"].startswith("4.0")
    if not fhir_server.isolated:  # a shared server: pull only what is new, not earlier runs'
        vault_pulled_up_to_now(vault, "admin", PASSPHRASES["admin"], fhir_server.base_url)
    pid = f"pat-cli-{uuid.uuid4()}"  # a new patient on a server that keeps earlier runs' data

    done = exec_as(
        vault,
        "doc",
        {
            "type": "RegisterPatient",
            "patient_id": pid,
            "given": "Neema",
            "family": "Kimaro",
            "birth_date": "1990-05-06",
            "sex": "female",
        },
        {"type": "RecordVitals", "patient_id": pid, "heart_rate": 76},
    )
    assert [r["ok"] for r in results(done)] == [True, True]

    before = json.loads(run_cli("status", "--data-dir", vault, "--json", user="doc").stdout)
    assert (before["configured"], before["pending"], before["last_success_at"]) == (True, 2, None)
    assert before["settings"]["sync_interval_minutes"] == 10

    synced = run_cli("sync", "--data-dir", vault, "--json", user="doc")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert (report["pushed"], report["pending_after"], report["needs_attention"]) == (2, 0, 0)

    after = json.loads(run_cli("status", "--data-dir", vault, "--json", user="doc").stdout)
    assert (after["pending"], after["synced"]) == (0, 2)
    assert after["last_success_at"] is not None
    assert "Kimaro" not in json.dumps(after), "status is safe to paste into a ticket"


def test_enroll_refuses_an_unreachable_server_and_changes_nothing(vault: Path) -> None:
    failed = run_cli(
        "enroll",
        "--data-dir",
        vault,
        "--server",
        "http://127.0.0.1:9/fhir",
        "--pull-everything",
        user="admin",
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("fieldchart: could not reach the server")
    assert len(failed.stderr.strip().splitlines()) == 1
    status = json.loads(run_cli("status", "--data-dir", vault, "--json", user="admin").stdout)
    assert status["configured"] is False


def test_sync_without_a_server_says_so(vault: Path) -> None:
    result = run_cli("sync", "--data-dir", vault, user="doc")
    assert (result.returncode, result.stderr.strip()) == (
        1,
        "fieldchart: no sync server is enrolled on this device",
    )


@pytest.mark.peer
def test_only_an_admin_enrolls(vault: Path, fhir_peer: PeerServer) -> None:
    server = ["--server", fhir_peer.base_url, "--pull-everything"]
    result = run_cli("enroll", "--data-dir", vault, *server, user="doc")
    assert result.returncode == 1
    assert "Only an admin may change device settings" in result.stderr
