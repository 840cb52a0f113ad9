"""Politeness towards the FHIR server (docs/decisions.md, "Politeness"): short Retry-After waits
inside the client, longer ones left to the worker; 409 "could not serialize access" sent again
with backoff while a stale If-Match still goes to rebase; page sizes and transaction sizes that
adapt to the server's limits.

Every wait goes through an injected sleep that only records it (and moves an injected clock):
nothing here waits for real or reads the wall clock.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from sync.fhir.client import FALLBACK_COUNT, FhirClient
from sync.fhir.errors import (
    ConcurrentUpdateError,
    Issue,
    RateLimitedError,
    RejectedError,
    TransactionTooLargeError,
    VersionConflictError,
    error_from_response,
    parse_operation_outcome,
)
from sync.fhir.politeness import Politeness
from sync.fhir.retry_hints import is_concurrent_update, parse_rate_limit_reset, parse_retry_after
from tests.clock import SettableClock
from tests.peer.harness import PeerServer
from tests.reliability.politeness import SERIALIZATION_FAILURE

BASE = "https://fhir.example.org/r4"
Handler = Callable[[httpx.Request], httpx.Response]


class Sleeper:
    """The injected sleep: records each wait and moves the clock by it, never waits."""

    def __init__(self, clock: SettableClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds=seconds)


def fhir(status: int, body: Any = None, **headers: str) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(
        status, content=content, headers={"Content-Type": "application/fhir+json", **headers}
    )


def patient(pid: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "meta": {"versionId": "v1"}}


def scripted(*answers: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving these answers in turn (the last one repeated), and the requests seen."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]

    return handler, seen


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def sleeper(clock: SettableClock) -> Sleeper:
    return Sleeper(clock)


@pytest.fixture
def make_client(clock: SettableClock, sleeper: Sleeper) -> Iterator[Callable[..., FhirClient]]:
    clients: list[FhirClient] = []

    def make(handler: Handler, **politeness: Any) -> FhirClient:
        client = FhirClient(
            BASE,
            transport=httpx.MockTransport(handler),
            clock=clock,
            sleep=sleeper,
            rng=random.Random(7),
            politeness=Politeness(**politeness),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def serialization_failure() -> dict[str, Any]:
    """Medplum's answer (conflict(err.message, err.code) on PostgreSQL SQLSTATE 40001)."""
    return copy.deepcopy(SERIALIZATION_FAILURE)


