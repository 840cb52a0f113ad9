"""gzip both ways (issue 14): answers gzipped when the server offers it, transaction bodies sent
gzipped where the server reads them, and plain again (once, then for good) where it does not.
Against both servers; the refusing server is the peer told so (POST /$config)."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from sync.fhir.bundle import TransactionBuilder
from sync.fhir.client import GZIP_MIN_BYTES, FhirClient
from sync.fhir.errors import RejectedError
from tests.peer.harness import PeerServer
from tests.realfhir.plugin import FhirServer, peer_server
from tests.sync.devices import devices_on, server_count
from tests.sync.test_push_batching import clinic_day

OUR_ID = "urn:fieldchart:fhir:id"


@dataclass
class Seen:
    """(method, request Content-Encoding, status, response Content-Encoding) of each request."""

    inner: httpx.HTTPTransport = field(default_factory=httpx.HTTPTransport)
    requests: list[tuple[str, str | None, int, str | None]] = field(default_factory=list)


class Recording(httpx.BaseTransport):
    def __init__(self) -> None:
        self.seen = Seen()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.seen.inner.handle_request(request)
        self.seen.requests.append(
            (
                request.method,
                request.headers.get("Content-Encoding"),
                response.status_code,
                response.headers.get("Content-Encoding"),
            )
        )
        return response

    def close(self) -> None:
        self.seen.inner.close()


def client_for(server: FhirServer) -> tuple[FhirClient, Seen]:
    transport = Recording()
    return FhirClient(server.base_url, server.auth(), transport=transport), transport.seen


def patients_bundle(count: int) -> tuple[TransactionBuilder, list[str]]:
    """A transaction creating `count` patients (by POST, as the real server needs), each found
    again by its own identifier; long enough to be gzipped."""
    builder = TransactionBuilder()
    marks = []
    for i in range(count):
        mark = str(uuid.uuid4())
        marks.append(mark)
        builder.add_create(
            "Patient",
            f"urn:uuid:{uuid.uuid4()}",
            {
                "resourceType": "Patient",
                "identifier": [{"system": OUR_ID, "value": mark}],
                "name": [{"family": "Gzip", "given": [f"Test {i}"]}],
                "address": [{"text": "Plot 12, along the road to the district hospital"}],
            },
        )
    return builder, marks


def found(client: FhirClient, mark: str) -> int:
    return len(list(client.iter_search("Patient", {"identifier": f"{OUR_ID}|{mark}"})))


@pytest.fixture
def server(fhir_server: FhirServer) -> Iterator[tuple[FhirClient, Seen]]:
    client, seen = client_for(fhir_server)
    yield client, seen
    client.close()


def test_a_long_transaction_goes_gzipped_and_the_answer_comes_gzipped(
    server: tuple[FhirClient, Seen],
) -> None:
    client, seen = server
    builder, marks = patients_bundle(4)
    assert len(json.dumps(builder.build())) > GZIP_MIN_BYTES
    answers = client.transaction(builder)
    assert [a.status for a in answers] == [201] * 4
    assert seen.requests[-1][:3] == ("POST", "gzip", 200)
    assert client.gzip_bodies is True
    assert all(found(client, m) == 1 for m in marks), "read as sent, each once"
    bundle = client.search_page("Patient", {"identifier": f"{OUR_ID}|{marks[0]}", "_count": "50"})
    assert bundle["resourceType"] == "Bundle"
    assert any(encoding == "gzip" for *_, encoding in seen.requests), "a long answer was gzipped"


def test_a_short_body_goes_plain(server: tuple[FhirClient, Seen]) -> None:
    client, seen = server
    builder, _ = patients_bundle(1)
    assert len(json.dumps(builder.build())) < GZIP_MIN_BYTES
    client.transaction(builder)
    assert seen.requests[-1][:3] == ("POST", None, 200)


def configure(peer: PeerServer, **settings: bool) -> None:
    response = httpx.post(f"{peer.base_url}/$config", json=settings, timeout=10)
    response.raise_for_status()


def test_a_server_that_cannot_read_gzip_gets_the_body_plain_once_then_always(
    fhir_peer: PeerServer,
) -> None:
    configure(fhir_peer, gzipRequests=False)
    client, seen = client_for(peer_server(fhir_peer))
    with client:
        first, marks = patients_bundle(4)
        assert [a.status for a in client.transaction(first)] == [201] * 4
        assert [r[:3] for r in seen.requests] == [("POST", "gzip", 400), ("POST", None, 200)]
        assert client.gzip_bodies is False
        second, more = patients_bundle(4)
        client.transaction(second)
        assert seen.requests[-1][:3] == ("POST", None, 200), "plain at once from then on"
        assert all(found(client, m) == 1 for m in marks + more), "nothing written twice"


def test_a_refusal_of_the_content_is_not_taken_for_unreadable_gzip(
    fhir_peer: PeerServer,
) -> None:
    """A gzipped Bundle the server read and refused (the same resource twice: 400) is not sent
    again plain, and gzip stays on."""
    client, seen = client_for(peer_server(fhir_peer))
    patient = {"resourceType": "Patient", "id": "twice", "name": [{"family": "x" * 600}]}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient, "request": {"method": "PUT", "url": "Patient/twice"}},
            {"resource": patient, "request": {"method": "PUT", "url": "Patient/twice"}},
        ],
    }
    with client, pytest.raises(RejectedError):
        client.transaction(bundle)
    assert [r[:3] for r in seen.requests] == [("POST", "gzip", 400)]
    assert client.gzip_bodies is None


def test_the_peer_unzips_what_it_is_sent_and_zips_long_answers_only_when_asked(
    fhir_peer: PeerServer,
) -> None:
    body = json.dumps({"resourceType": "Patient", "id": "z1", "name": [{"family": "Zip"}]})
    put = httpx.put(
        f"{fhir_peer.base_url}/Patient/z1",
        content=gzip.compress(body.encode()),
        headers={"Content-Type": "application/fhir+json", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert put.status_code in (200, 201) and put.json()["name"][0]["family"] == "Zip"
    with httpx.Client(timeout=10) as raw:
        plain = raw.get(f"{fhir_peer.base_url}/metadata", headers={"Accept-Encoding": "identity"})
        zipped = raw.get(f"{fhir_peer.base_url}/metadata", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.json() == plain.json()
    configure(fhir_peer, gzipResponses=False)
    with httpx.Client(timeout=10) as raw:
        off = raw.get(f"{fhir_peer.base_url}/metadata", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in off.headers


def test_a_clinic_day_syncs_whole_to_a_server_that_cannot_read_gzip(
    fhir_peer: PeerServer, tmp_path: Path
) -> None:
    configure(fhir_peer, gzipRequests=False)
    with devices_on(peer_server(fhir_peer), tmp_path, "a") as made:
        a = made["a"]
        patients = clinic_day(a, 4)
        encodings: list[str | None] = []  # of every long body the device sends

        def record(request: httpx.Request) -> httpx.Response | None:
            encoding = request.headers.get("Content-Encoding")
            if encoding or len(request.content) >= GZIP_MIN_BYTES:
                encodings.append(encoding)
            return None

        a.transport.before = record
        report = a.sync()
        assert (report.pending_after, report.needs_attention) == (0, 0)
        assert encodings[0] == "gzip" and set(encodings[1:]) == {None}, "tried once"
        assert a.client.gzip_bodies is False
        assert server_count(a.client, "Encounter", patients) == len(patients)


def test_a_415_for_a_gzipped_body_is_answered_with_the_body_plain() -> None:
    """A server that names the encoding unsupported (415) instead of failing to parse it."""
    seen: list[str | None] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Content-Encoding"))
        if request.headers.get("Content-Encoding") == "gzip":
            return httpx.Response(415, request=request)
        bundle = json.loads(request.content)
        answer = {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [{"response": {"status": "201 Created"}} for _ in bundle["entry"]],
        }
        return httpx.Response(200, json=answer, request=request)

    builder, _ = patients_bundle(4)
    with FhirClient("https://fhir.example.org/R4", transport=httpx.MockTransport(server)) as c:
        assert [a.status for a in c.transaction(builder)] == [201] * 4
        assert c.gzip_bodies is False
    assert seen == ["gzip", None]
