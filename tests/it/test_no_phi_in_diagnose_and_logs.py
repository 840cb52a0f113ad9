"""After a full clinic day through the CLI -- enrol from a clinic configuration file, register
and treat patients, a refused command, sync with the real FHIR peer, backup, restore, key
rotation -- neither `diagnose --json` nor anything in the log directory names a patient or
holds a patient id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.it.conftest import PATIENTS, create_vault, one_line_error, run_cli
from tests.peer.harness import PeerServer

pytestmark = pytest.mark.peer


def _jsonl(*commands: dict[str, object]) -> str:
    return "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in commands)


def hits(data: bytes, needles: list[str]) -> list[str]:
    found = []
    for needle in needles:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            if needle.encode(encoding) in data or needle.lower().encode(encoding) in data:
                found.append(f"{needle!r} as {encoding}")
    return found


def test_a_full_scenario_leaves_no_patient_data_in_diagnose_or_the_logs(
    tmp_path: Path, log_dir: Path, fhir_peer: PeerServer
) -> None:
    data_dir = tmp_path / "clinic"
    vault, _recovery = create_vault(data_dir)
    vault.lock()
    config = tmp_path / "clinic-config.json"
    config.write_text(
        json.dumps(
            {
                "format": "fieldchart-clinic-config/1",
                "server_url": fhir_peer.base_url,
                "auth_mode": "none",
                "sync_interval_minutes": 10,
                "auto_lock_minutes": 5,
                "pull_everything": True,
            }
        )
    )
    assert run_cli("enroll", "--data-dir", data_dir, "--config", config).returncode == 0

    patient_ids = []
    for n, (given, family) in enumerate(PATIENTS):
        registered = run_cli(
            "exec",
            "--data-dir",
            data_dir,
            user="desk",
            stdin=_jsonl(
                {
                    "type": "RegisterPatient",
                    "given": given,
                    "family": family,
                    "birth_date": f"197{n}-05-0{n + 1}",
                    "sex": "female",
                    "phone": f"+255 711 222 33{n}",
                    "address": f"{given}'s house, Arusha",
                }
            ),
        )
        assert registered.returncode == 0, registered.stderr
        pid = json.loads(registered.stdout)["patient_id"]
        patient_ids.append(pid)
        treated = run_cli(
            "exec",
            "--data-dir",
            data_dir,
            user="doc",
            stdin=_jsonl(
                {"type": "RecordVitals", "patient_id": pid, "systolic": 131, "diastolic": 85},
                {"type": "RecordDiagnosis", "patient_id": pid, "code": "E11.9"},
                {"type": "AddNote", "patient_id": pid, "text": f"{given} {family} is well."},
                {"type": "RecordAllergy", "patient_id": pid, "substance": "penicillin"},
            ),
        )
        assert treated.returncode == 0, treated.stderr
    # Refusals and failures are logged too: by class only.
    refused = run_cli(
        "exec",
        "--data-dir",
        data_dir,
        user="doc",
        stdin=_jsonl(
            {"type": "RecordVitals", "patient_id": patient_ids[0], "systolic": 400},
            {
                "type": "UpdateDemographics",
                "patient_id": patient_ids[0],
                "changes": {"family": {"new": "Xylophant", "expected": "Not-" + PATIENTS[0][1]}},
            },
        ),
    )
    assert refused.returncode == 1
    assert run_cli("chart", "--data-dir", data_dir, patient_ids[1], user="doc").returncode == 0
    unknown = run_cli("chart", "--data-dir", data_dir, "no-such-patient", user="doc")
    assert unknown.returncode == 1

    synced = run_cli("sync", "--data-dir", data_dir, "--json")
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["pushed"] > 0

    backup = tmp_path / "clinic.backup"
    assert run_cli("backup", "--data-dir", data_dir, "--out", backup).returncode == 0
    restored = tmp_path / "restored"
    assert run_cli("restore", "--from", backup, "--data-dir", restored).returncode == 0
    assert run_cli("rotate-key", "--data-dir", data_dir).returncode == 0
    assert run_cli("verify", "--data-dir", data_dir, user="doc").returncode == 0
    wrong = run_cli("verify", "--data-dir", data_dir, FIELDCHART_PASSPHRASE="wrong guess 123")
    assert wrong.returncode == 2
    one_line_error(wrong)

    diagnosed = run_cli("diagnose", "--data-dir", data_dir, "--json")
    assert diagnosed.returncode == 0, diagnosed.stderr
    report = json.loads(diagnosed.stdout)
    text_report = run_cli("diagnose", "--data-dir", data_dir)
    assert text_report.returncode == 0
    offline = run_cli("diagnose", "--data-dir", data_dir, "--no-unlock", "--json")
    assert offline.returncode == 0

    # What the report must say ...
    assert report["vault"]["events"]["by_type"]["PatientRegistered"] == len(PATIENTS)
    assert report["vault"]["streams"]["patient"] == len(PATIENTS)
    assert report["vault"]["key_slots"]["data_key_generation"] == 2
    assert report["projections"]["lag_events"] == 0
    assert report["sync"]["configured"] is True
    assert report["sync"]["interval_minutes"] == 10 and report["sync"]["auto_lock_minutes"] == 5
    assert report["sync"]["outbox"].get("synced", 0) > 0
    assert report["sync"]["last_success_at"]
    assert report["worker"]["running"] is False
    assert report["versions"]["sqlcipher"]["sqlcipher"].startswith("4.")
    assert report["versions"]["qt"]
    assert json.loads(offline.stdout)["unlocked"] is False

    # ... and what nothing may contain: a name, a phone number, an address, a patient id.
    needles = [name for pair in PATIENTS for name in pair] + patient_ids + ["Arusha", "711 222"]
    for output in (diagnosed.stdout, text_report.stdout, offline.stdout):
        assert hits(output.encode(), needles) == []
    logs = sorted(p for p in log_dir.rglob("*") if p.is_file())
    assert logs, "the commands wrote no log"
    log_text = b"".join(p.read_bytes() for p in logs)
    assert b"exec: exit code 0" in log_text and b"backup written" in log_text
    assert b"refused or failed" in log_text
    assert hits(log_text, needles) == []
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in logs)
