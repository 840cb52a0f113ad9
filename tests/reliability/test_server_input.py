"""Experiment 4: bad answers from a (fake) FHIR server are quarantined; sync goes on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sync.fhir.client import FhirClient
from tests.peer.harness import PeerServer
from tests.reliability import server_input

pytestmark = pytest.mark.peer


def test_bad_server_answers_are_quarantined_and_sync_goes_on(
    work: Path, fhir_peer: PeerServer
) -> None:
    f = server_input.run(fhir_peer, work / "server")
    for result in f.results:
        print(result.name, result.quarantined, result.stopped, result.problems)
    assert f.cases >= 40
    assert (f.cycles_stopped, f.cases_not_quarantined, f.cases_losing_valid_data) == (0, 0, 0)
    assert f.shown_by_status


def test_search_entries_that_are_not_resources_are_reported_not_dropped() -> None:
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            42,
            {"fullUrl": "x"},
            {"resource": {"resourceType": "Patient", "id": "a"}},
            {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
        ],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=page)

    bad: list[tuple[object, str]] = []
    with FhirClient("https://fhir.test", transport=httpx.MockTransport(handler)) as client:
        found = list(client.iter_search("Patient", {}, lambda e, p: bad.append((e, p))))
        assert [r["id"] for r in found] == ["a"]
        assert [e for e, _ in bad] == [42, {"fullUrl": "x"}]
        assert [r["id"] for r in client.iter_search("Patient", {})] == ["a"]  # no callback