def outcome(code: str, text: str) -> dict[str, Any]:
    issue = {"severity": "error", "code": code, "diagnostics": text}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def precondition_failed() -> dict[str, Any]:
    """Medplum's 412 to a stale If-Match."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "processing", "details": {"text": "Precondition Failed"}}
        ],
    }


# -- 429 / 503 with Retry-After ---------------------------------------------------------------


def test_429_with_a_short_retry_after_is_waited_out_and_the_request_sent_again(
    make_client: Callable[..., FhirClient], sleeper: Sleeper
) -> None:
    handler, seen = scripted(fhir(429, None, **{"Retry-After": "3"}), fhir(200, patient("p1")))
    client = make_client(handler)
    found = client.read("Patient", "p1")
    assert found is not None and found.version_id == "v1"
    assert len(seen) == 2 and sleeper.waits == [3.0]
    assert client.waited_s == 3.0


def test_503_with_an_http_date_retry_after_is_measured_against_the_servers_date(
    make_client: Callable[..., FhirClient], sleeper: Sleeper, clock: SettableClock
) -> None:
    # The server's clock is a day ahead of ours: its own Date header is the measure.
    server_now = clock.now + timedelta(days=1)
    busy = fhir(
        503,
        None,
        **{
            "Retry-After": format_datetime(server_now + timedelta(seconds=12), usegmt=True),
            "Date": format_datetime(server_now, usegmt=True),
        },
    )
    handler, seen = scripted(busy, fhir(200, patient("p1")))
    assert make_client(handler).read("Patient", "p1") is not None
    assert sleeper.waits == [12.0] and len(seen) == 2


def test_an_http_date_without_a_date_header_is_measured_on_the_injected_clock(
    make_client: Callable[..., FhirClient], sleeper: Sleeper, clock: SettableClock
) -> None:
    when = format_datetime(clock.now + timedelta(seconds=20), usegmt=True)
    handler, seen = scripted(fhir(429, None, **{"Retry-After": when}), fhir(200, patient("p1")))
    assert make_client(handler).read("Patient", "p1") is not None
    assert sleeper.waits == [20.0] and len(seen) == 2


def test_a_long_retry_after_ends_the_request_at_once_for_the_worker_to_schedule(
    make_client: Callable[..., FhirClient], sleeper: Sleeper
) -> None:
    handler, seen = scripted(fhir(429, None, **{"Retry-After": "31"}))
    with pytest.raises(RateLimitedError) as caught:
        make_client(handler).read("Patient", "p1")
    assert caught.value.retry_after_s == 31.0
    assert len(seen) == 1 and sleeper.waits == []


def test_after_a_long_wait_nothing_is_sent_until_it_is_over_whoever_asks(
    make_client: Callable[..., FhirClient], sleeper: Sleeper, clock: SettableClock
) -> None:
    # A caller that catches the RateLimitedError and goes on (a probe, a fallback) must not
    # hammer the server: the client itself holds off until the time the server gave.
    handler, seen = scripted(fhir(429, None, **{"Retry-After": "120"}), fhir(200, patient("p1")))
    client = make_client(handler)
    with pytest.raises(RateLimitedError):
        client.read("Patient", "p1")
    clock.advance(seconds=100)
    with pytest.raises(RateLimitedError) as caught:
        client.read("Patient", "p2")
    assert caught.value.retry_after_s == 20.0 and caught.value.status is None
    assert len(seen) == 1  # not sent
    clock.advance(seconds=20)
    assert client.read("Patient", "p1") is not None
    assert len(seen) == 2 and sleeper.waits == []


def test_the_engine_gives_the_client_its_clock_but_never_replaces_one(
    clock: SettableClock,
) -> None:
    other = SettableClock(clock.now + timedelta(days=3))
    with FhirClient(BASE) as bare, FhirClient(BASE, clock=clock) as given:
        bare.use_clock(other)
        given.use_clock(other)
        assert bare.clock is other and given.clock is clock


def test_a_429_without_retry_after_or_ratelimit_is_not_retried_by_the_client(
    make_client: Callable[..., FhirClient], sleeper: Sleeper
) -> None:
    handler, seen = scripted(fhir(429), fhir(503))
    client = make_client(handler)
    for _ in range(2):
        with pytest.raises(RateLimitedError) as caught:
            client.read("Patient", "p1")
        assert caught.value.retry_after_s is None  # the worker's backoff decides
    assert len(seen) == 2 and sleeper.waits == []


def test_medplums_ratelimit_header_stands_in_for_a_missing_retry_after(
    make_client: Callable[..., FhirClient], sleeper: Sleeper
) -> None:
    # Medplum sends no Retry-After; its RateLimit header says when the quota resets.
    limited = fhir(429, None, RateLimit='"requests";r=5994;t=60, "fhirInteractions";r=0;t=7')
    handler, seen = scripted(limited, fhir(200, patient("p1")))
    assert make_client(handler).read("Patient", "p1") is not None
    assert sleeper.waits == [7.0] and len(seen) == 2


def test_retries_of_one_request_are_bounded(
    make_client: Callable[..., FhirClient], sleeper: Sleeper
) -> None:
    handler, seen = scripted(fhir(429, None, **{"Retry-After": "1"}))
    with pytest.raises(RateLimitedError):
        make_client(handler, rate_limited_attempts=4).read("Patient", "p1")
    assert len(seen) == 4 and sleeper.waits == [1.0, 1.0, 1.0]


def test_the_wait_budget_is_per_cycle(
    make_client: Callable[..., FhirClient], sleeper: Sleeper, clock: SettableClock
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        # Each read is limited once, then served (the third read is given up on at once).
        seen.append(request)
        if len(seen) in (1, 3, 5, 6):
            return fhir(429, None, **{"Retry-After": "20"})
        return fhir(200, patient("p1"))

    client = make_client(handler, wait_budget_s=45)
    assert client.read("Patient", "p1") is not None  # waits 20
    assert client.read("Patient", "p1") is not None  # waits 20: 40 of 45
    with pytest.raises(RateLimitedError) as caught:  # 20 more would pass the budget
        client.read("Patient", "p1")
    assert caught.value.retry_after_s == 20.0
    assert sleeper.waits == [20.0, 20.0]
    clock.advance(seconds=20)  # the worker's wait before the next cycle
    client.begin_cycle()
    assert client.waited_s == 0.0
    assert client.read("Patient", "p1") is not None  # a new cycle may wait again
    assert sleeper.waits == [20.0, 20.0, 20.0] and len(seen) == 7


def test_a_write_that_was_rate_limited_is_sent_again_unchanged(
    make_client: Callable[..., FhirClient], sleeper: Sleeper
) -> None:
    pid = str(uuid.uuid4())
    handler, seen = scripted(
        fhir(429, None, **{"Retry-After": "2"}), fhir(200, patient(pid), ETag='W/"v2"')
    )
    written = make_client(handler).put("Patient", pid, patient(pid), if_match_version="v1")
    assert written.version_id == "v2"
    assert [r.content for r in seen] == [seen[0].content] * 2
    assert [r.headers["If-Match"] for r in seen] == ['W/"v1"'] * 2


# -- 409: serialization failure (send again) versus version conflict (rebase) -----------------


def test_a_409_serialization_failure_is_sent_again_with_growing_jittered_backoff(
    make_client: Callable[..., FhirClient], sleeper: Sleeper
) -> None:
    pid = str(uuid.uuid4())
    busy = fhir(409, serialization_failure())
    handler, seen = scripted(busy, busy, fhir(200, patient(pid)))
    written = make_client(handler).put("Patient", pid, patient(pid))
    assert written.resource["id"] == pid and len(seen) == 3
    first, second = sleeper.waits
    assert 0.125 <= first <= 0.25 and 0.25 <= second <= 0.5


def test_409_serialization_failures_are_bounded_then_a_retryable_error(
    make_client: Callable[..., FhirClient], sleeper: Sleeper
) -> None:
    pid = str(uuid.uuid4())
    handler, seen = scripted(fhir(409, serialization_failure()))
    with pytest.raises(ConcurrentUpdateError) as caught:
        make_client(handler, concurrent_update_attempts=3).put("Patient", pid, patient(pid))
    assert len(seen) == 3 and len(sleeper.waits) == 2
    assert caught.value.retryable and not isinstance(caught.value, VersionConflictError)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (412, precondition_failed()),  # Medplum: stale If-Match
        (
            409,
            outcome(
                "processing",
                "HAPI-0989: Trying to update Patient/1 but this is not the current version",
            ),
        ),
        (409, None),  # no OperationOutcome at all: in doubt, rebase
        (412, serialization_failure()),  # 412 is always If-Match
    ],
)
def test_a_stale_version_is_not_retried_but_goes_to_rebase(
    make_client: Callable[..., FhirClient], sleeper: Sleeper, status: int, body: Any
) -> None:
    pid = str(uuid.uuid4())
    handler, seen = scripted(fhir(status, body))
    with pytest.raises(VersionConflictError):
        make_client(handler).put("Patient", pid, patient(pid), if_match_version="v0")
    assert len(seen) == 1 and sleeper.waits == []


def test_the_409_rule_reads_the_operation_outcome() -> None:
    def issues(raw: dict[str, Any]) -> tuple[Issue, ...]:
        return parse_operation_outcome({"resourceType": "OperationOutcome", "issue": [raw]})

    transient = [
        serialization_failure()["issue"][0],
        {"severity": "error", "code": "conflict", "diagnostics": "deadlock detected"},
        {"severity": "error", "code": "transient"},
        {"severity": "error", "code": "lock-error"},
        {"severity": "error", "code": "conflict", "details": {"coding": [{"code": "40P01"}]}},
    ]
    version = [
        {"severity": "error", "code": "conflict", "diagnostics": "Key (id)=(x) already exists."},
        {"severity": "error", "code": "processing", "diagnostics": "Precondition Failed"},
        {"severity": "error", "code": "conflict"},
    ]
    assert all(is_concurrent_update(409, issues(raw)) for raw in transient)
    assert not any(is_concurrent_update(409, issues(raw)) for raw in version)
    assert not any(is_concurrent_update(412, issues(raw)) for raw in transient)


# -- Retry-After and RateLimit parsing --------------------------------------------------------


def test_parse_retry_after_never_reads_the_wall_clock(clock: SettableClock) -> None:
    when = format_datetime(clock.now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(when, clock=clock) == 90.0
    assert parse_retry_after(when) is None  # no Date, no clock: cannot be measured
    past = format_datetime(clock.now - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(past, clock=clock) == 0.0
    assert parse_retry_after("17") == 17.0
    assert parse_retry_after("soon", clock=clock) is None
    assert parse_retry_after(" ", clock=clock) is None


def test_parse_rate_limit_reset() -> None:
    assert parse_rate_limit_reset('"fhirInteractions";r=0;t=42') == 42.0
    assert parse_rate_limit_reset('"requests";r=9;t=60, "fhirInteractions";r=0;t=5') == 5.0
    assert parse_rate_limit_reset('"requests";r=9;t=60') == 60.0
    assert parse_rate_limit_reset("garbage") is None
    assert parse_rate_limit_reset(None) is None


# -- page sizes -------------------------------------------------------------------------------


def searchset(ids: list[str], next_url: str | None) -> dict[str, Any]:
    links = [{"relation": "next", "url": next_url}] if next_url else []
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": patient(i), "search": {"mode": "match"}} for i in ids],
    }


def test_pages_smaller_than_asked_are_followed_to_the_end(
    make_client: Callable[..., FhirClient],
) -> None:
    # Asked for 500, the server gives 20 at a time (Medplum's default, or its maximum).
    ids = [f"p{n}" for n in range(45)]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        offset = int(request.url.params.get("_offset", "0"))
        more = f"{BASE}/Patient?_count=20&_offset={offset + 20}" if offset + 20 < 45 else None
        return fhir(200, searchset(ids[offset : offset + 20], more))

    found = [r["id"] for r in make_client(handler).iter_search("Patient", {"_count": "500"})]
    assert found == ids and len(seen) == 3


def test_a_refused_count_falls_back_once_to_a_smaller_page(
    make_client: Callable[..., FhirClient],
) -> None:
    counts: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        counts.append(request.url.params.get("_count"))
        if request.url.params.get("_count") == "500":
            return fhir(400, outcome("invalid", "Search count exceeds maximum"))
        return fhir(200, searchset(["a", "b"], None))

    params = {"_sort": "_lastUpdated", "_count": "500"}
    found = [r["id"] for r in make_client(handler).iter_search("Patient", params)]
    assert found == ["a", "b"]
    assert counts == ["500", str(FALLBACK_COUNT)]


def test_a_small_refused_count_falls_back_to_the_servers_default_then_gives_up(
    make_client: Callable[..., FhirClient],
) -> None:
    queries: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        queries.append(str(request.url.query, "ascii"))
        return fhir(400, outcome("invalid", "bad search"))

    with pytest.raises(RejectedError):
        list(make_client(handler).iter_search("Patient", {"_sort": "_lastUpdated", "_count": "50"}))
    assert queries == ["_sort=_lastUpdated&_count=50", "_sort=_lastUpdated"]  # once, not more


# -- transaction sizes ------------------------------------------------------------------------


def transaction(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient(f"p{i}"), "request": {"method": "PUT", "url": f"Patient/p{i}"}}
            for i in range(n)
        ],
    }


@pytest.mark.parametrize(
    ("status", "text", "limit"),
    [
        (413, None, None),
        (400, "Transaction contains more update operations than allowed", None),
        (400, "Transaction requires strict isolation but has too many entries", None),
        (400, "Bundle contains 600 entries, which exceeds the maximum of 500", 500),
    ],
)
def test_a_transaction_refused_for_its_size_is_a_transaction_too_large_error(
    make_client: Callable[..., FhirClient], status: int, text: str | None, limit: int | None
) -> None:
    handler, seen = scripted(fhir(status, outcome("invalid", text) if text else None))
    with pytest.raises(TransactionTooLargeError) as caught:
        make_client(handler).transaction(transaction(12))
    err = caught.value
    assert isinstance(err, RejectedError) and not err.retryable
    assert (err.status, err.entries, err.limit) == (status, 12, limit)
    assert len(seen) == 1
    assert "Bundle contains" not in str(err)  # the diagnostics stay on .issues


def test_other_400s_and_non_transaction_413s_are_plain_rejections(
    make_client: Callable[..., FhirClient],
) -> None:
    handler, _ = scripted(fhir(400, outcome("invalid", "Invalid resource")))
    with pytest.raises(RejectedError) as caught:
        make_client(handler).transaction(transaction(2))
    assert not isinstance(caught.value, TransactionTooLargeError)
    pid = str(uuid.uuid4())
    handler, _ = scripted(fhir(413))
    with pytest.raises(RejectedError) as caught:
        make_client(handler).put("Patient", pid, patient(pid))
    assert not isinstance(caught.value, TransactionTooLargeError)
    assert "too large" in str(caught.value)


def test_error_from_response_maps_413_only_for_transactions() -> None:
    request = httpx.Request("POST", BASE)
    response = httpx.Response(413, request=request)
    assert isinstance(
        error_from_response(response, transaction_entries=3), TransactionTooLargeError
    )
    assert type(error_from_response(response)) is RejectedError


# -- against the in-memory peer ---------------------------------------------------------------


@pytest.mark.peer
def test_peer_behind_a_rate_limiter_loses_nothing_and_is_not_hammered(
    fhir_peer: PeerServer, clock: SettableClock, sleeper: Sleeper
) -> None:
    """Every third request is answered 429 Retry-After: 2 before it reaches the real peer: each
    write lands exactly once, and the client sends each request at most twice."""
    inner = httpx.HTTPTransport()
    sent: list[str] = []
    limited: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if len(sent) % 3 == 0:
            limited.append(sent[-1])
            return fhir(429, None, **{"Retry-After": "2"})
        response = inner.handle_request(request)
        response.read()
        return response

    ids = [str(uuid.uuid4()) for _ in range(10)]
    with FhirClient(
        fhir_peer.base_url, transport=httpx.MockTransport(handler), clock=clock, sleep=sleeper
    ) as client:
        for pid in ids:
            client.put("Patient", pid, {"resourceType": "Patient", "id": pid})
        for pid in ids:
            found = client.read("Patient", pid)
            assert found is not None and found.resource["id"] == pid
    inner.close()
    assert len(limited) > 0 and sleeper.waits == [2.0] * len(limited)
    assert len(sent) == 20 + len(limited)  # each limited request sent once more, no more
