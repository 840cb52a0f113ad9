"""An idle cycle — nothing to push, nothing changed on the server — is ONE request: the
incremental searches of every query in one batch Bundle, no CapabilityStatement read, no probe
(issue 14). A server that refuses batches gets one search per query, remembered."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from sync.engine import SyncEngine
from sync.fhir_mapper import FhirResourceMapper
from sync.scope import SyncScope
from tests.clock import SettableClock
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, make_device
from tests.sync.pull_fixtures import add_condition, add_facility, scoped, tag


def requests_of(device: Device) -> list[str]:
    """The device's requests during its next cycle, as "METHOD path"."""
    seen: list[str] = []

    def note(request: httpx.Request) -> httpx.Response | None:
        seen.append(f"{request.method} {request.url.path}")
        return None

    device.transport.before = note
    device.sync()
    device.transport.before = None
    return seen


@pytest.fixture
def device(fhir_server: FhirServer, tmp_path: Path, request: pytest.FixtureRequest) -> Device:
    made = make_device(tmp_path, "idle", fhir_server.base_url, fhir_server.auth(), up_to_date=True)
    request.addfinalizer(made.close)
    return made


def test_an_idle_cycle_without_a_scope_is_one_batch(
    fhir_server: FhirServer, device: Device
) -> None:
    device.sync()  # the first: may read the capabilities and probe the server (daily)
    [only] = requests_of(device)
    assert only.startswith("POST") and only.rstrip("/").endswith(
        httpx.URL(fhir_server.base_url).path.rstrip("/")
    )


def test_an_idle_cycle_of_a_scoped_device_is_one_batch(
    fhir_server: FhirServer, tmp_path: Path
) -> None:
    with fhir_server.client() as client:
        facility = add_facility(client, 2, f"I{tag()}")
    device = scoped(
        make_device(tmp_path, "s", fhir_server.base_url, fhir_server.auth()),
        SyncScope(organization=facility.organization),
    )
    try:
        first = device.sync()
        assert first.pulled == 4
        assert len(requests_of(device)) == 1
        # Something changed: still one request when it fits in the first pages.
        with fhir_server.client() as client:
            add_condition(client, facility.patients[0], "Asthma")
        assert len(requests_of(device)) == 1
        assert device.reports[-1].pulled_new == 1
    finally:
        device.close()


def test_a_server_that_refuses_batches_gets_one_search_per_query(device: Device) -> None:
    device.sync()

    def no_batch(request: httpx.Request) -> httpx.Response | None:
        body = request.content
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)  # a batch of many searches is sent compressed
        if request.method == "POST" and b'"batch"' in body:
            return httpx.Response(400, json={"resourceType": "OperationOutcome"})
        return None

    device.transport.before = no_batch
    device.sync()
    device.transport.before = None
    assert device.clinic.sync_gateway.journal("pull_batch_refused") is True
    searches = requests_of(device)
    assert len(searches) == len(device.engine._mapper.pull_types())
    assert all(s.startswith("GET") for s in searches)


def test_the_capability_statement_is_read_again_only_a_day_later(
    fhir_server: FhirServer, tmp_path: Path
) -> None:
    with fhir_server.client() as client:
        facility = add_facility(client, 1, f"D{tag()}")
    device = make_device(tmp_path, "d", fhir_server.base_url, fhir_server.auth())
    clock = SettableClock()
    mapper = FhirResourceMapper(device.clinic.catalog)
    scope = SyncScope(organization=facility.organization)
    device.engine = SyncEngine(
        device.clinic.sync_gateway, device.client, mapper, clock, scope=scope
    )
    try:
        first = requests_of(device)
        assert sum(r.endswith("/metadata") for r in first) == 1
        clock.advance(hours=23)
        assert len(requests_of(device)) == 1
        clock.advance(hours=2)
        later = requests_of(device)
        # The scope's strategy decided again, the atomicity probe, and the batch of searches.
        assert sum(r.endswith("/metadata") for r in later) == 1
        assert len(later) == 3
        assert len(requests_of(device)) == 1
    finally:
        device.close()
