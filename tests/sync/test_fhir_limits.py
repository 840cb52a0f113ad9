"""A server cannot make the client hold an answer larger than the request can need, nor keep a
request or a sync cycle past its deadline (issue 15, items 5 and 6). The network is an
``httpx.MockTransport`` whose answers arrive as streams; time is a timer the stream steps."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sync.fhir.auth import ClientCredentialsAuth
from sync.fhir.bounded_body import MIB, BodyLimit, ResponseLimits, search_params
from sync.fhir.client import FhirClient
from sync.fhir.deadline import DeadlineBackend, Deadlines
from sync.fhir.errors import DeadlineError, InvalidResponseError, ResponseTooLargeError

BASE = "https://fhir.example.org/r4"
PATIENT = b'{"resourceType":"Patient","id":"p1"}'
SMALL = ResponseLimits(resource_bytes=4096, entry_bytes=1024, bundle_bytes=2048)


class Timer:
    """Monotonic seconds that the tests (and the streams below) move on."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def streamed(chunks: Iterator[bytes], **headers: str) -> httpx.Response:
    """An answer that arrives chunk by chunk (not read in advance, as a network's)."""
    return httpx.Response(
        200, headers={"Content-Type": "application/fhir+json", **headers}, content=chunks
    )


def client(
    answer: Callable[[httpx.Request], httpx.Response],
    timer: Timer | None = None,
    **kw: Any,
) -> tuple[FhirClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    made = FhirClient(
        BASE,
        transport=httpx.MockTransport(handler),
        limits=SMALL,
        deadlines=Deadlines(request_s=10.0, cycle_s=30.0),
        timer=timer or Timer(),
        **kw,
    )
    return made, seen


def endless(pulled: list[int]) -> Iterator[bytes]:
    while True:
        pulled.append(1)
        yield b" " * 1000


# -- size --------------------------------------------------------------------------------------


def test_an_endless_answer_is_read_only_up_to_the_limit_of_what_was_asked() -> None:
    pulled: list[int] = []
    c, _ = client(lambda r: streamed(endless(pulled)))
    with c, pytest.raises(ResponseTooLargeError) as caught:
        c.read("Patient", "p1")
    assert caught.value.limit == 4096 and caught.value.retryable
    assert "one resource" in str(caught.value) and "4 KB" in str(caught.value)
    assert len(pulled) <= 5 + 64  # the limit (4 KB) plus the slack for compression overhead


def test_a_declared_length_over_the_limit_is_refused_before_reading_anything() -> None:
    pulled: list[int] = []
    c, _ = client(lambda r: streamed(endless(pulled), **{"Content-Length": str(2 * 1024 * MIB)}))
    with c, pytest.raises(ResponseTooLargeError):
        c.read("Patient", "p1")
    assert pulled == []


def test_a_gzip_bomb_stops_at_the_limit_of_the_inflated_size() -> None:
    bomb = gzip.compress(b" " * (64 * MIB))  # 64 KB that inflate to 64 MB
    c, _ = client(lambda r: streamed(iter([bomb]), **{"Content-Encoding": "gzip"}))
    with c, pytest.raises(ResponseTooLargeError):
        c.read("Patient", "p1")


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        ("identity", lambda data: data),
    ],
)
def test_compressed_answers_within_the_limit_are_decoded(
    encoding: str, pack: Callable[[bytes], bytes]
) -> None:
    body = pack(PATIENT)
    c, _ = client(lambda r: streamed(iter([body[:5], body[5:]]), **{"Content-Encoding": encoding}))
    with c:
        found = c.read("Patient", "p1")
    assert found is not None and found.resource["id"] == "p1"


def test_an_encoding_we_did_not_ask_for_is_refused_and_we_ask_for_gzip_and_deflate_only() -> None:
    c, seen = client(lambda r: streamed(iter([PATIENT]), **{"Content-Encoding": "br"}))
    with c, pytest.raises(InvalidResponseError, match="did not ask for"):
        c.read("Patient", "p1")
    assert seen[0].headers["Accept-Encoding"] == "gzip, deflate"


