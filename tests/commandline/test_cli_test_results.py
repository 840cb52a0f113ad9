"""Point-of-care test results through the real CLI, as a script would: `exec` records them (and
refuses bad ones, naming the field, recording nothing), `chart --json` shows them with their
abnormal flags and the per-test series, and `audit` lists the commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.commandline.test_cli_clinic import (
    exec_as,
    results,
    run_cli,
    vault_with_clinician,
)

PID = "pat-poc"
REGISTER = {
    "type": "RegisterPatient",
    "command_id": "poc-reg",
    "patient_id": PID,
    "given": "Neema",
    "family": "Mushi",
    "birth_date": "1994-02-11",
    "sex": "female",
}
GOOD: list[dict[str, Any]] = [
    {"type": "RecordTestResult", "patient_id": PID, "result_id": "rdt-1",
     "test": "malaria_rdt_pf", "result": "positive"},
    {"type": "RecordTestResult", "patient_id": PID, "result_id": "hb-1",
     "test": "718-7", "value": 8.4},
    {"type": "RecordTestResult", "patient_id": PID, "result_id": "uprot-1",
     "test": "urine_protein", "result": "++", "note": "morning sample"},
    {"type": "RecordUrineDipstick", "patient_id": PID, "glucose": "negative",
     "nitrite": "positive"},
]  # fmt: skip
BAD: list[dict[str, Any]] = [
    {"type": "RecordTestResult", "patient_id": PID, "test": "haemoglobin", "value": 40},
    {"type": "RecordTestResult", "patient_id": PID, "test": "urine_protein", "result": "6+"},
    {"type": "RecordTestResult", "patient_id": PID, "test": "ferritin", "value": 40},
]  # fmt: skip


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("poc-cli") / "vault"
    vault_with_clinician(data_dir)
    return data_dir


def test_exec_records_results_and_refuses_bad_ones_naming_the_field(vault: Path) -> None:
    done = exec_as(vault, "doc", REGISTER, *GOOD)
    assert done.returncode == 0, done.stdout
    assert [r["item_ids"] for r in results(done)[1:4]] == [["rdt-1"], ["hb-1"], ["uprot-1"]]
    strip = results(done)[4]
    assert strip["events"] == ["TestResultRecorded", "TestResultRecorded"]
    refused = exec_as(vault, "doc", *BAD)
    assert refused.returncode == 1
    out = results(refused)
    assert [r["ok"] for r in out] == [False, False, False]
    assert [r["field"] for r in out] == ["value", "result", "test"]
    assert "25.6" in out[0]["error"] and "g/dL" in out[0]["error"]
    documented = (Path(__file__).resolve().parents[2] / "docs" / "commands.md").read_text("utf-8")
    assert out[0]["error"] in documented  # docs/commands.md shows this very refusal

    shown = run_cli("chart", PID, "--data-dir", vault, "--json", user="doc")
    assert shown.returncode == 0, shown.stderr
    chart = json.loads(shown.stdout)
    by_id = {r["item_id"]: r for r in chart["test_results"]}
    assert set(by_id) == {"rdt-1", "hb-1", "uprot-1", *strip["item_ids"]}  # no refused ones
    assert sorted(by_id[i]["data"]["test"] for i in strip["item_ids"]) == [
        "urine_glucose",
        "urine_nitrite",
    ]
    assert by_id["rdt-1"]["data"]["interpretation"] == "POS" and by_id["rdt-1"]["data"]["abnormal"]
    assert by_id["hb-1"]["data"]["interpretation"] == "L"
    assert by_id["uprot-1"]["data"]["result"] == "2+"
    assert [value for _, value in chart["results_series"]["haemoglobin"]] == [8.4]
    assert any("Malaria RDT" in e["text"] for e in chart["timeline"])

    audit = run_cli("audit", "--data-dir", vault, "--json", user="doc")
    assert audit.returncode == 0, audit.stderr
    actions = [e["action"] for e in json.loads(audit.stdout) if e["patient_id"] == PID]
    assert actions.count("TestResultRecorded") == 5
