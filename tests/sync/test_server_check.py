"""`sync.server_check`: what check-server finds on both servers, the atomicity probe (which
writes nothing), the write probe (which deletes what it wrote), and the device's record of
whether its server's transactions are atomic."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.fhir.capability import SYNCED_RESOURCE_TYPES
from sync.fhir.client import FhirClient
from sync.fhir.errors import OfflineError
from sync.server_check.atomicity import (
    PROBE_FAMILY,
    PROBE_SYSTEM,
    refresh_server_facts,
    server_facts,
    transaction_atomicity,
)
from sync.server_check.check import check_server
from tests.clinic_fixtures import FakeClock, clinic_in
from tests.realfhir.harness import RealFhirServer, TokenAuth, _Token
from tests.realfhir.plugin import FhirServer

READ_ONLY_CHECKS = [
    "fhir_version",
    "token",
    "resource_types",
    "interactions",
    "create_strategy",
    "if_match",
    "transactions",
    "atomic_transactions",
    "scope_strategies",
    "chained_search",
    "search_last_updated",
    "paging",
    "page_size",
    "history",
]
WRITE_CHECKS = [
    "probe_create",
    "update_if_match",
    "stale_if_match",
    "conditional_create",
    "update_as_create",
    "atomic_transactions_write",
    "probe_delete",
]


def expected_atomic(server: FhirServer) -> bool:
    return server.real.atomic_tx if server.real is not None else True


def probe_patients(client: FhirClient) -> list[str]:
    """Every test patient of any check on the server (by the probe's family name)."""
    page = client.search_page("Patient", {"family": PROBE_FAMILY, "_count": "100"})
    return [e["resource"]["id"] for e in page.get("entry") or []]


def statuses(report: Any) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def test_read_only_check_on_both_servers(fhir_server: FhirServer) -> None:
    with fhir_server.client() as client:
        before = probe_patients(client)
        report = check_server(client, auth_mode=fhir_server.settings()["auth_mode"])
        after = probe_patients(client)

    assert [c.name for c in report.checks] == READ_ONLY_CHECKS
    assert report.can_sync, report.blocking
    assert report.fhir_version == "4.0.1"
    assert report.atomic_transactions is expected_atomic(fhir_server)
    # The peer allows update-as-create; a normal client of the real server may only POST.
    strategy = "put" if fhir_server.name == "peer" else "post"
    assert report.create_strategy == dict.fromkeys(SYNCED_RESOURCE_TYPES, strategy)
    assert statuses(report)["search_last_updated"] == "ok"
    assert report.scope_strategies["Organization"] == "chained"
    assert after == before, "the read-only check wrote nothing"
    dumped = json.dumps(report.to_json())
    assert json.loads(dumped)["can_sync"] is True
    real = fhir_server.real
    if real is not None and real.client_secret:
        assert real.client_secret not in dumped


def test_write_probe_on_both_servers_deletes_its_patients(fhir_server: FhirServer) -> None:
    with fhir_server.client() as client:
        report = check_server(
            client, auth_mode=fhir_server.settings()["auth_mode"], write_probe=True
        )
        left = probe_patients(client)

    assert [c.name for c in report.checks] == READ_ONLY_CHECKS[:10] + WRITE_CHECKS[:-1] + (
        READ_ONLY_CHECKS[10:] + WRITE_CHECKS[-1:]
    )
    assert report.can_sync, report.blocking
    found = statuses(report)
    for name in ("probe_create", "update_if_match", "stale_if_match", "conditional_create"):
        assert found[name] == "ok", report.checks
    assert found["probe_delete"] == "ok"
    assert found["paging"] == "ok", "the test patients give paging something to page"
    atomic = expected_atomic(fhir_server)
    assert report.atomic_transactions is atomic
    assert found["atomic_transactions_write"] == ("ok" if atomic else "warn")
    assert found["update_as_create"] == "ok"
    assert left == [], "every test patient was deleted"


def test_atomicity_probe_matches_the_server_and_writes_nothing(fhir_server: FhirServer) -> None:
    with fhir_server.client() as client:
        before = probe_patients(client)
        assert transaction_atomicity(client) is expected_atomic(fhir_server)
        assert probe_patients(client) == before


def super_admin_client(real: RealFhirServer) -> FhirClient:
    """The real server's super-admin client: its own project keeps Medplum's default, so its
    transactions run like batches (the test project's setting is left alone: other test runs
    share it)."""
    if not (real.token_url and real.super_client_id and real.super_client_secret):
        pytest.skip("this real server has no super-admin client")
    token = _Token(real.token_url, real.super_client_id, real.super_client_secret)
    return FhirClient(real.base_url, TokenAuth(token))


def test_batch_like_transactions_on_the_real_server(real_fhir_server: RealFhirServer) -> None:
    with super_admin_client(real_fhir_server) as client:
        assert transaction_atomicity(client) is False
        report = check_server(client, auth_mode="client-secret-post", write_probe=True)
        left = probe_patients(client)
    found = statuses(report)
    assert (found["atomic_transactions"], found["atomic_transactions_write"]) == ("warn", "warn")
    assert report.atomic_transactions is False
    assert report.can_sync, "batch-like transactions are handled, not blocking"
    assert found["probe_delete"] == "ok" and left == []


# -- the probe's verdicts, on answers a server could give ---------------------------------------


def mock_client(answer: Callable[[httpx.Request], httpx.Response]) -> FhirClient:
    return FhirClient("https://fhir.example.org/R4", transport=httpx.MockTransport(answer))


def entries(*statuses: str) -> httpx.Response:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": {"status": s}} for s in statuses],
    }
    return httpx.Response(200, json=bundle)


