"""`enroll` names the facility the device serves (issue 14), through the real CLI on both
servers: the scope from flags or the clinic configuration file, checked against the server
before anything is saved (an Organization it does not have, a scope it cannot honour, no scope
at all are each one plain line and enrol nothing), and `status --json` showing scope and
strategy, also for a device enrolled before scopes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import sync.clinic_sync
from app.cli import main
from app.services.clinic import open_clinic
from app.store.vault import Vault
from sync.create_strategy import JOURNAL_KEY as CREATE_WITH_PUT
from sync.fhir.client import FhirClient
from sync.scope_cache import STRATEGY_KEY
from tests.commandline.test_cli_clinic import PASSPHRASES, run_cli
from tests.peer.harness import PeerServer
from tests.realfhir.plugin import FhirServer


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    data = tmp_path / "vault"
    assert run_cli("init", "--data-dir", data, "--user", "admin", user="admin").returncode == 0
    return data


def make(server: FhirServer, resource_type: str, name: str) -> str:
    """A new resource of `resource_type` on the server; its server id."""
    with server.client() as client:
        created = client.create(resource_type, new_resource(resource_type, name))
    return str(created.resource["id"])


def new_resource(resource_type: str, name: str) -> dict[str, Any]:
    if resource_type == "Group":
        return {"resourceType": "Group", "type": "person", "actual": True, "name": name}
    return {"resourceType": resource_type, "name": name}


def status_of(vault: Path) -> dict[str, Any]:
    shown = run_cli("status", "--data-dir", vault, "--json", user="admin")
    assert shown.returncode == 0, shown.stderr
    status: dict[str, Any] = json.loads(shown.stdout)
    return status


def enroll(vault: Path, server: FhirServer, tmp_path: Path, *flags: str | Path) -> Any:
    return run_cli(
        "enroll", "--data-dir", vault, *server.enroll_args(tmp_path), *flags, user="admin"
    )


def test_enrol_with_an_organization_and_locations(
    vault: Path, fhir_server: FhirServer, tmp_path: Path
) -> None:
    org = make(fhir_server, "Organization", "Kisesa Health Centre")
    opd = make(fhir_server, "Location", "Kisesa OPD")
    mch = make(fhir_server, "Location", "Kisesa MCH")
    enrolled = enroll(
        vault,
        fhir_server,
        tmp_path,
        "--organization",
        org,  # a bare id: stored in the typed form the real server needs
        "--location",
        f"Location/{opd}",
        "--location",
        mch,
        "--json",
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout)["scope"]["strategy"]["name"] == "chained"

    scope = status_of(vault)["scope"]
    assert scope["configured"] is True
    assert scope["organization"] == f"Organization/{org}"
    assert scope["locations"] == [f"Location/{opd}", f"Location/{mch}"]
    assert (scope["group"], scope["pull_everything"]) == (None, False)
    assert scope["strategy"]["name"] == "chained"
    assert f"Organization/{org}" in scope["summary"]


def test_enrol_with_a_group_from_the_configuration_file(
    vault: Path, fhir_server: FhirServer, tmp_path: Path
) -> None:
    group = make(fhir_server, "Group", "Kisesa HIV clinic")
    config = tmp_path / "clinic.json"
    config.write_text(json.dumps({"scope_group": f"Group/{group}"}))
    enrolled = enroll(vault, fhir_server, tmp_path, "--config", config)
    assert enrolled.returncode == 0, enrolled.stderr
    scope = status_of(vault)["scope"]
    assert scope["group"] == f"Group/{group}"
    # The real server answers _has (Medplum); the peer's router does not: patient lists.
    expected = "group-has" if fhir_server.name == "real" else "patient-list"
    assert scope["strategy"]["name"] == expected
    assert f"scope: Group/{group}" in enrolled.stdout


def test_an_organization_the_server_does_not_have_enrols_nothing(
    vault: Path, fhir_server: FhirServer, tmp_path: Path
) -> None:
    missing = f"no-such-org-{uuid.uuid4().hex[:12]}"
    refused = enroll(vault, fhir_server, tmp_path, "--organization", missing)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"fieldchart: the server has no Organization {missing} — check the id with IT"
    ]
    org = make(fhir_server, "Organization", "Kisesa Health Centre")
    refused = enroll(
        vault, fhir_server, tmp_path, "--organization", org, "--location", "Location/gone-1"
    )
    assert refused.stderr.splitlines() == [
        "fieldchart: the server has no Location gone-1 — check the id with IT"
    ]
    status = status_of(vault)
    assert status["configured"] is False and status["scope"]["strategy"] is None
    assert status["server"]["checked_at"] is None, "nothing of the server recorded either"


@pytest.mark.peer
def test_no_scope_or_a_bad_one_is_one_plain_line(
    vault: Path, fhir_peer: PeerServer, tmp_path: Path
) -> None:
    server = ["--server", fhir_peer.base_url]
    none = run_cli("enroll", "--data-dir", vault, *server, user="admin")
    assert none.returncode == 2
    (line,) = none.stderr.splitlines()
    assert line.startswith("fieldchart: name the facility this device serves: --organization")
    assert "--pull-everything" in line

    both = run_cli(
        "enroll", "--data-dir", vault, *server, "--organization", "a", "--group", "b", user="admin"
    )
    assert both.returncode == 1
    assert both.stderr.splitlines() == [
        "fieldchart: Name the facility by its Organization or by a Group of patients, not both"
    ]
    wrong_type = run_cli(
        "enroll", "--data-dir", vault, *server, "--organization", "Location/x", user="admin"
    )
    assert "Give an Organization reference (Organization/<id>)" in wrong_type.stderr

    config = tmp_path / "clinic.json"
    config.write_text(json.dumps({"scope_locations": "Location/opd"}))
    bad_file = run_cli("enroll", "--data-dir", vault, "--config", config, *server, user="admin")
    assert bad_file.returncode == 2
    assert 'scope_locations must be a list of references ("Location/<id>")' in bad_file.stderr
    assert status_of(vault)["configured"] is False


class WithoutOrganizationSearch(httpx.BaseTransport):
    """The peer, but its CapabilityStatement lists the Patient search parameters and
    organization is not among them: a server FieldChart knows no scoped query for (by
    Organization)."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if not request.url.path.endswith("/metadata"):
            return response
        statement = json.loads(response.read())
        for rest in statement["rest"]:
            for resource in rest.get("resource", []):
                if resource["type"] == "Patient":
                    resource["searchParam"] = [
                        {"name": "identifier", "type": "token"},
                        {"name": "family", "type": "string"},
                    ]
            rest["searchParam"] = [
                p for p in rest.get("searchParam", []) if p["name"] != "organization"
            ]
        return httpx.Response(200, json=statement)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def no_organization_search(
    fhir_peer: PeerServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PeerServer]:
    def client_for(settings: object) -> FhirClient:
        return FhirClient(fhir_peer.base_url, transport=WithoutOrganizationSearch())

    monkeypatch.setattr(sync.clinic_sync, "client_for", client_for)
    monkeypatch.setenv("FIELDCHART_USER", "admin")
    monkeypatch.setenv("FIELDCHART_PASSPHRASE", PASSPHRASES["admin"])
    yield fhir_peer


