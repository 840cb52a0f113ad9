"""`fieldchart report` as a separate process: each format for a month with a visit, the same
bytes on a second run, the unsynced-commands warning on stderr and in the file, an IT-edited
DHIS2 mapping file used (and a broken one refused with its place named, no traceback), a bad
month refused with the field named (docs/commands.md, docs/reports/indicators.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clock import suite_now
from tests.commandline.test_cli_clinic import exec_as, results, run_cli, vault_with_clinician

MONTH = suite_now().date().isoformat()[:7]


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = vault_with_clinician(tmp_path_factory.mktemp("report-cli") / "vault")
    done = exec_as(
        data_dir,
        "doc",
        {"type": "RegisterPatient", "patient_id": "pat-r1", "given": "Rehema", "family": "Kimaro",
         "birth_date": "1970-01-01", "sex": "female"},
        {"type": "StartEncounter", "patient_id": "pat-r1", "encounter_id": "enc-r1"},
        {"type": "RecordDiagnosis", "patient_id": "pat-r1", "code": "I10", "text": "Hypertension",
         "encounter_id": "enc-r1"},
    )  # fmt: skip
    assert all(r["ok"] for r in results(done)), done.stdout
    return data_dir


def test_csv_twice_gives_the_same_bytes_and_warns(vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "month.csv"
    first = run_cli("report", "--data-dir", vault, "--month", MONTH, "--out", out, user="doc")
    assert first.returncode == 0, first.stderr
    assert "not yet synced" in first.stderr and "Traceback" not in first.stderr
    again = run_cli("report", "--data-dir", vault, "--month", MONTH, user="doc")
    assert again.stdout.encode() == out.read_bytes()
    lines = out.read_text().splitlines()
    assert lines[0].startswith("# warning: ") and "not yet synced" in lines[0]
    assert f"{MONTH},visits,Visits,1,," in lines
    assert f"{MONTH},htn_under_care,Hypertension under care,1,," in lines
    assert "Rehema" not in out.read_text()  # counts only


def test_dhis2_uses_the_data_directory_mapping_and_refuses_a_broken_one(vault: Path) -> None:
    mapping = vault / "dhis2_mapping.json"
    mapping.write_text(
        json.dumps(
            {"orgUnit": "DiszpKrYNg8",
             "dataValues": [{"indicator": "visits", "dataElement": "abcdefghij1"}]}
        )
    )  # fmt: skip
    try:
        done = run_cli("report", "--data-dir", vault, "--month", MONTH, "--format", "dhis2",
                       user="doc")  # fmt: skip
        assert done.returncode == 0, done.stderr
        sent = json.loads(done.stdout)
        assert sent["orgUnit"] == "DiszpKrYNg8"
        assert [(v["dataElement"], v["value"]) for v in sent["dataValues"]] == [
            ("abcdefghij1", "1")
        ]
        mapping.write_text('{"dataValues": [{"indicator": "visitz", "dataElement": "x"}]}')
        broken = run_cli("report", "--data-dir", vault, "--month", MONTH, "--format", "dhis2",
                         user="doc")  # fmt: skip
        assert broken.returncode == 1 and broken.stdout == ""
        assert "Traceback" not in broken.stderr
        assert "dataValues[1].indicator: 'visitz' is not one of" in broken.stderr
        assert "dataValues[1].dataElement: 'x' is not a DHIS2 id" in broken.stderr
    finally:
        mapping.unlink()


def test_measurereport_and_a_bad_month(vault: Path) -> None:
    done = run_cli("report", "--data-dir", vault, "--month", MONTH, "--format", "measurereport",
                   user="doc")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["resourceType"], report["status"]) == ("MeasureReport", "pending")
    bad = run_cli("report", "--data-dir", vault, "--month", "2026-13", user="doc")
    assert bad.returncode == 1
    assert bad.stderr.strip() == "fieldchart: Month '2026-13' is not a month like 2026-11"
