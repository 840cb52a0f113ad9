"""Immunizations through the real CLI, as separate processes: `exec` records a dose (staff
only from a card), refusals name the field, `chart --json` lists the doses and those due,
`schedule --immunizations` names the child, `audit` shows who recorded it, and IT checks a
schedule file with `immunization-schedule check` (exit codes as docs/commands.md says)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.clock import suite_now
from tests.commandline.test_cli_clinic import PASSPHRASES, exec_as, results, run_cli

TODAY = suite_now().date()
BORN = TODAY - timedelta(weeks=10)


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("immunization-cli") / "vault"
    assert run_cli("init", "--data-dir", data_dir, "--user", "admin", user="admin").returncode == 0
    for name, role in (("doc", "clinician"), ("desk", "staff")):
        added = run_cli(
            "user", "add", "--data-dir", data_dir, "--as", "admin", "--user", name,
            "--role", role, user="admin", FIELDCHART_NEW_PASSPHRASE=PASSPHRASES[name],
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    return data_dir


def dose(**fields: object) -> dict[str, object]:
    return {"type": "RecordImmunization", "patient_id": "child-1", **fields}


def test_record_read_and_list_immunizations(vault: Path) -> None:
    desk = exec_as(
        vault,
        "desk",
        {
            "type": "RegisterPatient",
            "patient_id": "child-1",
            "given": "Neema",
            "family": "Mushi",
            "birth_date": BORN.isoformat(),
            "sex": "female",
        },
        dose(vaccine="BCG", dose_number=1, given_on=BORN.isoformat(), historical=True,
             source="card"),
        dose(vaccine="penta", dose_number=1),
    )  # fmt: skip
    registered, card, refused = results(desk)
    assert registered["ok"] and card["ok"]
    assert (refused["ok"], refused["field"], refused["kind"]) == (False, "historical", "RoleError")
    six_weeks = (BORN + timedelta(weeks=6)).isoformat()
    doc = exec_as(
        vault,
        "doc",
        dose(vaccine="penta", dose_number=0),
        dose(vaccine="penta", dose_number=1, given_on=six_weeks, lot_expiry=BORN.isoformat()),
        dose(vaccine="penta", dose_number=1, given_on=six_weeks, lot="PX-1", site="left-thigh"),
    )
    zero, expired, given = results(doc)
    assert (zero["ok"], zero["field"]) == (False, "dose_number")
    assert (expired["ok"], expired["field"]) == (False, "lot_expiry")
    assert given["ok"], given

    chart = run_cli("chart", "--data-dir", vault, "child-1", "--json", user="doc")
    assert chart.returncode == 0, chart.stderr
    view = json.loads(chart.stdout)
    assert [i["data"]["vaccine_id"] for i in view["immunizations"]] == ["bcg", "penta"]
    due = {(d["series_id"], d["dose"]): d["status"] for d in view["immunizations_due"]}
    assert due[("dtp", 2)] == "due" and ("dtp", 1) not in due

    listed = run_cli("schedule", "--data-dir", vault, "--immunizations", "--json", user="desk")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["immunizations_due"]
    assert {r["patient_id"] for r in rows} == {"child-1"}
    dtp = next(r for r in rows if r["series_id"] == "dtp")
    assert (dtp["dose"], dtp["status"], dtp["patient_name"]) == (2, "due", "Mushi, Neema")
    text = run_cli("schedule", "--data-dir", vault, "--immunizations", user="desk")
    assert "Mushi, Neema" in text.stdout and "dose 2" in text.stdout

    audit = run_cli("audit", "--data-dir", vault, "--json", user="admin")
    actions = [(e["user"], e["action"]) for e in json.loads(audit.stdout)]
    assert ("desk", "ImmunizationRecorded") in actions
    assert ("doc", "ImmunizationRecorded") in actions


def test_it_checks_a_schedule_file_before_installing_it(tmp_path: Path) -> None:
    good = run_cli(
        "immunization-schedule", "check", "resources/protocols/who_immunization_schedule.json"
    )
    assert good.returncode == 0 and "usable" in good.stdout
    broken = tmp_path / "district.json"
    broken.write_text('{"version": "d-1", "series": [{"id": "opv", "name": "bOPV",'
                      ' "vaccines": ["bopv"], "doses": [{"dose": 1, "min_age": "6 wks",'
                      ' "recommended_age": "6 weeks", "overdue_after": "4 weeks"}]}]}')  # fmt: skip
    bad = run_cli("immunization-schedule", "check", broken)
    assert bad.returncode == 1
    assert "min_age" in bad.stderr and "'6 wks'" in bad.stderr
    missing = run_cli("immunization-schedule", "check", tmp_path / "nope.json")
    assert missing.returncode == 1 and "cannot be read" in missing.stderr
    shown = run_cli("immunization-schedule", "show", "--data-dir", tmp_path, "--json")
    assert json.loads(shown.stdout)["version"] == "who-table2-2023.1"
