"""`status` says who the last retention run removed from the device and who it kept, and why
(issue 14), through the real CLI on both servers: a patient the district moved to another
facility leaves at the next daily membership check of a `sync`; ids and reasons only."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sync.retention import TRANSFERRED
from tests.commandline.test_cli_clinic import exec_as, results, run_cli
from tests.commandline.test_cli_sync import vault
from tests.commandline.test_enroll_scope import enroll, make, status_of
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import server_time

__all__ = ["vault"]  # the fixture

PATIENT = {
    "type": "RegisterPatient",
    "given": "Neema",
    "family": "Mwakalinga",
    "birth_date": "1990-03-04",
    "sex": "female",
}


def sync_at(vault: Path, now: str) -> dict[str, Any]:
    synced = run_cli("sync", "--data-dir", vault, "--json", user="admin", FIELDCHART_NOW=now)
    assert synced.returncode == 0, synced.stderr
    report: dict[str, Any] = json.loads(synced.stdout)
    return report


def test_status_shows_who_left_the_device_and_why(
    vault: Path, fhir_server: FhirServer, tmp_path: Path
) -> None:
    here = make(fhir_server, "Organization", "Here Health Centre")
    there = make(fhir_server, "Organization", "There Hospital")
    enrolled = enroll(vault, fhir_server, tmp_path, "--organization", f"Organization/{here}")
    assert enrolled.returncode == 0, enrolled.stderr
    # Two patients: a facility with none left on the server reads as a server problem.
    stays = {**PATIENT, "given": "Baraka", "family": "Mollel"}
    registered, _ = results(exec_as(vault, "doc", PATIENT, stays))
    patient_id = registered["patient_id"]
    now = server_time(fhir_server.base_url)
    sync_at(vault, now.isoformat())  # pushed with this facility; the first membership check

    with fhir_server.client() as client:  # the district transfers the patient
        [found] = [
            entry["resource"]
            for entry in client.search_page(
                "Patient", {"organization": f"Organization/{here}", "family": PATIENT["family"]}
            ).get("entry", [])
        ]
        moved = {**found, "managingOrganization": {"reference": f"Organization/{there}"}}
        client.put("Patient", found["id"], moved, found["meta"]["versionId"])
    sync_at(vault, (now + timedelta(days=2)).isoformat())  # the next daily check

    retention = status_of(vault)["retention"]
    assert [(e["patient_id"], e["reason"]) for e in retention["removed"]] == [
        (patient_id, TRANSFERRED)
    ]
    shown = run_cli("status", "--data-dir", vault, user="admin")
    assert f"removed {patient_id}: {TRANSFERRED}" in shown.stdout
    assert PATIENT["family"] not in shown.stdout + json.dumps(retention)
    assert run_cli("verify", "--data-dir", vault, user="admin").returncode == 0
