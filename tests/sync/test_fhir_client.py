"""The FHIR client: every failure lands in the right FhirError, versions travel as quoted weak
ETags, transactions stay within the server's limits, paging follows the server's links.

Unit tests replace the network with ``httpx.MockTransport``; the ``peer`` tests talk to the real
Medplum router (tests/peer); the TLS tests run a loopback HTTPS server with a certificate made
here, to show what IT sees when the server's CA is not configured.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sync.fhir.bundle import (
    DuplicateEntryError,
    TooManyEntriesError,
    TransactionBuilder,
    etag_version,
    parse_transaction_response,
    weak_etag,
)
from sync.fhir.client import FhirClient, next_link
from sync.fhir.errors import (
    AuthError,
    FhirError,
    InvalidResponseError,
    OfflineError,
    RateLimitedError,
    RejectedError,
    ServerError,
    TlsError,
    TransactionTooLargeError,
    VersionConflictError,
)
from tests.clock import SettableClock
from tests.peer.harness import PeerServer
from tests.realfhir.plugin import FhirServer

BASE = "https://fhir.example.org/r4"
Handler = Callable[[httpx.Request], httpx.Response]


def fhir(status: int, body: Any = None, **headers: str) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(
        status, content=content, headers={"Content-Type": "application/fhir+json", **headers}
    )


def outcome(code: str, text: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


def mock_client(handler: Handler) -> FhirClient:
    return FhirClient(BASE, transport=httpx.MockTransport(handler))


def new_id() -> str:
    return str(uuid.uuid4())


def patient(pid: str, family: str = "Doe") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": family}]}


def raising(exc_type: type[httpx.RequestError], message: str = "boom") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return handler


# -- error mapping ---------------------------------------------------------------------------


def test_a_refused_connection_is_offline() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        FhirClient(f"http://127.0.0.1:{port}", timeout=2.0) as client,
        pytest.raises(OfflineError) as caught,
    ):
        client.read("Patient", "p1")
    err = caught.value
    assert err.retryable and not isinstance(err, TlsError)
    assert (err.method, err.url, err.status) == ("GET", f"http://127.0.0.1:{port}/Patient/p1", None)
    assert isinstance(err.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    ("exc_type", "words"),
    [
        (httpx.ConnectError, "cannot connect"),
        (httpx.ConnectTimeout, "timed out connecting"),
        (httpx.ReadTimeout, "timed out waiting"),
        (httpx.WriteTimeout, "timed out sending"),
        (httpx.RemoteProtocolError, "connection"),
        (httpx.ReadError, "connection"),
    ],
)
def test_network_failures_before_an_answer_are_offline(
    exc_type: type[httpx.RequestError], words: str
) -> None:
    with mock_client(raising(exc_type)) as client, pytest.raises(OfflineError) as caught:
        client.put("Patient", "p1", patient("p1"))
    assert words in str(caught.value)
    assert caught.value.method == "PUT"


@pytest.mark.parametrize("status", [412, 409])
def test_a_stale_version_is_a_version_conflict(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return fhir(status, outcome("processing", "Precondition Failed"))

    with mock_client(handler) as client, pytest.raises(VersionConflictError) as caught:
        client.put("Patient", "p1", patient("p1"), if_match_version="v1")
    assert caught.value.status == status
    assert not caught.value.retryable


def test_429_with_retry_after_seconds_is_rate_limited() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return fhir(429, None, **{"Retry-After": "120"})

    with mock_client(handler) as client, pytest.raises(RateLimitedError) as caught:
        client.read("Patient", "p1")
    assert caught.value.retry_after_s == 120.0
    assert caught.value.status == 429 and caught.value.retryable


def test_retry_after_as_http_date_is_measured_against_the_servers_date() -> None:
    # The laptop's clock may be days off; the server's Date header is not.
    def handler(request: httpx.Request) -> httpx.Response:
        return fhir(
            503,
            None,
            **{
                "Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT",
                "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
            },
        )

    with mock_client(handler) as client, pytest.raises(RateLimitedError) as caught:
        client.read("Patient", "p1")
    assert caught.value.retry_after_s == 120.0


def test_retry_after_http_date_without_a_date_header_uses_the_injected_clock() -> None:
    clock = SettableClock()
    when = clock.now + dt.timedelta(seconds=300)

    def handler(request: httpx.Request) -> httpx.Response:
        return fhir(429, None, **{"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")})

    transport = httpx.MockTransport(handler)
    with (
        FhirClient(BASE, transport=transport, clock=clock) as client,
        pytest.raises(RateLimitedError) as caught,
    ):
        client.read("Patient", "p1")
    assert caught.value.retry_after_s == 300.0


def test_retry_after_http_date_without_date_or_clock_is_left_to_the_worker() -> None:
    # Nothing to measure it against: never the wall clock, the worker's backoff decides.
    def handler(request: httpx.Request) -> httpx.Response:
        return fhir(429, None, **{"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT"})

    with mock_client(handler) as client, pytest.raises(RateLimitedError) as caught:
        client.read("Patient", "p1")
    assert caught.value.retry_after_s is None


def test_429_without_retry_after_leaves_the_delay_to_the_worker() -> None:
    with mock_client(lambda r: fhir(429)) as client, pytest.raises(RateLimitedError) as caught:
        client.read("Patient", "p1")
    assert caught.value.retry_after_s is None


@pytest.mark.parametrize("status", [401, 403])
def test_unauthorised_is_an_auth_error(status: int) -> None:
    with mock_client(lambda r: fhir(status)) as client, pytest.raises(AuthError) as caught:
        client.read("Patient", "p1")
    assert caught.value.status == status and not caught.value.retryable


def test_400_is_rejected_with_the_outcome_but_the_message_holds_no_patient_data() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return fhir(400, outcome("invalid", "Invalid name 'Amina Odhiambo' at Patient.name[0]"))

    resource = patient("p1", "Odhiambo")
    with mock_client(handler) as client, pytest.raises(RejectedError) as caught:
        client.put("Patient", "p1", resource)
    err = caught.value
    assert err.diagnostics == ["Invalid name 'Amina Odhiambo' at Patient.name[0]"]
    assert err.issues[0].severity == "error" and err.issues[0].code == "invalid"
    assert err.status == 400 and err.method == "PUT"
    assert err.url == f"{BASE}/Patient/p1"
    assert "Odhiambo" not in str(err)  # neither the body nor the diagnostics reach logs
    assert str(err) == (
        f"the server rejected the request [error/invalid] (PUT {BASE}/Patient/p1 -> 400)"
    )


def test_5xx_is_a_retryable_server_error_even_with_an_html_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad gateway</html>")

    with mock_client(handler) as client, pytest.raises(ServerError) as caught:
        client.read("Patient", "p1")
    assert caught.value.retryable and caught.value.status == 502


def test_a_redirect_is_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://portal.example/login"})

    with mock_client(handler) as client, pytest.raises(InvalidResponseError) as caught:
        client.put("Patient", "p1", patient("p1"))
    assert "redirected" in str(caught.value)


def test_an_html_page_instead_of_json_is_an_invalid_response() -> None:
    # What a captive portal does to a clinic laptop on hotel wifi.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>Welcome! Accept terms</html>")

    with mock_client(handler) as client, pytest.raises(InvalidResponseError) as caught:
        client.read("Patient", "p1")
    assert caught.value.retryable
    assert "not valid JSON" in str(caught.value) and "text/plain" in str(caught.value)
    assert "Welcome" not in str(caught.value)


def test_a_truncated_json_body_is_an_invalid_response() -> None:
    whole = json.dumps(patient("p1")).encode()
    with (
        mock_client(lambda r: httpx.Response(200, content=whole[:20])) as client,
        pytest.raises(InvalidResponseError),
    ):
        client.read("Patient", "p1")


def test_a_body_cut_off_by_the_connection_is_an_invalid_response() -> None:
    class CutStream(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b'{"resourceType": "Pat'
            raise httpx.RemoteProtocolError("peer closed connection without sending complete")

    with (
        mock_client(lambda r: httpx.Response(200, stream=CutStream())) as client,
        pytest.raises(InvalidResponseError) as caught,
    ):
        client.read("Patient", "p1")
    assert "cut short" in str(caught.value) and caught.value.status == 200


def test_the_wrong_resource_type_is_an_invalid_response() -> None:
    with (
        mock_client(lambda r: fhir(200, outcome("informational", "ok", "information"))) as client,
        pytest.raises(InvalidResponseError) as caught,
    ):
        client.read("Patient", "p1")
    assert "expected Patient/p1" in str(caught.value)


def test_error_urls_keep_query_names_but_not_values() -> None:
    with mock_client(lambda r: fhir(500)) as client, pytest.raises(ServerError) as caught:
        client.search_page("Patient", {"name": "Odhiambo", "_count": "100"})
    assert caught.value.url == f"{BASE}/Patient?name=…&_count=…"
    assert "Odhiambo" not in str(caught.value)


def test_every_client_error_is_a_fhir_error() -> None:
    for err in (OfflineError, TlsError, AuthError, VersionConflictError, RateLimitedError):
        assert issubclass(err, FhirError)


# -- reads and writes ------------------------------------------------------------------------


def test_read_returns_the_resource_and_the_etag_version() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Accept"] == "application/fhir+json"
        return fhir(200, {**patient("p1"), "meta": {"versionId": "m"}}, ETag='W/"abc-1"')

    with mock_client(handler) as client:
        found = client.read("Patient", "p1")
    assert found is not None
    resource, version = found
    assert resource["id"] == "p1" and version == "abc-1"


@pytest.mark.parametrize("status", [404, 410])
def test_read_of_a_missing_or_deleted_resource_is_none(status: int) -> None:
    with mock_client(lambda r: fhir(status, outcome("not-found", "Not found"))) as client:
        assert client.read("Patient", "p1") is None


def test_read_falls_back_to_meta_version_without_an_etag() -> None:
    with mock_client(lambda r: fhir(200, {**patient("p1"), "meta": {"versionId": "7"}})) as client:
        assert client.read("Patient", "p1") == (patient("p1") | {"meta": {"versionId": "7"}}, "7")


def test_put_sends_if_match_as_a_quoted_weak_etag() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fhir(200, {**patient("p1"), "meta": {"versionId": "v2"}}, ETag='W/"v2"')

    with mock_client(handler) as client:
        assert client.put("Patient", "p1", patient("p1"), if_match_version="v1").version_id == "v2"
        client.put("Patient", "p1", patient("p1"))
    assert seen[0].headers["If-Match"] == 'W/"v1"'
    assert seen[0].headers["Content-Type"] == "application/fhir+json"
    assert seen[0].method == "PUT" and str(seen[0].url) == f"{BASE}/Patient/p1"
    assert json.loads(seen[0].content) == patient("p1")
    assert "If-Match" not in seen[1].headers


def test_put_refuses_mismatched_or_unsafe_ids_before_sending() -> None:
    with (
        mock_client(lambda r: pytest.fail("sent")) as client,
        pytest.raises(ValueError),
    ):
        client.put("Patient", "p1", patient("p2"))
        with pytest.raises(ValueError):
            client.put("Patient", "../x", patient("../x"))
        with pytest.raises(ValueError):
            client.put("Patient", "p1", patient("p1"), if_match_version='v"1')


def test_etag_parsing() -> None:
    assert etag_version('W/"3"') == "3"
    assert etag_version('"abc"') == "abc"
    assert etag_version("W/3") is None
    assert etag_version(None) is None
    assert weak_etag("9f1c") == 'W/"9f1c"'


# -- paging ----------------------------------------------------------------------------------


def searchset(ids: list[str], next_url: str | None) -> dict[str, Any]:
    links = [{"relation": "self", "url": "ignored"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": patient(i), "search": {"mode": "match"}} for i in ids]
        + [
            {"resource": {"resourceType": "Organization", "id": "o"}, "search": {"mode": "include"}}
        ],
    }


def test_paging_follows_next_links_exactly_as_given_and_stops() -> None:
    since = "_lastUpdated=ge2026-01-01T00%3A00%3A00.000Z"  # encoded as Medplum encodes it
    page2 = f"{BASE}/Patient?_count=2&_cursor=2-1767225600000-a,b&{since}"
    page3 = f"{BASE}/Patient?_count=2&_cursor=2-1767225600001-c&{since}"
    pages = {page2: searchset(["c", "d"], page3), page3: searchset(["e"], None)}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        seen.append(url)
        if url in pages:
            return fhir(200, pages[url])
        assert request.url.params["_lastUpdated"] == "ge2026-01-01T00:00:00.000Z"
        return fhir(200, searchset(["a", "b"], page2))

    params = {"_lastUpdated": "ge2026-01-01T00:00:00.000Z", "_sort": "_lastUpdated", "_count": "2"}
    with mock_client(handler) as client:
        ids = [r["id"] for r in client.iter_search("Patient", params)]
    assert ids == ["a", "b", "c", "d", "e"]  # included resources are not matches
    assert seen[1:] == [page2, page3]  # byte for byte what the server sent, then no more


def test_a_next_link_to_another_origin_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return fhir(200, searchset(["a"], "https://elsewhere.example/Patient?_cursor=1"))

    with mock_client(handler) as client, pytest.raises(InvalidResponseError) as caught:
        list(client.iter_search("Patient", {"_count": "1"}))
    assert "another origin" in str(caught.value)


def test_a_relative_next_link_is_resolved_against_the_base() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return fhir(200, searchset(["a"], None if len(seen) > 1 else "Patient?_cursor=2-1"))

    with mock_client(handler) as client:
        assert [r["id"] for r in client.iter_search("Patient", {"_count": "1"})] == ["a", "a"]
    assert seen == [f"{BASE}/Patient?_count=1", f"{BASE}/Patient?_cursor=2-1"]


def test_a_next_link_to_the_same_page_is_refused() -> None:
    loop = f"{BASE}/Patient?_count=1&_cursor=x"
    with (
        mock_client(lambda r: fhir(200, searchset(["a"], loop))) as client,
        pytest.raises(InvalidResponseError),
    ):
        list(client.iter_search("Patient", {"_count": "1"}))


def test_a_page_cut_short_once_is_asked_for_again() -> None:
    page2 = json.dumps(searchset(["b"], None)).encode()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if len(seen) == 1:
            return fhir(200, searchset(["a"], f"{BASE}/Patient?_cursor=2"))
        if len(seen) == 2:
            return httpx.Response(200, content=page2[:25])  # a flaky link cut it
        return httpx.Response(200, content=page2)

    with mock_client(handler) as client:
        assert [r["id"] for r in client.iter_search("Patient", {"_count": "1"})] == ["a", "b"]
    assert seen[1] == seen[2] == f"{BASE}/Patient?_cursor=2"


def test_a_page_unusable_twice_counts_as_broken() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, text="<html>Welcome! Accept terms</html>")

    with mock_client(handler) as client, pytest.raises(InvalidResponseError):
        list(client.iter_search("Patient", {"_count": "1"}))
    assert len(seen) == 2


def test_a_search_answer_must_be_a_searchset() -> None:
    with (
        mock_client(lambda r: fhir(200, patient("x"))) as client,
        pytest.raises(InvalidResponseError),
    ):
        client.search_page("Patient", {"_count": "1"})


def test_next_link() -> None:
    assert next_link(searchset([], "u")) == "u"
    assert next_link(searchset([], None)) is None


# -- transactions ----------------------------------------------------------------------------


def test_builder_allows_50_updates_and_refuses_the_51st() -> None:
    builder = TransactionBuilder()
    for _ in range(50):
        pid = new_id()
        builder.add_put("Patient", pid, patient(pid), if_match_version="v1")
    assert not builder.fits()
    with pytest.raises(TooManyEntriesError):
        builder.add_put("Patient", "p51", patient("p51"))
    bundle = builder.build()
    assert len(bundle["entry"]) == 50 and bundle["type"] == "transaction"
    assert bundle["entry"][0]["request"]["ifMatch"] == 'W/"v1"'


def test_builder_refuses_the_same_resource_twice() -> None:
    builder = TransactionBuilder()
    builder.add_put("Patient", "p1", patient("p1"))
    with pytest.raises(DuplicateEntryError) as caught:
        builder.add_put("Patient", "p1", patient("p1", "Other"))
    assert isinstance(caught.value, ValueError)
    assert len(builder) == 1


def test_builder_copies_resources_and_checks_them() -> None:
    resource = patient("p1")
    builder = TransactionBuilder(base_url="https://fhir.example.org/r4/")
    builder.add_put("Patient", "p1", resource)
    resource["name"] = []
    entry = builder.build()["entry"][0]
    assert entry["resource"]["name"] == [{"family": "Doe"}]
    assert entry["fullUrl"] == "https://fhir.example.org/r4/Patient/p1"
    with pytest.raises(ValueError):
        builder.add_put("Observation", "p2", patient("p2"))
    with pytest.raises(ValueError):
        TransactionBuilder().build()


def test_transaction_results_take_versions_from_the_entry_resources() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and str(request.url) == f"{BASE}/"
        sent = json.loads(request.content)
        return fhir(
            200,
            {
                "resourceType": "Bundle",
                "type": "transaction-response",
                "entry": [
                    {
                        "response": {
                            "status": "201 Created",
                            "location": f"Patient/{e['resource']['id']}",
                        },
                        "resource": {
                            **e["resource"],
                            "meta": {"versionId": f"v-{e['resource']['id']}"},
                        },
                    }
                    for e in sent["entry"]
                ],
            },
        )

    builder = TransactionBuilder()
    builder.add_put("Patient", "a", patient("a"))
    builder.add_put("Patient", "b", patient("b"), if_match_version="1")
    with mock_client(handler) as client:
        results = client.transaction(builder)
    assert [(r.status, r.version_id, r.location) for r in results] == [
        (201, "v-a", "Patient/a"),
        (201, "v-b", "Patient/b"),
    ]


def test_a_transaction_response_with_missing_entries_is_invalid() -> None:
    answer = {"resourceType": "Bundle", "type": "transaction-response", "entry": []}
    builder = TransactionBuilder()
    builder.add_put("Patient", "a", patient("a"))
    with (
        mock_client(lambda r: fhir(200, answer)) as client,
        pytest.raises(InvalidResponseError) as caught,
    ):
        client.transaction(builder)
    assert caught.value.method == "POST" and caught.value.status == 200


def test_transaction_version_falls_back_to_etag_then_location() -> None:
    results = parse_transaction_response(
        {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {"response": {"status": "200", "etag": 'W/"e1"'}},
                {"response": {"status": "201", "location": "Patient/x/_history/h2"}},
            ],
        }
    )
    assert [r.version_id for r in results] == ["e1", "h2"]


# -- against the real peer -------------------------------------------------------------------


@pytest.fixture
def peer_client(fhir_peer: PeerServer) -> Iterator[FhirClient]:
    with FhirClient(fhir_peer.base_url, timeout=10.0) as client:
        yield client


@pytest.mark.peer
def test_peer_put_creates_then_a_stale_if_match_is_a_version_conflict(
    peer_client: FhirClient,
) -> None:
    pid = new_id()
    assert peer_client.read("Patient", pid) is None
    _, v1 = peer_client.put("Patient", pid, patient(pid, "One"))
    assert v1 is not None
    body, v2 = peer_client.put("Patient", pid, patient(pid, "Two"), if_match_version=v1)
    assert body["name"][0]["family"] == "Two" and v2 not in (None, v1)
    assert peer_client.read("Patient", pid) == (body, v2)

    with pytest.raises(VersionConflictError) as caught:
        peer_client.put("Patient", pid, patient(pid, "Three"), if_match_version=v1)
    assert caught.value.status == 412
    current = peer_client.read("Patient", pid)
    assert current is not None and current.version_id == v2


@pytest.mark.peer
def test_peer_accepts_50_conditional_updates_and_the_builder_refuses_51(
    peer_client: FhirClient,
) -> None:
    ids = [new_id() for _ in range(50)]
    create = TransactionBuilder()
    for pid in ids:
        create.add_put("Patient", pid, patient(pid, "Before"))
    versions = {
        pid: r.version_id for pid, r in zip(ids, peer_client.transaction(create), strict=True)
    }

    update = TransactionBuilder()
    for pid in ids:  # every entry carries ifMatch: that does not lower Medplum's limit
        update.add_put("Patient", pid, patient(pid, "After"), if_match_version=versions[pid])
    with pytest.raises(TooManyEntriesError):
        update.add_put("Patient", "one-more", patient("one-more"))
    results = peer_client.transaction(update)

    assert len(results) == 50 and {r.status for r in results} == {200}
    for pid, result in zip(ids, results, strict=True):
        assert result.resource is not None and result.resource["name"][0]["family"] == "After"
        current = peer_client.read("Patient", pid)
        assert current is not None and current.version_id == result.version_id


@pytest.mark.peer
def test_peer_transaction_with_a_stale_if_match_fails_whole(peer_client: FhirClient) -> None:
    a_id, b_id = new_id(), new_id()
    _, v1 = peer_client.put("Patient", a_id, patient(a_id, "A1"))
    _, v2 = peer_client.put("Patient", a_id, patient(a_id, "A2"))
    assert v1 is not None and v2 is not None

    builder = TransactionBuilder()
    builder.add_put("Patient", b_id, patient(b_id, "B"))
    builder.add_put("Patient", a_id, patient(a_id, "A3"), if_match_version=v1)
    with pytest.raises(VersionConflictError):
        peer_client.transaction(builder)

    assert peer_client.read("Patient", b_id) is None
    current = peer_client.read("Patient", a_id)
    assert current is not None and current.version_id == v2


@pytest.mark.peer
def test_peer_enforces_its_transaction_limits(peer_client: FhirClient) -> None:
    # Sent raw, past the builder: the server itself refuses, after a round trip. At most 8
    # conditional entries (FieldChart sends none; bundle.py's docstring), never one twice.
    def raw(entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "transaction", "entry": entries}

    def cond(n: int) -> dict[str, Any]:
        return {
            "resource": {"resourceType": "Patient"},
            "request": {"method": "PUT", "url": f"Patient?identifier=urn:test|{n}"},
        }

    with pytest.raises(TransactionTooLargeError) as caught:  # a RejectedError: push halves
        peer_client.transaction(raw([cond(n) for n in range(9)]))
    assert caught.value.diagnostics == [
        "Transaction requires strict isolation but has too many entries"
    ]
    assert (caught.value.status, caught.value.entries) == (400, 9)
    accepted = peer_client.transaction(raw([cond(n) for n in range(8)]))
    assert {r.status for r in accepted} <= {200, 201}

    pid = new_id()
    twice = [{"resource": patient(pid), "request": {"method": "PUT", "url": f"Patient/{pid}"}}] * 2
    with pytest.raises(RejectedError) as twice_caught:
        peer_client.transaction(raw(twice))
    assert not isinstance(twice_caught.value, TransactionTooLargeError)  # not a size problem


@pytest.mark.peer
def test_peer_paging_by_last_updated_yields_each_of_250_patients_once(
    peer_client: FhirClient,
) -> None:
    ids: set[str] = set()
    stamps: list[str] = []
    for _ in range(5):
        builder = TransactionBuilder()
        for _ in range(50):
            pid = new_id()
            ids.add(pid)
            builder.add_put("Patient", pid, patient(pid))
        for result in peer_client.transaction(builder):
            assert result.resource is not None
            stamps.append(result.resource["meta"]["lastUpdated"])
    params = {"_lastUpdated": f"ge{min(stamps)}", "_sort": "_lastUpdated", "_count": "100"}

    pages = [len(p.get("entry", [])) for p in peer_client.iter_pages("Patient", params)]
    seen = [r["id"] for r in peer_client.iter_search("Patient", params)]

    assert pages == [100, 100, 50]
    assert len(seen) == 250 and set(seen) == ids


@pytest.mark.peer
def test_peer_bad_search_is_rejected_with_the_servers_diagnostics(peer_client: FhirClient) -> None:
    with pytest.raises(RejectedError) as caught:
        peer_client.search_page("Patient", {"birthdate": "not-a-date"})
    assert caught.value.status == 400
    assert caught.value.diagnostics == ["Invalid format for date search parameter: not-a-date"]
    assert "not-a-date" not in str(caught.value)


# -- TLS -------------------------------------------------------------------------------------

CAPABILITY = {
    "resourceType": "CapabilityStatement",
    "fhirVersion": "4.0.1",
    "rest": [{"mode": "server", "resource": [], "interaction": [{"code": "transaction"}]}],
}


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signer = (
        (x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]), issuer[1])
        if issuer
        else (name, key)
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=0), critical=True
        )
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        )
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        payload = json.dumps(CAPABILITY).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client refusing our certificate mid-handshake is the point of the test


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A loopback HTTPS FHIR endpoint whose certificate is signed by a private test CA."""
    tmp = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("FieldChart test CA", ca_key, None)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("127.0.0.1", leaf_key, ("FieldChart test CA", ca_key))
    ca_path, cert_path, key_path = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_tls_an_untrusted_certificate_is_refused_by_default(https_server: tuple[str, Path]) -> None:
    url, _ = https_server
    with FhirClient(url, timeout=5.0) as client, pytest.raises(TlsError) as caught:
        client.capabilities()
    err = caught.value
    assert isinstance(err, OfflineError)
    assert err.reason.startswith("certificate not trusted")
    assert "certificate not trusted" in str(err) and err.url == f"{url}/metadata"