@pytest.mark.peer
def test_a_scope_the_server_cannot_honour_needs_pull_everything(
    vault: Path,
    no_organization_search: PeerServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    peer = FhirServer("peer", no_organization_search.base_url, True, lambda: None, lambda: {}, None)
    org = make(peer, "Organization", "Kisesa Health Centre")
    flags = ["--data-dir", str(vault), "--server", peer.base_url, "--organization", org]
    assert main(["enroll", *flags]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "fieldchart: the server cannot pull only this facility's patients: the server cannot "
        "search Patients by organization"
    ), err
    assert "Choose --pull-everything only if every patient on the server" in err
    assert len(err.splitlines()) == 1

    assert main(["enroll", *flags, "--pull-everything", "--json"]) == 0
    enrolled = json.loads(capsys.readouterr().out)
    assert enrolled["scope"]["strategy"]["name"] == "everything"
    assert enrolled["scope"]["pull_everything"] is True
    assert enrolled["scope"]["organization"] == f"Organization/{org}"  # still on new patients


@pytest.mark.peer
def test_a_device_enrolled_before_scopes_is_reported_as_having_none(
    vault: Path, fhir_peer: PeerServer
) -> None:
    """An old enrolment: a server in the settings, no scope, no strategy recorded."""
    opened = Vault.open(vault)
    opened.unlock("admin", PASSPHRASES["admin"])
    clinic = open_clinic(opened)
    try:
        clinic.settings.update(clinic.actor, server_url=fhir_peer.base_url)
        assert clinic.sync_gateway.journal(STRATEGY_KEY) is None
    finally:
        clinic.close()
    status = status_of(vault)
    assert status["scope"]["configured"] is False
    assert status["scope"]["strategy"]["name"] == "everything"
    assert status["scope"]["summary"] == (
        "no scope (enrolled before scopes): pulls every patient on the server"
    )
    shown = run_cli("status", "--data-dir", vault, user="admin")
    assert "scope: no scope (enrolled before scopes)" in shown.stdout

    checked = run_cli("check-server", "--data-dir", vault, "--json", user="admin")
    assert checked.returncode == 0, checked.stderr
    scope_line = {c["check"]: c for c in json.loads(checked.stdout)["checks"]}["scope"]
    assert scope_line["status"] == "info"
    assert scope_line["result"].startswith("no scope (enrolled before scopes)")


def test_enrolment_records_how_each_type_is_created_so_the_first_push_reads_no_statement(
    vault: Path, fhir_server: FhirServer, tmp_path: Path
) -> None:
    """The CapabilityStatement enroll reads anyway says which types take our ids (the peer:
    update-as-create; the real server assigns ids): kept, so the first push asks nothing."""
    org = make(fhir_server, "Organization", "Kisesa Health Centre")
    enrolled = enroll(vault, fhir_server, tmp_path, "--organization", org)
    assert enrolled.returncode == 0, enrolled.stderr
    opened = Vault.open(vault)
    opened.unlock("admin", PASSPHRASES["admin"])
    clinic = open_clinic(opened)
    try:
        with_put = clinic.sync_gateway.journal(CREATE_WITH_PUT)
    finally:
        clinic.close()
    with fhir_server.client() as client:
        declared = client.capabilities().resources
    assert with_put == sorted(t for t, r in declared.items() if r.update_create)
    assert ("Patient" in with_put) is (fhir_server.name == "peer")


@pytest.mark.peer
def test_it_sets_how_long_a_visit_from_elsewhere_lasts(
    vault: Path, fhir_peer: PeerServer, tmp_path: Path
) -> None:
    server = ["--server", fhir_peer.base_url, "--pull-everything"]
    refused = run_cli("enroll", "--data-dir", vault, *server, "--visit-days", "0", user="admin")
    assert refused.returncode != 0
    assert "1–365 days" in refused.stderr
    assert status_of(vault)["configured"] is False  # nothing saved

    config = tmp_path / "clinic.json"
    config.write_text(json.dumps({"visit_days": "a month"}))
    wrong = run_cli("enroll", "--data-dir", vault, *server, "--config", config, user="admin")
    assert wrong.returncode == 2 and "visit_days must be a whole number of days" in wrong.stderr

    enrolled = run_cli("enroll", "--data-dir", vault, *server, "--visit-days", "7", user="admin")
    assert enrolled.returncode == 0, enrolled.stderr
    assert status_of(vault)["settings"]["visit_days"] == 7
