"""`fieldchart sync` on a new scoped device prints one progress line per page received to
stderr — counts and time left, no patient data — and its --json output is unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.commandline.test_cli_clinic import run_cli
from tests.realfhir.plugin import FhirServer
from tests.sync.pull_fixtures import add_facility, tag

LINE = re.compile(
    r"Downloading records: (\d+) of (\d+)( — (less than a minute|about \d+ min) left)?"
)


def test_sync_prints_a_progress_line_per_page(fhir_server: FhirServer, tmp_path: Path) -> None:
    with fhir_server.client() as client:
        facility = add_facility(client, 3, f"C{tag()}")
    vault = tmp_path / "vault"
    assert run_cli("init", "--data-dir", vault, "--user", "admin", user="admin").returncode == 0
    enrolled = run_cli(
        "enroll",
        "--data-dir",
        vault,
        *fhir_server.enroll_args(tmp_path),
        "--organization",
        facility.organization,
        user="admin",
    )
    assert enrolled.returncode == 0, enrolled.stderr

    synced = run_cli("sync", "--data-dir", vault, "--json", user="admin")
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["pulled"] == 6  # stdout is the JSON report alone
    lines = synced.stderr.strip().splitlines()
    # The patients' page, then the diagnoses' page (the other kinds have none).
    found = [LINE.fullmatch(line) for line in lines]
    assert all(found), lines
    assert [(m[1], m[2]) for m in found if m] == [("3", "6"), ("6", "6")]
    assert "Pull" not in synced.stderr  # the patients' family name never shows
