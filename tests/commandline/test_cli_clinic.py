"""The clinical side of the real `fieldchart` CLI, run as separate processes the way a script or
IT would: `exec` JSON lines in, one JSON result per line out; role refusals; the reading
commands; `rebuild`. No traceback ever reaches stderr.

One vault per module, made by `fieldchart init` (default Argon2id cost), with a clinician
`doc`, a staff member `desk` and the admin.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.clock import cli_environment, next_cli_instant, suite_now

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSPHRASES = {
    "admin": "admin passphrase for clinic cli",
    "doc": "doc passphrase for clinic cli",
    "desk": "desk passphrase for clinic cli",
}


def run_cli(
    *args: str | Path, user: str | None = None, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `python -m app.cli ARGS` as `user` (passphrase and user from the environment)."""
    clean = cli_environment()
    if user is not None:
        clean |= {"FIELDCHART_USER": user, "FIELDCHART_PASSPHRASE": PASSPHRASES[user]}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        cwd=REPO_ROOT,
        env={**clean, **env},
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def lines_of(*commands: dict[str, Any] | str) -> str:
    return "\n".join(
        c if isinstance(c, str) else json.dumps(c, ensure_ascii=False) for c in commands
    )


def exec_as(
    data_dir: Path, user: str, *commands: dict[str, Any] | str
) -> subprocess.CompletedProcess[str]:
    """`fieldchart exec` as `user`, the commands on its stdin one a line."""
    return run_cli("exec", "--data-dir", data_dir, user=user, stdin=lines_of(*commands))


