"""Referrals through the real CLI, as a script would: `exec` refers a patient with a summary
chosen from the chart and cancels another referral (bad input is refused naming the field,
recording nothing), `chart --json` shows the referrals and `audit` lists the commands."""

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

PID = "pat-ref"
SETUP: list[dict[str, Any]] = [
    {"type": "RegisterPatient", "patient_id": PID, "given": "Zawadi", "family": "Mrisho",
     "birth_date": "1961-07-02", "sex": "female"},
    {"type": "RecordDiagnosis", "patient_id": PID, "diagnosis_id": "dx-r1", "code": "I10"},
    {"type": "RecordVitals", "patient_id": PID, "vitals_id": "vs-r1", "systolic": 184,
     "diastolic": 112, "heart_rate": 92},
]  # fmt: skip
REFER = {
    "type": "ReferPatient", "patient_id": PID, "referral_id": "ref-r1",
    "to_facility": "Tanga Regional Referral Hospital", "reason": "Uncontrolled hypertension",
    "urgency": "urgent", "summary_item_ids": ["vs-r1", "dx-r1"], "note": "Reply letter please",
}  # fmt: skip
SECOND = {**REFER, "referral_id": "ref-r2", "urgency": "routine", "summary_item_ids": []}
CANCEL = {"type": "CancelReferral", "patient_id": PID, "referral_id": "ref-r2",
          "reason": "Referred twice by mistake", "expected_status": "active"}  # fmt: skip
BAD: list[dict[str, Any]] = [
    {**REFER, "referral_id": "bad-1", "to_facility": ""},
    {**REFER, "referral_id": "bad-2", "reason": " "},
    {**REFER, "referral_id": "bad-3", "urgency": "whenever"},
    {**REFER, "referral_id": "bad-4", "summary_item_ids": ["dx-r1", "not-on-chart"]},
    {**REFER, "referral_id": "bad-5", "summary_item_ids": "dx-r1"},
]


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("referral-cli") / "vault"
    vault_with_clinician(data_dir)
    return data_dir


def test_exec_refers_and_cancels_and_the_chart_shows_both(vault: Path) -> None:
    done = exec_as(vault, "doc", *SETUP, REFER, SECOND, CANCEL)
    assert done.returncode == 0, done.stdout
    assert [r["item_ids"] for r in results(done)[3:]] == [["ref-r1"], ["ref-r2"], ["ref-r2"]]
    refused = exec_as(vault, "doc", *BAD)
    assert refused.returncode == 1
    out = results(refused)
    assert [r["ok"] for r in out] == [False] * 5
    assert [r["field"] for r in out] == [
        "to_facility",
        "reason",
        "urgency",
        "summary_item_ids",
        "summary_item_ids",
    ]
    assert "not-on-chart" in out[3]["error"]

    shown = run_cli("chart", PID, "--data-dir", vault, "--json", user="doc")
    assert shown.returncode == 0, shown.stderr
    chart = json.loads(shown.stdout)
    by_id = {r["item_id"]: r for r in chart["referrals"]}
    assert set(by_id) == {"ref-r1", "ref-r2"}  # the refused ones left nothing
    first, second = by_id["ref-r1"], by_id["ref-r2"]
    assert (first["status"], first["data"]["urgency"]) == ("active", "urgent")
    assert [e["text"] for e in first["data"]["summary"]] == [
        "Problem: Essential (primary) hypertension (I10)",
        f"Vitals: BP 184/112 mmHg, HR 92 /min ({first['data']['referred_at'][:10]})",
    ]
    assert second["status"] == "revoked"
    assert second["data"]["status_reason"] == "Referred twice by mistake"
    assert any("Referred to Tanga" in e["text"] for e in chart["timeline"])

    audit = run_cli("audit", "--data-dir", vault, "--json", user="doc")
    assert audit.returncode == 0, audit.stderr
    actions = [e["action"] for e in json.loads(audit.stdout) if e["patient_id"] == PID]
    assert actions.count("PatientReferred") == 2 and actions.count("ReferralCancelled") == 1