def test_limits_follow_the_request() -> None:
    limits = ResponseLimits()
    page = limits.search([("_count", "500")])
    assert page == BodyLimit(limits.bundle_bytes + 500 * limits.entry_bytes, page.what)
    assert limits.search([("_count", "10"), ("_include", "Patient:organization")]).max_bytes == (
        limits.bundle_bytes + 20 * limits.entry_bytes
    )
    unstated = limits.search(search_params("Patient?name=x&page=3", None))
    assert unstated.max_bytes == limits.bundle_bytes + 1000 * limits.entry_bytes
    assert limits.search([("_summary", "count")]).max_bytes < 2 * MIB
    assert limits.entries(50, "t").max_bytes == limits.bundle_bytes + 50 * limits.entry_bytes


def test_a_transaction_answer_may_be_as_large_as_its_entries_need_and_no_larger() -> None:
    entries = [{"response": {"status": "201"}}] * 2
    good = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "id": f"p{i}"},
                "request": {"method": "PUT", "url": f"Patient/p{i}"},
            }
            for i in range(2)
        ],
    }
    c, _ = client(lambda r: httpx.Response(200, json=good))
    with c:
        assert len(c.transaction(bundle)) == 2
    pulled: list[int] = []
    c, _ = client(lambda r: streamed(endless(pulled)))
    with c, pytest.raises(ResponseTooLargeError, match="transaction response of 2 entries"):
        c.transaction(bundle)


def test_the_token_answer_is_bounded_too() -> None:
    pulled: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return streamed(endless(pulled))
        return httpx.Response(200, content=PATIENT)

    auth = ClientCredentialsAuth("https://auth.example.org/token", "device", "secret")
    c, seen = client(answer, auth=auth)
    with c, pytest.raises(ResponseTooLargeError, match="token response"):
        c.read("Patient", "p1")
    assert len(pulled) <= 64 + 64 + 1 and len(seen) == 1  # nothing went to the FHIR server


# -- time --------------------------------------------------------------------------------------


def test_a_dripping_answer_fails_at_the_requests_deadline() -> None:
    timer = Timer()

    def drip() -> Iterator[bytes]:
        for byte in PATIENT:
            timer.now += 5.0  # one byte every 5 s: each read is quick, the whole is not
            yield bytes([byte])

    c, _ = client(lambda r: streamed(drip()), timer)
    started = timer.now
    with c, pytest.raises(DeadlineError) as caught:
        c.read("Patient", "p1")
    assert not caught.value.cycle and caught.value.retryable
    assert timer.now - started <= 10.0 + 5.0  # the deadline, plus the one step that passed it
    assert "within 10 s" in str(caught.value)


def test_a_cycle_stops_at_its_deadline_between_requests_and_sends_nothing_more() -> None:
    timer = Timer()

    def slow(request: httpx.Request) -> httpx.Response:
        timer.now += 8.0  # each answer within the request's deadline
        return httpx.Response(200, content=PATIENT)

    c, seen = client(slow, timer)
    with c:
        c.begin_cycle()
        done = 0
        with pytest.raises(DeadlineError) as caught:
            while True:
                c.read("Patient", "p1")
                done += 1
        assert caught.value.cycle and "sync cycle reached its time limit of 30 s" in str(
            caught.value
        )
        assert done == 3 and len(seen) == 4  # the 4th ran into the cycle's end; no 5th sent
        c.begin_cycle()  # the next cycle has its full time again
        assert c.read("Patient", "p1") is not None


def test_without_an_injected_transport_the_network_is_bounded_by_the_deadline() -> None:
    with FhirClient(BASE) as c:
        pool = c._http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, DeadlineBackend)


def test_a_refusal_of_a_cached_token_is_read_only_up_to_a_token_answers_size() -> None:
    pulled: list[int] = []
    answers = {"fhir": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        answers["fhir"] += 1
        if answers["fhir"] == 1:
            return httpx.Response(200, content=PATIENT)
        return httpx.Response(401, content=endless(pulled))  # the token was "revoked"

    auth = ClientCredentialsAuth("https://auth.example.org/token", "device", "secret")
    c, seen = client(answer, auth=auth)
    with c:
        c.read("Patient", "p1")  # the token is cached now
        with pytest.raises(ResponseTooLargeError, match="refusal of a token"):
            c.read("Patient", "p1")
    assert 0 < len(pulled) <= 64 + 64 + 1
    assert [r.url.path for r in seen][-1] == "/r4/Patient/p1"  # no new token was asked for
