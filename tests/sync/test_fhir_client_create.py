"""FhirClient.create (POST, the server picks the id) and delete, on answers servers give."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from sync.fhir.client import FhirClient
from sync.fhir.errors import RejectedError

BASE = "https://fhir.example.org/R4"
PATIENT = {"resourceType": "Patient", "id": "ours", "name": [{"family": "Probe"}]}


def client(answer: Callable[[httpx.Request], httpx.Response]) -> FhirClient:
    return FhirClient(BASE, transport=httpx.MockTransport(answer))


def test_create_posts_without_an_id_and_returns_the_servers_copy() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content) | {"id": "srv-1", "meta": {"versionId": "v1"}}
        return httpx.Response(201, json=body, headers={"ETag": 'W/"v1"'})

    with client(server) as c:
        created = c.create("Patient", PATIENT, if_none_exist="identifier=urn:x|1")
    [request] = seen
    assert (request.method, request.url.path) == ("POST", "/R4/Patient")
    assert "id" not in json.loads(request.content), "a create never chooses its id"
    assert request.headers["If-None-Exist"] == "identifier=urn:x|1"
    assert request.headers["Prefer"] == "return=representation"
    assert (created.resource["id"], created.version_id) == ("srv-1", "v1")


def test_create_reads_the_location_when_the_server_returns_no_body() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, headers={"Location": f"{BASE}/Patient/srv-2/_history/7"})
        assert request.url.path == "/R4/Patient/srv-2"
        return httpx.Response(200, json=PATIENT | {"id": "srv-2"}, headers={"ETag": 'W/"7"'})

    with client(server) as c:
        created = c.create("Patient", PATIENT)
    assert (created.resource["id"], created.version_id) == ("srv-2", "7")


def test_create_refused_raises() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"resourceType": "OperationOutcome", "issue": []})

    with client(server) as c, pytest.raises(RejectedError):
        c.create("Patient", PATIENT)
    with client(server) as c, pytest.raises(ValueError):
        c.create("Observation", PATIENT)


@pytest.mark.parametrize(
    ("status", "deleted"), [(200, True), (204, True), (404, False), (410, False)]
)
def test_delete(status: int, deleted: bool) -> None:
    def server(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("DELETE", "/R4/Patient/srv-1")
        return httpx.Response(status)

    with client(server) as c:
        assert c.delete("Patient", "srv-1") is deleted
