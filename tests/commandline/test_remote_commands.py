"""`remote-find` and `remote-fetch` through the real CLI: another facility's patient is found on
the server (peer and real), brought onto this device and shown by `chart`; both audited. Bad
input, an admin and a device without a server get one plain line and change nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.commandline.test_cli_clinic import PASSPHRASES, run_cli
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import vault_pulled_up_to_now
from tests.sync.test_remote_patients import Elsewhere, organization, treated_elsewhere


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """A vault of an admin and a staff user, desk (who looks patients up)."""
    data = tmp_path / "vault"
    assert run_cli("init", "--data-dir", data, "--user", "admin", user="admin").returncode == 0
    desk = ("--user", "desk", "--role", "staff")
    new = {"FIELDCHART_NEW_PASSPHRASE": PASSPHRASES["desk"]}
    added = run_cli("user", "add", "--data-dir", data, *desk, user="admin", **new)
    assert added.returncode == 0, added.stderr
    return data


def one_line(result: object) -> str:
    stderr = getattr(result, "stderr", "")
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return str(lines[0])


def enrolled_with_a_patient_elsewhere(
    vault: Path, fhir_server: FhirServer, tmp_path: Path
) -> Elsewhere:
    """The vault enrolled with a facility of its own on the server, up to date with it, and a
    patient another facility's device registered there (not in this vault's scope)."""
    with fhir_server.client() as client:
        home = organization(client, f"Mlandizi Dispensary {uuid.uuid4().hex[:8]}")
    enrolled = run_cli(
        "enroll",
        "--data-dir",
        vault,
        *fhir_server.enroll_args(tmp_path),
        "--organization",
        f"Organization/{home}",
        user="admin",
    )
    assert enrolled.returncode == 0, enrolled.stderr
    if not fhir_server.isolated:
        vault_pulled_up_to_now(vault, "admin", PASSPHRASES["admin"], fhir_server.base_url)
    them = treated_elsewhere(fhir_server, tmp_path)
    return them


def test_find_and_fetch_another_facilitys_patient(
    vault: Path, fhir_server: FhirServer, tmp_path: Path
) -> None:
    them = enrolled_with_a_patient_elsewhere(vault, fhir_server, tmp_path)

    logs = tmp_path / "logs"
    found = run_cli(
        "remote-find",
        "--data-dir",
        vault,
        "--name",
        f"Zawadi {them.family}",
        "--birth-date",
        them.birth_date,
        "--json",
        user="desk",
        FIELDCHART_LOG_DIR=str(logs),
    )
    assert found.returncode == 0, found.stderr
    answer = json.loads(found.stdout)
    [patient] = answer["patients"]
    assert (patient["server_id"], patient["family"], patient["organization"]) == (
        them.server_id,
        them.family,
        them.organization_name,
    )
    assert (answer["more"], patient["local_id"]) == (False, None)
    text = run_cli("remote-find", "--data-dir", vault, "--identifier", them.identifier, user="desk")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[-1] == "1 patient found."
    assert them.server_id in text.stdout and them.organization_name in text.stdout

    fetched = run_cli(
        "remote-fetch",
        them.server_id,
        *("--data-dir", vault, "--json"),
        user="desk",
        FIELDCHART_LOG_DIR=str(logs),
    )
    assert fetched.returncode == 0, fetched.stderr
    brought = json.loads(fetched.stdout)
    assert brought["server_id"] == them.server_id and brought["received"] >= 3
    assert brought["visiting"] is True  # of another organization than this device's

    logged = "".join(f.read_text(errors="replace") for f in logs.rglob("*") if f.is_file())
    assert "remote-fetch: exit code 0" in logged  # the log was written, without the patient:
    assert them.family not in logged and them.identifier not in logged
    assert them.family.encode() not in b"".join(f.read_bytes() for f in vault.rglob("*"))

    chart = run_cli("chart", brought["patient_id"], "--data-dir", vault, "--json", user="desk")
    assert chart.returncode == 0, chart.stderr
    view = json.loads(chart.stdout)
    assert view["patient"]["family"] == them.family
    assert [p["data"]["text"] for p in view["problems"]] == ["Malaria, uncomplicated"]

    audit = json.loads(run_cli("audit", "--data-dir", vault, "--json", user="desk").stdout)
    actions = [(e["action"], e["user"]) for e in audit if e["action"].startswith("Remote")]
    assert actions == [
        ("RemotePatientFetched", "desk"),
        ("RemotePatientSearched", "desk"),
        ("RemotePatientSearched", "desk"),
    ]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ([], "Enter a name, an identifier or a birth date to search"),
        (
            ["--name", "Zawadi", "--birth-date", "1971/05/06"],
            "Write the birth date as YYYY-MM-DD, e.g. 1984-03-02",
        ),
        (
            ["--birth-date", "1971-05-06"],
            "A birth date alone matches too many people: add a name or an identifier",
        ),
    ],
)
def test_bad_search_input_is_one_plain_line(vault: Path, options: list[str], says: str) -> None:
    # The input is checked before anything else: even on a device without a server.
    refused = run_cli("remote-find", "--data-dir", vault, *options, user="desk")
    assert refused.returncode == 1
    assert one_line(refused) == f"fieldchart: {says}"  # the whole line, nothing more
    audit = json.loads(run_cli("audit", "--data-dir", vault, "--json", user="desk").stdout)
    assert [e for e in audit if e["action"].startswith("Remote")] == []


def test_without_a_server_or_as_admin_it_says_so(vault: Path) -> None:
    unenrolled = run_cli("remote-find", "--data-dir", vault, "--name", "Zawadi", user="desk")
    assert unenrolled.returncode == 1
    assert "not enrolled with a central server" in one_line(unenrolled)
    admin = run_cli("remote-fetch", "abc-123", "--data-dir", vault, user="admin")
    assert admin.returncode == 1
    assert "admin role may not look patients up" in one_line(admin)
    bad_id = run_cli("remote-fetch", "../etc", "--data-dir", vault, "--json", user="desk")
    assert bad_id.returncode == 1 and "server patient id" in one_line(bad_id)
