"""Follow-up calls through the real CLI: `exec` records a call about a missed appointment (a
call dated in the future is refused naming the field, nothing recorded), `calls --json` shows
the worklist row, `calls --month --json` the returned-within-30-days figure by outcome."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.clock import suite_now
from tests.commandline.test_cli_clinic import exec_as, results, run_cli, vault_with_clinician

PID = "pat-call"
NOW = suite_now()
SETUP = [
    {"type": "RegisterPatient", "patient_id": PID, "given": "Neema", "family": "Kileo",
     "birth_date": "1975-03-09", "sex": "female", "phone": "+255 754 000 222"},
    {"type": "ScheduleFollowUp", "patient_id": PID, "appointment_id": "ap-call",
     "clinician": "doc", "start": (NOW - timedelta(hours=2)).isoformat()},
    {"type": "MarkNoShow", "patient_id": PID, "appointment_id": "ap-call"},
]  # fmt: skip
NEXT_DAY = (NOW + timedelta(days=2)).date().isoformat()
CALL = {"type": "RecordCallAttempt", "patient_id": PID, "call_id": "call-1",
        "appointment_id": "ap-call", "outcome": "no-answer", "next_call_on": NEXT_DAY}  # fmt: skip
FUTURE = {**CALL, "call_id": "call-2", "called_at": (NOW + timedelta(hours=3)).isoformat()}


def test_exec_records_a_call_and_calls_shows_worklist_and_figure(tmp_path: Path) -> None:
    vault = vault_with_clinician(tmp_path / "vault")
    done = exec_as(vault, "doc", *SETUP, CALL, FUTURE)
    assert done.returncode == 1  # the last line is refused, the others recorded
    *recorded, refused = results(done)
    assert all(r["ok"] for r in recorded), recorded
    assert (refused["ok"], refused["field"]) == (False, "called_at")
    listed = run_cli("calls", "--data-dir", vault, "--json", user="doc")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)["worklist"]
    assert (row["patient_id"], row["phone"], row["missed"], row["attempts"]) == (
        PID,
        "+255 754 000 222",
        "missed",
        1,
    )
    assert (row["last_outcome"], row["next_call_on"], row["due"]) == ("no-answer", NEXT_DAY, False)
    month = NOW.strftime("%Y-%m")
    figure = run_cli("calls", "--data-dir", vault, "--month", month, "--json", user="doc")
    shown = {f["outcome"]: f for f in json.loads(figure.stdout)["returned"]}
    assert shown["no-answer"] == {"outcome": "no-answer", "calls": 1, "returned": 0, "share": 0.0}
    assert shown["died"]["share"] is None
    text = run_cli("calls", "--data-dir", vault, user="doc")
    assert "patients to call: 1 (0 due today)" in text.stdout
    assert "Kileo, Neema" in text.stdout and "attempts 1" in text.stdout
    bad = run_cli("calls", "--data-dir", vault, "--month", "2026-13", user="doc")
    assert bad.returncode == 2 and "--month '2026-13'" in bad.stderr
