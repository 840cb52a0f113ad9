"""The hypertension protocol through the real CLI, as a script or IT would use it: `suggest`
shows the suggestion, `exec` declines it (a blank reason is refused, naming the field, and
records nothing), `chart --json` shows the note (the audit is checked in
tests/services/test_protocol_queries.py); `protocol check`
tells IT what is wrong with an edited file (exit 1, no traceback), `protocol show` shows the
protocol in effect, and a file installed in the data directory takes effect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.store.protocol_data import LOCAL_PROTOCOL_FILE, bundled_text
from tests.commandline.test_cli_clinic import (
    exec_as,
    results,
    run_cli,
    vault_with_clinician,
)

PID = "pat-hearts"
SETUP: list[dict[str, Any]] = [
    {"type": "RegisterPatient", "patient_id": PID, "given": "Juma", "family": "Kombo",
     "birth_date": "1957-08-09", "sex": "male"},
    {"type": "RecordDiagnosis", "patient_id": PID, "code": "I10"},
    {"type": "RecordVitals", "patient_id": PID, "vitals_id": "bp-cli", "systolic": 164,
     "diastolic": 99},
]  # fmt: skip
DECLINE = {
    "type": "DeclineProtocolSuggestion",
    "patient_id": PID,
    "vitals_id": "bp-cli",
    "suggestion": "Start amlodipine 5 mg once daily",
    "reason": "Wants to ask family",
}


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("hearts-cli") / "vault"
    vault_with_clinician(data_dir)
    done = exec_as(data_dir, "doc", *SETUP)
    assert done.returncode == 0, done.stdout
    return data_dir


def suggestion(vault: Path) -> dict[str, Any]:
    shown = run_cli("suggest", PID, "--data-dir", vault, "--json", user="doc")
    assert shown.returncode == 0, shown.stderr
    advice: dict[str, Any] = json.loads(shown.stdout)
    assert advice["problem"] is None
    found: dict[str, Any] = advice["suggestion"]
    return found


def test_suggest_then_decline_through_exec(vault: Path) -> None:
    s = suggestion(vault)
    assert (s["kind"], s["drug"], s["dose"], s["dose_unit"], s["frequency"], s["step"]) == (
        "start", "amlodipine", 5.0, "mg", "QD", 1
    )  # fmt: skip

    refused = exec_as(vault, "doc", {**DECLINE, "reason": "  "})
    assert refused.returncode == 1
    (out,) = results(refused)
    assert (out["ok"], out["field"]) == (False, "reason")

    done = exec_as(vault, "doc", DECLINE)
    assert done.returncode == 0, done.stdout
    assert results(done)[0]["events"] == ["ProtocolSuggestionDeclined", "NoteAdded"]
    plain = run_cli("suggest", PID, "--data-dir", vault, user="doc").stdout.splitlines()
    assert plain[0] == "start: Start amlodipine 5 mg once daily"
    assert plain[-1] == "declined for this reading: Wants to ask family"

    chart = json.loads(run_cli("chart", PID, "--data-dir", vault, "--json", user="doc").stdout)
    assert [n["data"]["text"] for n in chart["notes"]] == [
        "Hypertension protocol suggestion declined: Start amlodipine 5 mg once daily. "
        "Reason: Wants to ask family"
    ]


def test_protocol_check_and_an_installed_file(vault: Path, tmp_path: Path) -> None:
    bundled = run_cli("protocol", "check", "resources/protocols/hearts_hypertension.json",
                      "--data-dir", vault)  # fmt: skip
    assert bundled.returncode == 0 and "usable" in bundled.stdout

    broken = json.loads(bundled_text())
    broken["steps"][2]["component"] = "beta_blocker"
    broken["components"][0]["options"][0]["medicine"] = "amlodipin"
    path = tmp_path / "district.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    checked = run_cli("protocol", "check", path, "--data-dir", vault)
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert "components[1].options[1].medicine: 'amlodipin' is not in the medicine list" in (
        checked.stderr
    )
    assert "steps[3].component: 'beta_blocker' is not one of the components" in checked.stderr

    district = json.loads(bundled_text())
    district["version"] = "district-7"
    district["follow_up_days"]["uncontrolled"] = 14
    (vault / LOCAL_PROTOCOL_FILE).write_text(json.dumps(district), encoding="utf-8")
    try:
        shown = run_cli("protocol", "show", "--data-dir", vault)
        assert shown.returncode == 0
        assert "version district-7 (hypertension_protocol.json)" in shown.stdout
        assert "14 days while uncontrolled" in shown.stdout
        assert "district-7" in suggestion(vault)["explanation"]
    finally:
        (vault / LOCAL_PROTOCOL_FILE).unlink()