def outcome(status: int) -> httpx.Response:
    issue = {"severity": "error", "code": "invalid", "diagnostics": "no"}
    return httpx.Response(status, json={"resourceType": "OperationOutcome", "issue": [issue]})


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (lambda: outcome(400), True),  # the whole Bundle failed
        (lambda: outcome(412), True),
        (lambda: entries("200 OK", "400 Bad Request"), False),  # batch-like
        (lambda: outcome(500), None),  # says neither
        (lambda: entries("200 OK", "201 Created"), None),  # accepted what it must refuse
    ],
)
def test_probe_verdicts(answer: Callable[[], httpx.Response], verdict: bool | None) -> None:
    sent: list[dict[str, Any]] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return answer()

    with mock_client(server) as client:
        assert transaction_atomicity(client) is verdict
    [bundle] = sent
    read, write = bundle["entry"]
    assert bundle["type"] == "transaction" and read["request"]["method"] == "GET"
    # The write can never apply: the body's id is not the URL's, and the If-Match is stale.
    assert write["request"]["url"] != f"Patient/{write['resource']['id']}"
    assert write["request"]["ifMatch"].startswith('W/"')
    assert write["resource"]["identifier"][0]["system"] == PROBE_SYSTEM


def test_probe_when_the_server_is_unreachable_raises() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with mock_client(server) as client, pytest.raises(OfflineError):
        transaction_atomicity(client)


def test_a_non_r4_server_is_blocking() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"resourceType": "CapabilityStatement", "fhirVersion": "3.0.2"}
        )

    with mock_client(server) as client:
        report = check_server(client)
    assert not report.can_sync
    assert report.blocking == [
        "fhir_version: the server speaks FHIR 3.0.2; FieldChart needs FHIR R4 (4.0.x)"
    ]


# -- the device's record: at enrolment, then at most once a day ----------------------------------


def test_refresh_probes_at_most_once_a_day(tmp_path: Path) -> None:
    probes: list[str] = []
    batch_like = True

    def server(request: httpx.Request) -> httpx.Response:
        probes.append(request.method)
        return entries("200 OK", "400 Bad Request") if batch_like else outcome(400)

    clock = FakeClock()
    with clinic_in(tmp_path / "vault", clock) as clinic, mock_client(server) as client:
        gateway = clinic.sync_gateway
        assert server_facts(gateway) == {"atomic_transactions": None, "checked_at": None}
        refresh_server_facts(gateway, client, clock())
        first = clock()
        assert server_facts(gateway) == {
            "atomic_transactions": False,
            "checked_at": first.isoformat(timespec="seconds"),
        }
        batch_like = False
        refresh_server_facts(gateway, client, clock.advance(hours=23, minutes=59))
        assert len(probes) == 1 and server_facts(gateway)["atomic_transactions"] is False
        refresh_server_facts(gateway, client, clock.advance(minutes=1))
        assert len(probes) == 2 and server_facts(gateway)["atomic_transactions"] is True
        refresh_server_facts(gateway, client, clock(), force=True)  # at enrolment
        assert len(probes) == 3


def test_a_failed_refresh_keeps_the_last_answer(tmp_path: Path) -> None:
    answers = [entries("200 OK", "400 Bad Request"), outcome(500)]

    def server(request: httpx.Request) -> httpx.Response:
        if not answers:
            raise httpx.ConnectError("offline", request=request)
        return answers.pop(0)

    clock = FakeClock()
    with clinic_in(tmp_path / "vault", clock) as clinic, mock_client(server) as client:
        gateway = clinic.sync_gateway
        refresh_server_facts(gateway, client, clock())
        checked = clock.advance(days=1)
        refresh_server_facts(gateway, client, checked)  # no verdict (500): the last one stays
        refresh_server_facts(gateway, client, clock.advance(days=1))  # offline: not raised
        assert server_facts(gateway) == {
            "atomic_transactions": False,
            "checked_at": checked.isoformat(timespec="seconds"),
        }