def test_tls_the_configured_ca_bundle_is_trusted(https_server: tuple[str, Path]) -> None:
    url, ca_path = https_server
    with FhirClient(url, verify=ca_path, timeout=5.0) as client:
        assert client.capabilities().fhir_version == "4.0.1"
    with FhirClient(url, verify=str(ca_path), timeout=5.0) as client:
        assert client.capabilities().transaction


def test_tls_a_certificate_for_another_host_is_refused(https_server: tuple[str, Path]) -> None:
    url, ca_path = https_server
    with (
        FhirClient(url.replace("127.0.0.1", "localhost"), verify=ca_path, timeout=5.0) as client,
        pytest.raises(TlsError) as caught,
    ):
        client.capabilities()
    assert "certificate not trusted" in caught.value.reason


def test_tls_a_missing_ca_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CA bundle not found"):
        FhirClient("https://fhir.example.org", verify=tmp_path / "nope.pem")
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ValueError, match="not a PEM"):
        FhirClient("https://fhir.example.org", verify=bad)


def test_a_body_cut_short_on_a_real_connection_is_an_invalid_response() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n"
                b'Content-Length: 500\r\n\r\n{"resourceType": "Patient"'
            )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        with (
            FhirClient(f"http://127.0.0.1:{port}", timeout=5.0) as client,
            pytest.raises(InvalidResponseError) as caught,
        ):
            client.read("Patient", "p1")
        assert "cut short" in str(caught.value)
    finally:
        thread.join(timeout=5)
        listener.close()


def test_a_search_by_post_finds_a_list_of_ids_on_both_servers(fhir_server: FhirServer) -> None:
    """``POST Type/_search`` with the parameters as a form (lists too long for a URL)."""
    with fhir_server.client() as client:
        created = []
        for _ in range(3):
            mark = str(uuid.uuid4())
            made = client.create(
                "Patient",
                {"resourceType": "Patient", "identifier": [{"system": "urn:t", "value": mark}]},
            )
            created.append(str(made.resource["id"]))
        page = client.search_post("Patient", [("_id", ",".join(created[:2])), ("_count", "10")])
    assert sorted(e["resource"]["id"] for e in page.get("entry", [])) == sorted(created[:2])