def vault_with_clinician(data_dir: Path) -> Path:
    """A new vault at `data_dir` (admin "admin") with the clinician "doc"."""
    assert run_cli("init", "--data-dir", data_dir, "--user", "admin", user="admin").returncode == 0
    added = run_cli(
        "user", "add", "--data-dir", data_dir, "--as", "admin", "--user", "doc",
        "--role", "clinician", user="admin", FIELDCHART_NEW_PASSPHRASE=PASSPHRASES["doc"],
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return data_dir


def results(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def one_plain_line(result: subprocess.CompletedProcess[str]) -> str:
    (line,) = result.stderr.splitlines()
    assert line.startswith("fieldchart: ")
    return line.removeprefix("fieldchart: ")


TOMORROW = (suite_now() + timedelta(days=1)).date()
REGISTER_ODEGARD = {
    "type": "RegisterPatient",
    "command_id": "cli-reg-1",
    "patient_id": "pat-odegard",
    "given": "Kari",
    "family": "Ødegård",
    "birth_date": "1980-04-23",
    "sex": "female",
    "identifiers": [{"system": "urn:fieldchart:mrn", "value": "MRN-0001"}],
}
FIRST_BATCH: list[dict[str, Any] | str] = [
    REGISTER_ODEGARD,
    {
        "type": "RegisterPatient",
        "patient_id": "pat-jose",
        "given": "José",
        "family": "García",
        "birth_date": "1975-02-14",
        "sex": "male",
    },
    {
        "type": "RecordVitals",
        "patient_id": "pat-odegard",
        "vitals_id": "vit-1",
        "systolic": 150,
        "diastolic": 95,
        "weight": 70,
        "height": 175,
    },
    {"type": "RecordDiagnosis", "patient_id": "pat-odegard", "diagnosis_id": "dx-1", "code": "I10"},
    {"type": "RecordVitals", "patient_id": "pat-odegard", "systolic": 400, "diastolic": 80},
    "this is not json",
    {"type": "RecordVitals", "patient_id": "pat-odegard", "pulse": 70},
    REGISTER_ODEGARD,  # a retried line: recorded once
]


@dataclass
class Session:
    data_dir: Path
    first: subprocess.CompletedProcess[str]
    between: datetime  # after the first batch, before the second
    second: subprocess.CompletedProcess[str]
    desk: subprocess.CompletedProcess[str]
    admin: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    data_dir = tmp_path_factory.mktemp("clinic-cli") / "vault"
    init = run_cli("init", "--data-dir", data_dir, "--user", "admin", user="admin")
    assert init.returncode == 0, init.stderr
    for name, role in (("doc", "clinician"), ("desk", "staff")):
        added = run_cli(
            "user",
            "add",
            "--data-dir",
            data_dir,
            "--as",
            "admin",
            "--user",
            name,
            "--role",
            role,
            user="admin",
            FIELDCHART_NEW_PASSPHRASE=PASSPHRASES[name],
        )
        assert added.returncode == 0, added.stderr
    first = exec_as(data_dir, "doc", *FIRST_BATCH)
    between = next_cli_instant()  # a moment no process runs in
    second = exec_as(
        data_dir,
        "doc",
        {
            "type": "RecordAllergy",
            "patient_id": "pat-odegard",
            "allergy_id": "al-1",
            "substance": "Penicillins",
        },
        {
            "type": "AddNote",
            "patient_id": "pat-odegard",
            "note_id": "note-1",
            "text": "Seen with her daughter.",
        },
    )
    desk = exec_as(
        data_dir,
        "desk",
        {
            "type": "ScheduleFollowUp",
            "patient_id": "pat-odegard",
            "appointment_id": "appt-1",
            "clinician": "doc",
            "start": f"{TOMORROW.isoformat()}T09:00:00+00:00",
        },
        {"type": "RecordVitals", "patient_id": "pat-odegard", "heart_rate": 70},
    )
    admin = exec_as(
        data_dir,
        "admin",
        {"type": "AddNote", "patient_id": "pat-odegard", "text": "x"},
        {
            "type": "RegisterPatient",
            "given": "A",
            "family": "B",
            "birth_date": "1990-01-01",
            "sex": "male",
        },
    )
    return Session(data_dir, first, between, second, desk, admin)


def test_exec_prints_one_result_per_line_and_exits_1_if_any_was_refused(session: Session) -> None:
    assert session.first.returncode == 1
    out = results(session.first)
    assert len(out) == len(FIRST_BATCH)
    registered, jose, vitals, diagnosis, implausible, not_json, unknown_field, retried = out
    assert registered["ok"] is True
    assert (registered["command_id"], registered["patient_id"]) == ("cli-reg-1", "pat-odegard")
    assert registered["events"] == ["PatientRegistered"]
    assert jose["ok"] and jose["command_id"]  # generated when not given
    assert vitals["ok"] and vitals["item_ids"] == ["vit-1"]
    assert diagnosis["ok"] and diagnosis["events"] == ["DiagnosisRecorded"]
    assert implausible == {
        "ok": False,
        "error": "Systolic BP of 400 mmHg is outside the plausible range 40–300 mmHg",
        "field": "systolic",
        "kind": "ValidationError",
    }
    assert not_json == {
        "ok": False,
        "error": "line 6 is not valid JSON",
        "field": None,
        "kind": "ValidationError",
    }
    assert unknown_field["ok"] is False
    assert (unknown_field["error"], unknown_field["field"]) == (
        "RecordVitals has no field 'pulse'",
        "pulse",
    )
    assert retried["ok"] is True and retried["duplicate"] is True
    assert retried["command_id"] == "cli-reg-1"
    assert session.first.stderr == ""


def test_exec_exits_0_when_everything_was_accepted(session: Session) -> None:
    assert session.second.returncode == 0, session.second.stdout
    assert [r["ok"] for r in results(session.second)] == [True, True]


def test_staff_may_book_but_not_record_vitals(session: Session) -> None:
    assert session.desk.returncode == 1
    booked, vitals = results(session.desk)
    assert booked["ok"] is True
    assert vitals == {
        "ok": False,
        "error": "A user with the staff role may not record vitals; this needs a clinician",
        "field": None,
        "kind": "RoleError",
    }


def test_an_admin_records_no_clinical_data(session: Session) -> None:
    assert session.admin.returncode == 1
    note, registration = results(session.admin)
    assert note["error"] == "A user with the admin role may not write notes; this needs a clinician"
    assert registration["error"] == (
        "A user with the admin role may not register patients; this needs a clinician or staff"
    )
    assert {note["kind"], registration["kind"]} == {"RoleError"}


def test_an_admin_does_not_open_charts(session: Session) -> None:
    refused = run_cli(
        "chart", "pat-odegard", "--data-dir", session.data_dir, "--json", user="admin"
    )
    assert refused.returncode == 1
    assert (
        one_plain_line(refused) == "Admins manage users, devices and sync; they do not open charts"
    )
    assert refused.stdout == ""


def test_patients_search_is_accent_and_case_insensitive(session: Session) -> None:
    found = run_cli(
        "patients", "--data-dir", session.data_dir, "--search", "odeg", "--json", user="desk"
    )
    assert found.returncode == 0, found.stderr
    (patient,) = json.loads(found.stdout)
    assert (patient["patient_id"], patient["family"]) == ("pat-odegard", "Ødegård")
    assert patient["identifiers"] == [{"system": "urn:fieldchart:mrn", "value": "MRN-0001"}]


def test_chart_json_now_and_as_of_before_the_second_batch(session: Session) -> None:
    now = run_cli("chart", "pat-odegard", "--data-dir", session.data_dir, "--json", user="doc")
    assert now.returncode == 0, now.stderr
    chart = json.loads(now.stdout)
    assert chart["allergy_banner"] == ["Penicillins"]
    assert [p["item_id"] for p in chart["problems"]] == ["dx-1"]
    assert chart["last_vitals"]["data"]["bmi"] == 22.9
    assert [n["item_id"] for n in chart["notes"]] == ["note-1"]
    assert chart["as_of"] is None
    assert {t["user"] for t in chart["timeline"]} == {"doc", "desk"}

    then = run_cli(
        "chart",
        "pat-odegard",
        "--data-dir",
        session.data_dir,
        "--as-of",
        session.between.isoformat(),
        "--json",
        user="doc",
    )
    assert then.returncode == 0, then.stderr
    past = json.loads(then.stdout)
    assert past["as_of"] == session.between.isoformat()
    assert past["allergy_banner"] == [] and past["notes"] == [] and past["appointments"] == []
    assert [p["item_id"] for p in past["problems"]] == ["dx-1"]


def test_chart_refusals_are_plain(session: Session) -> None:
    bad_time = run_cli(
        "chart", "pat-odegard", "--data-dir", session.data_dir, "--as-of", "yesterday"
    )
    assert bad_time.returncode == 2
    assert one_plain_line(bad_time) == "--as-of 'yesterday' is not an ISO 8601 date and time"
    unknown = run_cli("chart", "nobody", "--data-dir", session.data_dir, "--json", user="doc")
    assert unknown.returncode == 1
    assert one_plain_line(unknown) == "No patient with this id on this device"


def test_schedule_of_a_day(session: Session) -> None:
    day = run_cli(
        "schedule",
        "--data-dir",
        session.data_dir,
        "--day",
        TOMORROW.isoformat(),
        "--json",
        user="desk",
    )
    assert day.returncode == 0, day.stderr
    data = json.loads(day.stdout)
    assert data["day"] == TOMORROW.isoformat()
    (appointment,) = data["appointments"]
    assert (appointment["appointment_id"], appointment["patient_name"], appointment["status"]) == (
        "appt-1",
        "Ødegård, Kari",
        "booked",
    )
    assert data["overdue"] == []


def test_audit_shows_commands_and_chart_views(session: Session) -> None:
    audit = run_cli("audit", "--data-dir", session.data_dir, "--json", user="doc")
    assert audit.returncode == 0, audit.stderr
    entries = json.loads(audit.stdout)
    actions = {(e["user"], e["action"]) for e in entries}
    assert ("doc", "PatientRegistered") in actions
    assert ("desk", "AppointmentScheduled") in actions
    assert ("doc", "ChartViewed") in actions
    # Clinical entries name a patient; the admin's (users added) do not.
    assert all(e["patient_id"] for e in entries if e["role"] != "admin")
    assert {e["action"] for e in entries if e["role"] == "admin"} == {"UserAdded"}
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)


def test_rebuild_prints_the_same_digest_every_time(session: Session) -> None:
    digests = []
    for _ in range(2):
        rebuilt = run_cli("rebuild", "--data-dir", session.data_dir, user="doc")
        assert rebuilt.returncode == 0, rebuilt.stderr
        first, second = rebuilt.stdout.splitlines()
        assert first.startswith("rebuilt read models from ") and first.endswith(" s")
        assert second.startswith("digest ") and len(second) == len("digest ") + 64
        digests.append(second)
    assert digests[0] == digests[1]


def test_wrong_passphrase_is_exit_2_without_running_anything(session: Session) -> None:
    refused = run_cli(
        "exec",
        "--data-dir",
        session.data_dir,
        stdin=lines_of({"type": "AddNote", "patient_id": "pat-odegard", "text": "x"}),
        FIELDCHART_USER="doc",
        FIELDCHART_PASSPHRASE="not the passphrase",
    )
    assert refused.returncode == 2
    assert one_plain_line(refused) == "wrong passphrase for user 'doc'"
    assert refused.stdout == ""


def test_a_lone_surrogate_in_an_id_is_refused_and_the_batch_goes_on(session: Session) -> None:
    # Found by the reliability suite: an id is not "text" to the domain rules, and SQLite could
    # not encode it, which ended the whole batch.
    bad = '{"type": "AddNote", "patient_id": "pat-odegard\\udfff", "text": "checked"}'
    good = {"type": "AddNote", "patient_id": "pat-odegard", "text": "checked again"}
    done = exec_as(session.data_dir, "doc", bad, good)
    refused, accepted = results(done)
    assert refused == {
        "ok": False,
        "error": "patient_id contains characters that are not valid text",
        "field": "patient_id",
        "kind": "ValidationError",
    }
    assert accepted["ok"] is True
    assert done.returncode == 1 and done.stderr == ""


@pytest.mark.parametrize(
    ("zone", "day"), [("Pacific/Kiritimati", "2026-12-03"), ("Pacific/Pago_Pago", "2026-12-02")]
)
def test_schedule_without_a_day_lists_the_devices_today_across_the_date_line(
    session: Session, zone: str, day: str
) -> None:
    # 11:30 UTC is 01:30 on the 3rd east of the date line and 00:30 on the 2nd west of it.
    listed = run_cli(
        "schedule",
        "--data-dir",
        session.data_dir,
        "--json",
        user="desk",
        TZ=zone,
        FIELDCHART_NOW="2026-12-02T11:30:00Z",
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["day"] == day


def test_a_bad_fieldchart_now_is_one_plain_line(session: Session) -> None:
    listed = run_cli(
        "schedule", "--data-dir", session.data_dir, user="desk", FIELDCHART_NOW="half past nine"
    )
    assert listed.returncode == 1
    assert one_plain_line(listed).startswith("FIELDCHART_NOW must be an ISO 8601 instant")
