"""The sync panel's view of sync (ClinicSync) on a real clinic, against the in-memory FHIR peer
and against a real FHIR server (tests/realfhir)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.services.sync_status import Resolution, SyncState, SyncStatus
from sync.clinic_sync import ClinicSync
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, devices_on

ADMIN = Actor("admin", Role.ADMIN)


@pytest.fixture
def pair(fhir_server: FhirServer, tmp_path: Path) -> Iterator[tuple[Device, Device]]:
    with devices_on(fhir_server, tmp_path, "a", "b") as made:
        yield made["a"], made["b"]


def wait_for(sync: ClinicSync, predicate, timeout: float = 30) -> SyncStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sync.status()
        if predicate(status):
            return status
        time.sleep(0.02)
    raise AssertionError(f"sync never reached the expected state: {sync.status()}")


def test_not_configured_until_a_server_is_enrolled(
    pair: tuple[Device, Device], fhir_server: FhirServer
) -> None:
    a, _ = pair
    a.run(c.RegisterPatient(given="Zuhura", family="Said", birth_date="1970-01-01", sex="female"))
    sync = ClinicSync(a.clinic)
    try:
        assert (sync.status().state, sync.status().pending) == (SyncState.NOT_CONFIGURED, 1)
        a.clinic.settings.update(ADMIN, **fhir_server.settings())
        sync.reconfigure()
        status = wait_for(sync, lambda s: s.state is SyncState.IDLE and s.last_success_at)
        assert (status.pending, status.server_url) == (0, fhir_server.base_url)
    finally:
        sync.stop()


def test_a_conflict_shows_both_values_and_keep_mine_settles_it(
    pair: tuple[Device, Device], fhir_server: FhirServer
) -> None:
    a, b = pair
    pid = a.run(
        c.RegisterPatient(
            given="Zuhura",
            family="Said",
            birth_date="1970-01-01",
            sex="female",
            phone="+255 700 000 009",
        )
    ).patient_id
    a.sync()
    b.sync()
    a.run(
        c.UpdateDemographics(
            patient_id=pid,
            changes={"phone": c.FieldChange(new="+255 711 000 001", expected="+255 700 000 009")},
        )
    )
    b.run(
        c.UpdateDemographics(
            patient_id=pid,
            changes={"phone": c.FieldChange(new="+255 722 000 002", expected="+255 700 000 009")},
        )
    )
    b.sync()
    a.clinic.settings.update(ADMIN, **fhir_server.settings())
    sync = ClinicSync(a.clinic, actor=Actor("doc", Role.CLINICIAN))
    seen: list[SyncStatus] = []
    sync.subscribe(seen.append)
    try:
        status = wait_for(sync, lambda s: s.needs_attention == 1 and s.attention)
        [item] = status.attention
        assert (item.field, item.mine, item.servers) == (
            "phone",
            "+255 711 000 001",
            "+255 722 000 002",
        )
        sync.resolve(item.command_id, Resolution.KEEP_MINE)
        wait_for(
            sync, lambda s: s.needs_attention == 0 and s.pending == 0 and s.state is SyncState.IDLE
        )
    finally:
        sync.stop()
    assert any(s.state is SyncState.SYNCING for s in seen)
    b.sync()
    assert b.clinic.queries.patient(pid).phone == "+255 711 000 001"  # type: ignore[union-attr]
