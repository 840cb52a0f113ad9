"""Plain http only to this machine (issue 15, item 4), and a server's wait that is capped and
that "Sync now" overrides (item 7)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.domain.errors import ValidationError
from app.services.server_address import is_loopback_host, plain_http_refusal
from app.services.settings import DeviceSettings, validate
from app.services.sync_status import SyncState
from sync.fhir.auth import BearerAuth, ClientCredentialsAuth
from sync.fhir.client import FhirClient
from sync.fhir.errors import PlainHttpRefusedError, RateLimitedError
from sync.fhir.retry_hints import MAX_RETRY_AFTER_S, parse_rate_limit_reset, parse_retry_after
from sync.worker import SyncWorker, retry_after_delay
from tests.clock import SettableClock

PATIENT = b'{"resourceType":"Patient","id":"p1"}'


def counting() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "a", "token_type": "bearer"})
        return httpx.Response(200, content=PATIENT)

    return httpx.MockTransport(handler), seen


# -- plain http --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST", "peer.localhost", "127.0.0.1", "127.3.4.5", "[::1]"]
)
def test_plain_http_to_this_machine_is_allowed(host: str) -> None:
    assert is_loopback_host(host.strip("[]"))
    transport, seen = counting()
    with FhirClient(f"http://{host}:8080/fhir", transport=transport) as client:
        assert client.read("Patient", "p1") is not None
    assert len(seen) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://fhir.clinic.lan/R4",
        "http://10.0.0.5/fhir",
        "http://127.0.0.1.nip.io/fhir",  # a name that resolves to loopback is not this machine
        "http://[fe80::1]/fhir",
        "HTTP://Fhir.Clinic.Lan/R4",
    ],
)
def test_plain_http_to_another_machine_sends_nothing_whatever_the_auth(url: str) -> None:
    host = httpx.URL(url).host
    for auth in (None, BearerAuth("t0ken", allow_insecure_http=True)):
        transport, seen = counting()
        with (
            FhirClient(url, auth, transport=transport) as client,
            pytest.raises(PlainHttpRefusedError) as caught,
        ):
            client.search_page("Patient", {"name": "Ødegård"})
        assert seen == []  # refused before the transport: nothing sent, not even connected
        message = str(caught.value)
        assert host in message and "https://" in message and "Ødegård" not in message
        assert not caught.value.retryable  # a person must change the address


def test_a_plain_http_token_url_is_refused_before_anything_is_sent() -> None:
    transport, seen = counting()
    auth = ClientCredentialsAuth(
        "http://auth.clinic.lan/token", "device", "secret", allow_insecure_http=True
    )
    with (
        FhirClient("https://fhir.clinic.lan/R4", auth, transport=transport) as client,
        pytest.raises(PlainHttpRefusedError, match=r"auth\.clinic\.lan"),
    ):
        client.read("Patient", "p1")
    assert seen == []


@pytest.mark.parametrize("field", ["server_url", "token_url"])
def test_settings_refuse_plain_http_to_another_machine(field: str) -> None:
    settings = DeviceSettings(
        server_url="https://fhir.clinic.lan/R4",
        auth_mode="client-secret-basic",
        token_url="https://auth.clinic.lan/token",
        client_id="device",
        client_secret="secret",
    )
    with pytest.raises(ValidationError) as caught:
        validate(DeviceSettings(**{**settings.__dict__, field: "http://clinic.lan/x"}))
    assert caught.value.field == field
    assert "clinic.lan" in str(caught.value) and "https://" in str(caught.value)
    local = {field: "http://127.0.0.1:8080/x"}
    assert validate(DeviceSettings(**{**settings.__dict__, **local})) is not None
    assert plain_http_refusal("https://clinic.lan/x") is None


# -- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("999999999", MAX_RETRY_AFTER_S),
        ("9" * 400, MAX_RETRY_AFTER_S),  # float() of it is inf: once an OverflowError
        ("Thu, 01 Jan 2059 00:00:00 GMT", MAX_RETRY_AFTER_S),
        ("Wed, 02 Dec 2026 10:00:30 GMT", 30.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("²", None),  # a digit to str.isdigit, not to float()
        ("Mon, 01 Jan 99999 00:00:00 GMT", None),
    ],
)
def test_retry_after_is_capped_and_garbage_ignored(value: str, expected: float | None) -> None:
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert parse_retry_after(value, clock=lambda: now) == expected


def test_a_ratelimit_reset_is_capped_too() -> None:
    assert parse_rate_limit_reset('"q";r=0;t=99999999') == MAX_RETRY_AFTER_S


def test_the_worker_caps_a_wait_it_is_given_and_never_stays_syncing() -> None:
    assert retry_after_delay(float("inf"), random.Random(1)) <= MAX_RETRY_AFTER_S + 30
    clock = SettableClock()
    worker = SyncWorker(
        lambda p: (_ for _ in ()).throw(RateLimitedError("busy", retry_after_s=1e400)),
        server_url="https://fhir.example.org",
        interval_s=300,
        clock=clock,
    )
    worker._tick()
    status = worker.status()
    assert status.state is SyncState.OFFLINE
    wait = datetime.fromisoformat(status.next_attempt_at or "") - clock.now
    assert timedelta(hours=1) <= wait <= timedelta(hours=1, seconds=30)


def test_sync_now_overrides_the_servers_wait_in_the_worker_and_in_the_client() -> None:
    clock = SettableClock()
    answers = [httpx.Response(429, headers={"Retry-After": "999999999"})]
    transport, seen = counting()

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else transport.handle_request(request)

    client = FhirClient(
        "https://fhir.example.org/r4", transport=httpx.MockTransport(handler), clock=clock
    )

    def cycle(progress: object) -> None:
        client.begin_cycle()
        client.read("Patient", "p1")

    worker = SyncWorker(cycle, server_url="https://fhir.example.org", interval_s=300, clock=clock)
    with client:
        worker._tick()
        assert worker.status().state is SyncState.OFFLINE
        clock.now += timedelta(minutes=5)
        worker._tick()  # an interval tick waits as the server asked (at most an hour)
        assert seen == []
        worker._tick(manual=True)  # "Sync now": the server has recovered
        assert worker.status().state is SyncState.IDLE and len(seen) == 1
