"""Enrolment reads the server's CapabilityStatement and tells IT, in plain sentences, what will
not work; a server that is not FHIR R4 is refused outright."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from sync.fhir.capability import SYNCED_RESOURCE_TYPES, CapabilityInfo
from sync.fhir.client import FhirClient
from sync.fhir.errors import InvalidResponseError, UnsupportedServerError
from sync.server_check.capability_checks import check_resource_types
from sync.server_check.report import ServerReport
from tests.peer.harness import PeerServer


def statement(**resource_overrides: Any) -> dict[str, Any]:
    """A CapabilityStatement like a good server's (the test peer's shape)."""
    resource = {
        "interaction": [{"code": c} for c in ("read", "vread", "update", "create", "search-type")],
        "versioning": "versioned-update",
        "updateCreate": True,
        "conditionalUpdate": True,
        "searchParam": [{"name": "_lastUpdated", "type": "date"}],
        **resource_overrides,
    }
    return {
        "resourceType": "CapabilityStatement",
        "fhirVersion": "4.0.1",
        "software": {"name": "Example FHIR", "version": "1"},
        "rest": [
            {
                "mode": "server",
                "resource": [{"type": t, **copy.deepcopy(resource)} for t in SYNCED_RESOURCE_TYPES],
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
            }
        ],
    }


def test_a_good_r4_server_gives_no_warnings() -> None:
    info = CapabilityInfo.from_statement(statement())
    assert info.fhir_version == "4.0.1" and info.software == "Example FHIR"
    assert info.versioned_update and info.update_create and info.transaction
    assert not info.history_system
    assert info.supports("Observation", "update")
    assert info.searchable_by_last_updated("Patient")
    assert info.resources["Patient"].conditional_update
    assert info.warnings() == []


def test_a_server_without_versioned_updates_is_warned_about_loudly() -> None:
    info = CapabilityInfo.from_statement(statement(versioning="no-version"))
    assert not info.versioned_update
    assert info.warnings() == [
        "the server does not support versioned updates (If-Match): concurrent edits could "
        "overwrite each other"
    ]


def test_versioned_counts_as_supporting_if_match() -> None:
    assert CapabilityInfo.from_statement(statement(versioning="versioned")).versioned_update


def test_warnings_name_the_resource_types_concerned() -> None:
    raw = statement()
    resources = raw["rest"][0]["resource"]
    resources[:] = [r for r in resources if r["type"] != "AuditEvent"]
    resources[0]["versioning"] = "no-version"  # Patient
    resources[1]["updateCreate"] = False  # Encounter
    resources[2]["interaction"] = [{"code": "read"}, {"code": "update"}]  # Observation
    raw["rest"][0]["interaction"] = []
    warnings = CapabilityInfo.from_statement(raw).warnings()
    assert warnings == [
        "the server does not declare AuditEvent: records of those kinds cannot sync",
        "the server does not support versioned updates (If-Match) for Patient: concurrent edits "
        "could overwrite each other",
        "the server does not support 'search-type' for Observation: changes made elsewhere "
        "cannot be pulled",
        "the server does not allow creating Encounter with a client-assigned id "
        "(update-as-create): new records of those kinds cannot be pushed",
        "the server does not support transaction Bundles: the writes of one change cannot "
        "succeed or fail together",
        "the server offers neither search by _lastUpdated for Observation nor system _history "
        "with _since: changes made elsewhere cannot be pulled",
    ]


def test_last_updated_declared_for_all_types_or_history_since_is_enough_to_pull() -> None:
    raw = statement(searchParam=[])
    assert not CapabilityInfo.from_statement(raw).searchable_by_last_updated("Patient")
    raw["rest"][0]["searchParam"] = [{"name": "_lastUpdated", "type": "date"}]
    assert CapabilityInfo.from_statement(raw).searchable_by_last_updated("Patient")

    raw = statement(searchParam=[])
    raw["rest"][0]["interaction"].append({"code": "history-system"})
    info = CapabilityInfo.from_statement(raw)
    assert info.history_system and info.warnings() == []


@pytest.mark.parametrize("version", ["3.0.2", "1.0.2", "5.0.0", "4.3.0", None])
def test_a_server_that_is_not_fhir_r4_is_refused(version: str | None) -> None:
    raw = statement()
    raw["fhirVersion"] = version
    with pytest.raises(UnsupportedServerError, match=r"FieldChart needs FHIR R4 \(4\.0\.x\)"):
        CapabilityInfo.from_statement(raw)


def test_a_statement_without_a_rest_server_is_refused() -> None:
    raw = statement()
    raw["rest"][0]["mode"] = "client"
    with pytest.raises(UnsupportedServerError, match="no FHIR REST server"):
        CapabilityInfo.from_statement(raw)


def test_metadata_that_is_not_a_capability_statement_is_invalid() -> None:
    with pytest.raises(InvalidResponseError):
        CapabilityInfo.from_statement({"resourceType": "Bundle"})


def test_the_client_reports_which_request_found_a_non_r4_server() -> None:
    stu3 = json.dumps({**statement(), "fhirVersion": "3.0.2"}).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/fhir/metadata"
        return httpx.Response(200, content=stu3)

    with (
        FhirClient("https://hapi.example/fhir", transport=httpx.MockTransport(handler)) as client,
        pytest.raises(UnsupportedServerError) as caught,
    ):
        client.capabilities()
    assert (caught.value.method, caught.value.url) == ("GET", "https://hapi.example/fhir/metadata")
    assert "3.0.2" in str(caught.value)


@pytest.mark.peer
def test_the_peers_capabilities_are_parsed(fhir_peer: PeerServer) -> None:
    with FhirClient(fhir_peer.base_url, timeout=10.0) as client:
        info = client.capabilities()
    assert info.fhir_version == "4.0.1"
    assert info.versioned_update and info.update_create and info.transaction
    assert set(info.resources) >= set(SYNCED_RESOURCE_TYPES)
    assert info.resources["Patient"].versioning == "versioned-update"
    assert all(info.searchable_by_last_updated(t) for t in SYNCED_RESOURCE_TYPES)
    assert not info.history_system  # the peer pulls by _lastUpdated search, not _history
    assert info.warnings() == []


def test_a_server_without_immunizations_or_referrals_can_sync_and_is_told_what_is_lost() -> None:
    raw = statement()  # every synced type, but neither Immunization nor ServiceRequest
    report = ServerReport("https://fhir.example.org", write_probe=False)
    check_resource_types(CapabilityInfo.from_statement(raw), report)
    (check,) = report.checks
    assert report.can_sync and check.status == "warn"
    assert check.result == "not declared: Immunization, ServiceRequest, Communication"
    assert "immunizations recorded here cannot be sent" in check.action
    assert "referrals cannot be sent" in check.action
    assert "follow-up calls recorded here cannot be sent" in check.action

    for t in ("Immunization", "ServiceRequest", "Communication"):
        raw["rest"][0]["resource"].append(
            {**copy.deepcopy(raw["rest"][0]["resource"][0]), "type": t}
        )
    report = ServerReport("https://fhir.example.org", write_probe=False)
    check_resource_types(CapabilityInfo.from_statement(raw), report)
    assert [c.status for c in report.checks] == ["ok"]
