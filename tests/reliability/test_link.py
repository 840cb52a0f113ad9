"""The link simulator (tests/reliability/link.py) does what the bench and the scenarios rely on:
latency and bandwidth are at least what was asked (lower bounds only: a loaded machine is only
ever slower), the byte counters are exact, a cut cuts and a restore restores, and the faults of
the fault proxy still apply. Durations are measured with time.monotonic (elapsed time, not the
time of day)."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from sync.fhir.client import FhirClient
from tests.peer.harness import PeerServer
from tests.reliability.link import CountingTransport, Link, LinkProfile, request_kind
from tests.reliability.proxy import FaultPlan


class _Handler(BaseHTTPRequestHandler):
    """GET /bytes/<n>: n bytes of body; POST: the body echoed."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/page":
            self._page()
            return
        size = int(self.path.rsplit("/", 1)[-1])
        self._answer(b"x" * size)

    def _page(self) -> None:
        """A searchset with an absolute next link naming this server, gzipped when asked."""
        link = {"relation": "next", "url": f"http://{self.headers['Host']}/page?_cursor=2"}
        entries = [{"resource": {"resourceType": "Patient", "id": f"p{i}"}} for i in range(200)]
        body = json.dumps({"resourceType": "Bundle", "type": "searchset", "link": [link],
                           "entry": entries}).encode()  # fmt: skip
        gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
        self.send_response(200)
        if gzipped:
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(body)

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def origin() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _timed_get(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = client.get(url)
    return time.monotonic() - started, response


def test_a_download_takes_at_least_its_bytes_over_the_bandwidth(origin: int) -> None:
    profile = LinkProfile("test", 0.0, 256)
    with Link(origin, profile) as link, httpx.Client(base_url=link.base_url) as client:
        elapsed, response = _timed_get(client, "/bytes/16384")
        traffic = link.traffic()
    assert response.content == b"x" * 16384
    assert traffic.bytes_down > 16384
    assert elapsed >= profile.transfer_s(traffic.bytes_down) >= 0.5


def test_a_round_trip_takes_at_least_the_rtt_and_a_new_connection_one_more(origin: int) -> None:
    profile = LinkProfile("test", 0.3, None)
    with Link(origin, profile) as link, httpx.Client(base_url=link.base_url) as client:
        first, _ = _timed_get(client, "/bytes/10")
        second, response = _timed_get(client, "/bytes/10")
        assert link.traffic().connections == 1
    assert response.content == b"x" * 10
    assert first >= 2 * profile.rtt_s  # the handshake's round trip, then the request's
    assert second >= profile.rtt_s


def test_the_bandwidth_is_shared_by_every_connection_like_one_modem(origin: int) -> None:
    profile = LinkProfile("test", 0.0, 256)
    with Link(origin, profile) as link:
        clients = [httpx.Client(base_url=link.base_url) for _ in range(2)]
        for client in clients:  # connected first: only the downloads share the line below
            client.get("/bytes/1")
        start = threading.Barrier(3)
        before = link.traffic()

        def fetch(client: httpx.Client) -> None:
            start.wait()
            client.get("/bytes/8192")

        threads = [threading.Thread(target=fetch, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        start.wait()
        started = time.monotonic()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        traffic = link.traffic() - before
        for client in clients:
            client.close()
    # Both at once took as long as both one after the other: one line, not one per connection
    # (with a line each they would have taken half).
    assert traffic.bytes_down > 2 * 8192
    assert elapsed >= profile.transfer_s(traffic.bytes_down) * 0.98


def _raw_exchange(port: int, request: bytes) -> bytes:
    """Send request bytes and read one whole answer (headers and Content-Length body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += sock.recv(65536)
        return received[: len(head) + 4] + body


def test_the_byte_counters_are_exact_both_ways(origin: int) -> None:
    body = b"y" * 5000
    request = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
        b"Connection: keep-alive\r\n\r\n" + body
    )
    with Link(origin, LinkProfile("test", 0.0, 10_000)) as link:
        answer = _raw_exchange(link.port, request)
        traffic = link.traffic()
    assert answer.endswith(body)
    assert traffic.bytes_up == len(request)
    assert traffic.bytes_down == len(answer)
    assert traffic.connections == 1


def test_a_cut_resets_open_connections_and_refuses_new_ones_until_restored(origin: int) -> None:
    with Link(origin, LinkProfile("test", 0.0, None)) as link:
        with httpx.Client(base_url=link.base_url) as client:
            assert client.get("/bytes/10").status_code == 200
            link.cut()
            with pytest.raises(httpx.TransportError):
                client.get("/bytes/10")
        with httpx.Client(base_url=link.base_url) as fresh, pytest.raises(httpx.TransportError):
            fresh.get("/bytes/10")
        link.restore()
        with httpx.Client(base_url=link.base_url) as again:
            assert again.get("/bytes/10").content == b"x" * 10


def test_a_cut_after_n_bytes_downstream_delivers_exactly_n_then_drops(origin: int) -> None:
    with Link(origin, LinkProfile("test", 0.0, None)) as link:
        link.cut_after_down(3000)
        received = b""
        with socket.create_connection(("127.0.0.1", link.port), timeout=10) as sock:
            sock.sendall(b"GET /bytes/20000 HTTP/1.1\r\nHost: x\r\n\r\n")
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
        assert len(received) == 3000
        assert link.traffic().bytes_down == 3000
        assert link.is_cut
        link.restore()
        with httpx.Client(base_url=link.base_url) as client:
            assert client.get("/bytes/100").content == b"x" * 100


def test_the_fault_proxys_faults_still_apply_behind_the_link(origin: int) -> None:
    plan = FaultPlan(1, rates={"503": 1.0})
    with Link(origin, LinkProfile("test", 0.0, None), plan=plan) as link:
        with httpx.Client(base_url=link.base_url) as client:
            response = client.get("/bytes/10")
        assert link.faults.forwarded == 0
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert plan.applied["503"] == 1


def test_the_counting_transport_counts_every_request_by_kind(origin: int) -> None:
    counting = CountingTransport()
    with (
        Link(origin, LinkProfile("test", 0.0, None)) as link,
        httpx.Client(base_url=link.base_url, transport=counting) as client,
    ):
        client.get("/bytes/1")
        client.get("/bytes/2")
        client.post("/", content=b"{}")
        assert link.faults.forwarded == 3
    assert counting.total == 3
    assert counting.snapshot() == {"GET read": 2, "POST bundle": 1}


@pytest.mark.parametrize(
    ("method", "path", "query", "kind"),
    [
        ("GET", "/metadata", "", "GET metadata"),
        ("GET", "/fhir/R4/metadata", "", "GET metadata"),
        ("GET", "/Patient", "_count=100", "GET search"),
        ("GET", "/Patient", "_cursor=2-1700", "GET page"),
        ("GET", "/fhir/R4/Patient/abc", "", "GET read"),
        ("POST", "/", "", "POST bundle"),
        ("POST", "/fhir/R4/", "", "POST bundle"),
        ("POST", "/Observation/_search", "", "POST search"),
        ("PUT", "/Patient/abc", "", "PUT"),
    ],
)
def test_request_kinds(method: str, path: str, query: str, kind: str) -> None:
    assert request_kind(method, path, query) == kind


def test_a_fhir_client_pages_through_the_link_with_every_request_counted(
    fhir_peer: PeerServer,
) -> None:
    """The peer's absolute next links are rewritten to the link's origin: paging travels the
    link (the fault proxy behind it forwarded every request the client counted)."""
    entries = [
        {
            "resource": {"resourceType": "Patient", "id": f"p{i}", "active": True},
            "request": {"method": "PUT", "url": f"Patient/p{i}"},
        }
        for i in range(25)
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    httpx.post(fhir_peer.base_url, json=bundle, timeout=30).raise_for_status()
    counting = CountingTransport()
    assert fhir_peer.port is not None
    with Link(fhir_peer.port, LinkProfile("test", 0.02, None)) as link:
        with FhirClient(link.base_url, transport=counting) as client:
            pages = list(client.iter_pages("Patient", {"_count": "10"}))
        forwarded = link.faults.forwarded
        traffic = link.traffic()
    assert sum(len(page.get("entry", [])) for page in pages) == 25
    assert len(pages) == 3
    assert counting.total == forwarded == 3
    assert counting.snapshot()["GET search"] == 1
    assert traffic.bytes_down > 25 * 40


def test_gzip_answers_cross_the_link_compressed_with_their_next_links_rewritten(
    origin: int,
) -> None:
    with Link(origin, LinkProfile("test", 0.0, None)) as link:
        with httpx.Client(base_url=link.base_url) as client:  # asks for gzip, as FhirClient does
            response = client.get("/page")
        traffic = link.traffic()
    assert response.headers["Content-Encoding"] == "gzip"
    page = response.json()
    assert page["link"][0]["url"] == f"{link.base_url}/page?_cursor=2"
    assert len(page["entry"]) == 200
    assert traffic.bytes_down < len(response.content) / 3  # compressed on the wire
