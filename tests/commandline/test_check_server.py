"""`fieldchart check-server` for IT: its table and --json on both servers, exit codes, one
plain line for bad input, and `status --json` showing what enrolment found out."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

import sync.clinic_sync
from app.cli import main
from sync.fhir.client import FhirClient
from sync.server_check.atomicity import PROBE_FAMILY
from tests.commandline.test_cli_clinic import run_cli
from tests.peer.harness import PeerServer
from tests.realfhir.harness import RealFhirServer


def check(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["check-server", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def real_flags(real: RealFhirServer, secret_file: Path) -> list[str | Path]:
    if not (real.token_url and real.client_id and real.client_secret):
        pytest.skip("this real server has no client credentials")
    secret_file.write_text(real.client_secret + "\n")
    return [
        "--server",
        real.base_url,
        "--auth",
        "client-secret-post",
        "--client-id",
        real.client_id,
        "--token-url",
        real.token_url,
        "--client-secret-file",
        secret_file,
    ]


@pytest.mark.peer
def test_table_against_the_peer(fhir_peer: PeerServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(capsys, "--server", fhir_peer.base_url)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"server: {fhir_peer.base_url}/"
    assert lines[1].split() == ["CHECK", "STATUS", "RESULT", "WHAT", "FIELDCHART", "WILL", "DO"]
    rows = {line.split()[0]: line.split()[1] for line in lines[2:-1] if not line.startswith(" ")}
    assert rows["atomic_transactions"] == "OK"
    assert rows["create_strategy"] == "OK"
    assert rows["token"] == "WARN", "no authentication is worth a warning"
    assert "FieldChart will create with PUT and its own ids (every type)" in " ".join(out.split())
    assert lines[-1] == "FieldChart can sync with this server."


@pytest.mark.peer
def test_write_probe_json_against_the_peer(
    fhir_peer: PeerServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = check(capsys, "--server", fhir_peer.base_url, "--write-probe", "--json")
    report = json.loads(out)
    assert code == 0 and report["can_sync"] is True and report["blocking"] == []
    by_name = {c["check"]: c for c in report["checks"]}
    assert by_name["stale_if_match"]["result"] == "PUT with a stale If-Match -> 412 (refused)"
    assert by_name["probe_delete"]["status"] == "ok"
    assert report["atomic_transactions"] is True
    assert fhir_peer.base_url in report["server"]
    with FhirClient(fhir_peer.base_url) as client:
        assert client.search_page("Patient", {"family": PROBE_FAMILY}).get("entry") is None


def test_real_server_with_client_credentials(
    real_fhir_server: RealFhirServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    flags = real_flags(real_fhir_server, tmp_path / "secret")
    code, out, err = check(capsys, *flags, "--write-probe", "--json")
    assert (code, err) == (0, ""), err
    report = json.loads(out)
    by_name = {c["check"]: c for c in report["checks"]}
    assert report["create_strategy"]["Patient"] == "post"
    assert by_name["update_as_create"]["result"] == "PUT Patient/<new id> refused (404)"
    assert by_name["token"]["status"] == "ok"
    assert report["atomic_transactions"] is real_fhir_server.atomic_tx
    assert by_name["probe_delete"]["status"] == "ok"
    assert real_fhir_server.client_secret and real_fhir_server.client_secret not in out

    code, out, _ = check(capsys, *flags)  # the table, read-only
    assert code == 0
    assert "FieldChart will create with POST and server ids (every type)" in " ".join(out.split())


def test_refused_credentials_are_one_line(
    real_fhir_server: RealFhirServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    flags = real_flags(real_fhir_server, tmp_path / "secret")
    (tmp_path / "secret").write_text("not-the-secret\n")
    code, out, err = check(capsys, *flags)
    assert (code, out) == (1, "")
    assert len(err.splitlines()) == 1
    assert err.startswith("fieldchart: the server refused the credentials: ")
    assert "not-the-secret" not in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], fhir_peer: PeerServer) -> None:
    code, _, err = check(capsys, "--server", "fhir.example.org/R4")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "https://" in err

    code, _, err = check(capsys, "--server", f"http://127.0.0.1:{free_port()}/fhir")
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err.startswith("fieldchart: cannot reach the server: ")

    tls = fhir_peer.base_url.replace("http://", "https://")  # the peer speaks plain http
    code, _, err = check(capsys, "--server", tls)
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err.startswith("fieldchart: the TLS connection to the server failed: ")

    code, _, err = check(capsys)
    assert code == 2 and "give --server URL" in err


def test_a_server_fieldchart_cannot_use_exits_1_with_its_reasons(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def stu3(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"resourceType": "CapabilityStatement", "fhirVersion": "3.0.2"}
        )

    def client_for(settings: object) -> FhirClient:
        return FhirClient("https://old.example.org/fhir", transport=httpx.MockTransport(stu3))

    monkeypatch.setattr(sync.clinic_sync, "client_for", client_for)
    code, out, err = check(capsys, "--server", "https://old.example.org/fhir", "--json")
    assert code == 1
    assert json.loads(out)["can_sync"] is False
    assert err.splitlines() == [
        "cannot sync: fhir_version: the server speaks FHIR 3.0.2; FieldChart needs FHIR R4 (4.0.x)"
    ]


@pytest.mark.peer
def test_status_shows_what_enrolment_found(tmp_path: Path, fhir_peer: PeerServer) -> None:
    data = tmp_path / "vault"
    assert run_cli("init", "--data-dir", data, "--user", "admin", user="admin").returncode == 0
    before = json.loads(run_cli("status", "--data-dir", data, "--json", user="admin").stdout)
    assert before["server"] == {"atomic_transactions": None, "checked_at": None}
    server = ["--server", fhir_peer.base_url, "--pull-everything"]
    enrolled = run_cli("enroll", "--data-dir", data, *server, user="admin")
    assert enrolled.returncode == 0, enrolled.stderr
    after = json.loads(run_cli("status", "--data-dir", data, "--json", user="admin").stdout)
    assert after["server"]["atomic_transactions"] is True
    assert after["server"]["checked_at"] is not None

    # The device's own server and credentials, for a check after go-live.
    checked = run_cli("check-server", "--data-dir", data, "--json", user="admin")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["server"] == fhir_peer.base_url + "/"


def test_a_rate_limited_check_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"resourceType": "OperationOutcome", "issue": []})

    def client_for(settings: object) -> FhirClient:
        return FhirClient("https://busy.example.org/fhir", transport=httpx.MockTransport(busy))

    monkeypatch.setattr(sync.clinic_sync, "client_for", client_for)
    code, out, err = check(capsys, "--server", "https://busy.example.org/fhir")
    assert (code, out) == (1, "")
    assert err == (
        "fieldchart: the server is rate-limiting this client (HTTP 429/503); "
        "run the check again later\n"
    )
