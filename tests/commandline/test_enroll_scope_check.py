"""check-server and the sync scope (issue 14) on both servers: which scoped strategies the
server supports, what a proposed scope would use (or why it cannot be used), and whether the
chained search filters — a server that ignored the parameter would hand a scoped device every
facility's records, so check-server says it cannot sync that scope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import sync.clinic_sync
from app.cli import main
from sync.fhir.client import FhirClient
from tests.peer.harness import PeerServer
from tests.realfhir.plugin import FhirServer


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["check-server", *args, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out), err


def lines(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["check"]: c for c in report["checks"]}


def seed(server: FhirServer) -> str:
    """An Organization, and an observation somewhere on the server (the probe needs one)."""
    with server.client() as client:
        org = client.create("Organization", {"resourceType": "Organization", "name": "Kisesa"})
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "check-server scope probe"},
        }
        client.create("Observation", observation)
    return str(org.resource["id"])


def test_the_scope_lines_for_an_organization(
    fhir_server: FhirServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = seed(fhir_server)
    server = fhir_server.enroll_args(tmp_path)
    code, report, err = check(capsys, *server, "--organization", org)
    assert (code, err) == (0, ""), err
    expected_group = "group-has" if fhir_server.name == "real" else "patient-list"
    assert report["scope_strategies"] == {"Organization": "chained", "Group": expected_group}
    assert report["scope_strategy"] == "chained"
    by_name = lines(report)
    assert by_name["scope_strategies"]["status"] == "ok"
    assert by_name["scope"]["status"] == "ok"
    assert by_name["scope"]["result"] == f"Organization/{org}: chained"
    assert by_name["chained_search"]["status"] == "ok", by_name["chained_search"]

    code, report, err = check(capsys, *server, "--organization", "not-here-7")
    assert code == 1
    assert lines(report)["scope"]["result"] == (
        "Organization/not-here-7: the server has no Organization not-here-7 — check the id with IT"
    )
    assert err.splitlines() == [f"cannot sync: scope: {lines(report)['scope']['result']}"]

    code, report, _ = check(capsys, *server)  # no scope asked: no device line
    assert code == 0 and "scope" not in lines(report)


class IgnoresChaining(httpx.BaseTransport):
    """The peer behind a front that drops chained parameters it does not know, as a lenient
    server may: the search answers as if unfiltered."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        params = [(k, v) for k, v in request.url.params.multi_items() if "." not in k]
        request.url = request.url.copy_with(params=params)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.peer
def test_a_server_that_ignores_the_chained_search_cannot_sync_an_organization_scope(
    fhir_peer: PeerServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    peer = FhirServer("peer", fhir_peer.base_url, True, lambda: None, lambda: {}, None)
    org = seed(peer)

    def client_for(settings: object) -> FhirClient:
        return FhirClient(fhir_peer.base_url, transport=IgnoresChaining())

    monkeypatch.setattr(sync.clinic_sync, "client_for", client_for)
    code, report, err = check(capsys, "--server", fhir_peer.base_url, "--organization", org)
    assert code == 1
    chained = lines(report)["chained_search"]
    assert chained["status"] == "fail"
    assert "the server ignores the chained parameter" in chained["result"]
    assert "cannot sync: chained_search:" in err
