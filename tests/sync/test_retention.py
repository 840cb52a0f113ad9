"""Who leaves the device (issue 14), against the in-memory peer and the real server: a patient
the server moved to another Organization leaves after the next membership check (at most
daily), one with a pending command stays and is reported; a visiting patient leaves after N
days without activity (injected clock), not while an encounter is open."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from app.services.retention import RetentionService
from app.store.purge import HOLD_PENDING
from sync.engine import SyncEngine
from sync.fhir.client import FhirClient
from sync.fhir_mapper import FhirResourceMapper
from sync.retention import (
    EMPTY_MEMBERSHIP,
    REMOVED_KEY,
    RESCOPED,
    TRANSFERRED,
    VISIT_DAYS,
    VISIT_ENDED,
    VISITING_KEY,
    RetentionEntry,
    RetentionReport,
    apply_retention,
    latest_retention_report,
    retention_hook,
)
from sync.scope import SyncScope
from tests.clinic_fixtures import FakeClock
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, devices_on

NAMES = ("Zawadi", "Kiprotich", "1977-07-07", "+255 700 111 222")


@pytest.fixture
def device(fhir_server: FhirServer, tmp_path: Path) -> Iterator[Device]:
    with devices_on(fhir_server, tmp_path, "a") as made:
        yield made["a"]


def organization(client: FhirClient, name: str) -> str:
    made = client.create("Organization", {"resourceType": "Organization", "name": name})
    return f"Organization/{made.resource['id']}"


def register(device: Device) -> str:
    given, family, birth_date, phone = NAMES
    command = c.RegisterPatient(
        given=given, family=family, birth_date=birth_date, sex="male", phone=phone
    )
    pid = device.run(command).patient_id
    assert pid is not None
    return pid


def server_id(device: Device, patient_id: str) -> str:
    found = retention_of(device).local_patients()[patient_id]
    assert found is not None, "the patient is not on the server yet"
    return found


def move(device: Device, patient_id: str, org: str) -> None:
    """The district moves the patient (their managingOrganization) on the server."""
    sid = server_id(device, patient_id)
    current = device.client.read("Patient", sid)
    assert current is not None
    body = {**current.resource, "managingOrganization": {"reference": org}}
    device.client.put("Patient", sid, body, current.version_id)


def retention_of(device: Device) -> RetentionService:
    clinic = device.clinic
    return RetentionService(clinic.vault, clinic.runner, clinic.clock)


def run(
    device: Device, scope: SyncScope, clock: FakeClock, visit_days: int = VISIT_DAYS
) -> RetentionReport:
    return apply_retention(
        retention_of(device),
        device.clinic.sync_gateway,
        device.client,
        scope,
        clock,
        visit_days=visit_days,
    )


def test_a_transferred_patient_leaves_after_the_daily_check_a_pending_one_is_kept(
    device: Device,
) -> None:
    here, there = organization(device.client, "Here"), organization(device.client, "There")
    moved, held, stays = register(device), register(device), register(device)
    device.sync()
    for pid in (moved, held, stays):
        move(device, pid, here)
    clock = FakeClock(device.clock())
    scope = SyncScope(organization=here)

    first = run(device, scope, clock)
    assert first.membership_checked and first.members == 3
    assert (mine(first.removed, moved, held, stays), first.kept) == ([], ())

    move(device, moved, there)
    move(device, held, there)
    device.run(c.AddNote(patient_id=held, text="Phoned about results"))  # not sent yet
    clock.advance(hours=3)
    quiet = run(device, scope, clock)
    assert not quiet.membership_checked  # at most daily
    assert latest_retention_report(device.clinic.sync_gateway) == first  # status keeps it
    assert device.clinic.queries.patient(moved) is not None

    clock.advance(days=1)
    report = run(device, scope, clock)

    assert report.membership_checked and report.members == 1
    assert mine(report.removed, moved, held, stays) == [(moved, TRANSFERRED)]
    assert [(e.patient_id, e.held_by) for e in report.kept] == [(held, (HOLD_PENDING,))]
    assert device.clinic.queries.patient(moved) is None
    assert device.clinic.queries.patient(held) is not None
    assert device.clinic.queries.patient(stays) is not None
    device.clinic.vault.events.verify()
    assert latest_retention_report(device.clinic.sync_gateway) == report
    stored = json.dumps(report.to_json()) + "\n".join(report.lines())
    assert not [word for word in NAMES if word in stored]
    assert f"kept {held}" in "\n".join(report.lines())

    device.sync()  # the note goes to the server: nothing of theirs is pending any more
    clock.advance(hours=1)
    retried = run(device, scope, clock)  # tried again at once, without a membership check
    assert not retried.membership_checked
    assert mine(retried.removed, moved, held, stays) == [(held, TRANSFERRED)]
    assert retried.kept == ()
    clock.advance(days=1)
    after = run(device, scope, clock)
    # This device's own settings name no scope, so its pull (everything) brought `moved`'s
    # new version back meanwhile; out of scope, it leaves again.
    assert set(mine(after.removed, moved, held, stays)) <= {(moved, TRANSFERRED)}
    assert after.kept == ()
    assert device.clinic.queries.patient(held) is None
    assert device.clinic.queries.patient(moved) is None
    assert device.clinic.queries.patient(stays) is not None
    device.clinic.vault.events.verify()


def test_a_rescoped_device_lets_go_of_the_old_facility_and_pulls_a_returning_patient(
    device: Device,
) -> None:
    here, there = organization(device.client, "Here"), organization(device.client, "There")
    ours, theirs = register(device), register(device)
    device.run(c.AddNote(patient_id=theirs, text="Seen for a cough"))
    device.sync()
    move(device, ours, here)
    move(device, theirs, there)
    theirs_on_server = server_id(device, theirs)
    clock = FakeClock(device.clock())
    run(device, SyncScope(organization=here), clock)  # theirs leaves (transferred)
    assert device.clinic.queries.patient(theirs) is None
    assert theirs in server_id_removed(device)

    asked: list[list[str]] = []

    def pull_again(server_ids: list[str]) -> None:
        asked.append(server_ids)
        device.engine.puller().pull_patients(server_ids)

    report = apply_retention(
        retention_of(device),
        device.clinic.sync_gateway,
        device.client,
        SyncScope(organization=there),
        clock,
        refetch=pull_again,
    )  # re-scoped: checked at once, not a day later
    assert report.membership_checked
    assert mine(report.removed, ours, theirs) == [(ours, RESCOPED)]
    assert asked == [[theirs_on_server]]  # theirs is back in scope: pulled whole
    assert report.refetched == (theirs_on_server,)
    assert theirs not in server_id_removed(device)
    back = device.clinic.queries.patient(theirs)  # pulled again: the chart shows again
    assert back is not None and back.family == NAMES[1]
    assert [n.data.get("text") for n in device.chart(theirs).notes] == ["Seen for a cough"]
    device.clinic.vault.events.verify()


def mine(entries: tuple[RetentionEntry, ...], *patients: str) -> list[tuple[str, str]]:
    """This test's patients among the entries: on the shared real server, the device also
    pulls what other tests register meanwhile, and those leave too (not in this facility)."""
    return [(e.patient_id, e.reason) for e in entries if e.patient_id in patients]


def server_id_removed(device: Device) -> set[str]:
    known = device.clinic.sync_gateway.journal(REMOVED_KEY) or {}
    return {entry["local_id"] for entry in known.values()}


def test_a_visiting_patient_leaves_after_n_days_without_activity(device: Device) -> None:
    here = organization(device.client, "Here")
    visitor, seen_now = register(device), register(device)
    encounter = device.run(c.StartEncounter(patient_id=seen_now)).item_ids[0]
    device.sync()
    clock = FakeClock(device.clock())
    since = clock().isoformat()
    device.clinic.sync_gateway.set_journal(
        VISITING_KEY,
        {server_id(device, pid): {"local_id": pid, "since": since} for pid in (visitor, seen_now)},
    )
    scope = SyncScope(organization=here)  # neither is a patient of this facility

    assert mine(run(device, scope, clock).removed, visitor, seen_now) == []
    clock.advance(days=29)
    assert mine(run(device, scope, clock).removed, visitor, seen_now) == []
    clock.advance(days=2)
    report = run(device, scope, clock)

    assert mine(report.removed, visitor, seen_now) == [(visitor, VISIT_ENDED.format(days=30))]
    assert device.clinic.queries.patient(seen_now) is not None  # the encounter is open
    visiting = device.clinic.sync_gateway.journal(VISITING_KEY)
    assert [entry["local_id"] for entry in visiting.values()] == [seen_now]
    assert report.visiting == 1

    device.run(c.FinishEncounter(patient_id=seen_now, encounter_id=encounter))
    device.sync()
    clock.advance(days=3)
    last = run(device, scope, clock, visit_days=2)
    assert mine(last.removed, seen_now) == [(seen_now, VISIT_ENDED.format(days=2))]
    device.clinic.vault.events.verify()


def test_an_empty_membership_removes_nobody_and_says_so(device: Device) -> None:
    """A facility with no patient on the server while the device holds synced ones is far
    likelier a wrong scope or lost access than a facility everyone left."""
    empty = organization(device.client, "Nobody here")
    pid = register(device)
    device.sync()
    report = run(device, SyncScope(organization=empty), FakeClock(device.clock()))
    assert report.removed == ()
    assert not report.membership_checked
    assert report.problem == EMPTY_MEMBERSHIP.format(scope=empty)
    assert device.clinic.queries.patient(pid) is not None
    assert any("nobody was removed" in line for line in report.lines())


def test_the_sync_cycle_removes_who_left_through_the_engine_hook(device: Device) -> None:
    """Wired as the composition root wires it: SyncEngine(scope=..., retention=hook)."""
    here, there = organization(device.client, "Here"), organization(device.client, "There")
    leaves, stays = register(device), register(device)
    device.sync()
    move(device, stays, here)
    move(device, leaves, there)
    clinic = device.clinic
    device.engine = SyncEngine(
        clinic.sync_gateway,
        device.client,
        FhirResourceMapper(clinic.catalog),
        clinic.clock,
        scope=SyncScope(organization=here),
        retention=retention_hook(clinic, device.client),
    )
    device.sync()
    assert clinic.queries.patient(leaves) is None
    assert clinic.queries.patient(stays) is not None
    report = latest_retention_report(clinic.sync_gateway)
    assert report is not None and report.membership_checked
    assert mine(report.removed, leaves, stays) == [(leaves, RESCOPED)]  # its first check
    clinic.vault.events.verify()


def test_a_patient_being_brought_here_is_never_taken_for_one_who_left(device: Device) -> None:
    """A person brings a patient from elsewhere while the sync worker runs retention: the
    visiting entry is written before the record arrives (local id still unknown), so the
    membership check keeps them, and an entry written during the run is not lost."""
    here, there = organization(device.client, "Here"), organization(device.client, "There")
    visitor = register(device)
    device.sync()
    move(device, visitor, there)  # their own facility's patient, not this one's
    sid = server_id(device, visitor)
    gateway = device.clinic.sync_gateway
    since = device.clock().isoformat()
    gateway.set_journal(VISITING_KEY, {sid: {"local_id": None, "since": since}})
    clock = FakeClock(device.clock())

    service = retention_of(device)
    held_here = service.local_patients

    def local_then_someone_brings_another() -> dict[str, str | None]:
        found = held_here()  # then a person's "Bring onto this device" records another
        gateway.update_journal(
            VISITING_KEY, lambda kept: {**kept, "other": {"local_id": None, "since": since}}
        )
        return found

    service.local_patients = local_then_someone_brings_another  # type: ignore[method-assign]
    report = apply_retention(service, gateway, device.client, SyncScope(organization=here), clock)

    assert mine(report.removed, visitor) == []
    assert device.clinic.queries.patient(visitor) is not None
    assert set(gateway.journal(VISITING_KEY)) == {sid, "other"}
