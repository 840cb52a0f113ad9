"""The sync scenarios of the issue, each against the in-memory FHIR peer (Medplum's router)
and against a real FHIR server (Medplum on PostgreSQL, tests/realfhir). The real server keeps
every earlier test's data, so a test looks only at its own patients there."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain import commands as c
from app.services.sync_status import SyncState
from sync import push
from sync.fhir.errors import OfflineError
from sync.worker import SyncWorker
from tests.clinic_fixtures import prescription
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import (
    DOC,
    Device,
    TickingClock,
    clinical_view,
    devices_on,
    is_transaction,
    our_resources,
    server_count,
    server_resource,
)
from tests.sync.test_push_batching import bundle_of


@pytest.fixture
def devices(fhir_server: FhirServer, tmp_path: Path) -> Iterator[dict[str, Device]]:
    """Devices a and b, and c, a new one that has never synced (it pulls the whole server)."""
    with devices_on(fhir_server, tmp_path, "a", "b", "c", new={"c"}) as made:
        yield made


def register(device: Device, **extra: str) -> str:
    fields = {
        "given": "Amani",
        "family": "Ødegård",
        "birth_date": "1984-03-02",
        "sex": "female",
        "phone": "+255 700 000 001",
        **extra,
    }
    return device.run(c.RegisterPatient(**fields)).patient_id  # type: ignore[arg-type]


def change(field: str, new: str | None, expected: str | None) -> dict[str, c.FieldChange]:
    return {field: c.FieldChange(new=new, expected=expected)}


def edit(device: Device, pid: str, field: str, new: str | None, expected: str | None) -> None:
    """The device changes one demographic field of the patient."""
    device.run(c.UpdateDemographics(patient_id=pid, changes=change(field, new, expected)))


def register_on_both(a: Device, b: Device) -> str:
    """A patient registered on a, then both devices synced."""
    pid = register(a)
    a.sync()
    b.sync()
    return pid


# 1 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [push.PREFETCH, 7])  # 7: many prefetch chunks
def test_two_hundred_offline_commands_land_exactly_once(
    devices: dict[str, Device], prefetch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(push, "PREFETCH", prefetch)
    a = devices["a"]
    rng = random.Random(7)
    patients = [register(a, given=f"Patient{i}") for i in range(20)]
    expected_observations = 0
    for i in range(180):
        pid = rng.choice(patients)
        kind = i % 4
        if kind == 0:
            a.run(c.RecordVitals(patient_id=pid, heart_rate=60 + i % 40, temperature=36.6))
            expected_observations += 2
        elif kind == 1:
            a.run(c.RecordDiagnosis(patient_id=pid, text=f"Complaint {i}"))
        elif kind == 2:
            a.run(c.AddNote(patient_id=pid, text=f"Note {i}"))
        else:
            edit(a, pid, "address", f"Street {i}", address_of(a, pid))
    assert a.clinic.queries.sync_overview().pending == 200

    first = a.sync()
    assert (first.pushed + first.unchanged, first.pending_after, first.needs_attention) == (
        200,
        0,
        0,
    )
    expected = {
        "Patient": 20,
        "Observation": expected_observations,
        "Condition": 45,
        "DocumentReference": 45,
    }
    ours = {t: our_resources(a.client, t, patients) for t in expected}
    assert {t: len(found) for t, found in ours.items()} == expected

    pulled: list[dict[str, Any]] = []
    a.transport.after = lambda request, response: pulled.extend(_searched(response.json()))
    requests_before = a.transport.requests
    second = a.sync()
    assert (second.pushed, second.unchanged, second.conflicts) == (0, 0, 0)
    # Nothing of ours comes back as new; on a shared server, what others wrote meanwhile may.
    our_ids = {r["id"] for found in ours.values() for r in found}
    assert second.pulled_new <= sum(1 for r in pulled if r["id"] not in our_ids)
    requests = a.transport.requests - requests_before
    assert requests == 1, "a quiet sync is one request: every type's search in one batch"


def _searched(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources a search answer carries: a searchset's entries, or those of each
    searchset inside a batch response."""
    entries = [e.get("resource") or {} for e in answer.get("entry", [])]
    if answer.get("type") == "searchset":
        return entries
    if answer.get("type") == "batch-response":
        return [found for bundle in entries for found in _searched(bundle)]
    return []


# 2 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("first_to_sync", ["a", "b"])
def test_different_fields_merge_without_a_person(
    devices: dict[str, Device], first_to_sync: str
) -> None:
    a, b = devices["a"], devices["b"]
    pid = register_on_both(a, b)
    edit(a, pid, "address", "12 Baobab Rd", None)
    edit(b, pid, "phone", "+255 711 222 333", "+255 700 000 001")
    order = [a, b] if first_to_sync == "a" else [b, a]
    for device in [*order, *order]:
        device.sync()
    for device in (a, b):
        p = device.clinic.queries.patient(pid)
        assert p is not None
        assert (p.address, p.phone) == ("12 Baobab Rd", "+255 711 222 333")
        assert device.clinic.queries.sync_overview().needs_attention == 0
    server = server_resource(a.client, "Patient", pid)
    assert server is not None
    assert server.resource["telecom"][0]["value"] == "+255 711 222 333"
    assert server.resource["address"][0]["text"] == "12 Baobab Rd" or "12 Baobab Rd" in str(
        server.resource["address"][0]
    )


# 3 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", ["keep-mine", "take-servers", "edit"])
def test_same_field_asks_a_person_and_every_answer_converges(
    devices: dict[str, Device], resolution: str
) -> None:
    a, b = devices["a"], devices["b"]
    pid = register_on_both(a, b)
    original = "+255 700 000 001"
    edit(a, pid, "phone", "+255 711 111 111", original)
    edit(b, pid, "phone", "+255 722 222 222", original)
    b.sync()
    report = a.sync()
    assert report.needs_attention == 1
    [item] = a.clinic.queries.sync_overview().attention
    assert item.detail is not None
    assert (item.detail["field"], item.detail["mine"], item.detail["servers"]) == (
        "phone",
        "+255 711 111 111",
        "+255 722 222 222",
    )
    assert "changed by someone else" in (item.last_error or "")

    value = {"keep-mine": "+255 711 111 111", "take-servers": None, "edit": "+255 733 333 333"}[
        resolution
    ]
    a.run(
        c.ResolveSyncConflict(
            patient_id=pid,
            conflict_command_id=item.command_id,
            resolution=resolution,
            field="phone",
            value=value,
        )
    )
    for device in (a, b, a, b):
        device.sync()
    final = value or "+255 722 222 222"
    assert a.clinic.queries.patient(pid).phone == final  # type: ignore[union-attr]
    assert b.clinic.queries.patient(pid).phone == final  # type: ignore[union-attr]
    server = server_resource(a.client, "Patient", pid)
    assert server is not None and server.resource["telecom"][0]["value"] == final
    assert a.clinic.queries.sync_overview().needs_attention == 0
    # The losing value stays in the history.
    texts = " ".join(e.text for e in a.chart(pid).timeline)
    assert "+255 711 111 111" in texts and "+255 722 222 222" in texts


# 4 ---------------------------------------------------------------------------------------


def _prescribed(devices: dict[str, Device]) -> tuple[str, str]:
    a, b = devices["a"], devices["b"]
    pid = register(a)
    rx = a.run(prescription(pid, "amoxicillin")).item_ids[0]
    a.sync()
    b.sync()
    return pid, rx


def _stopped_on_a_dose_changed_on_b(devices: dict[str, Device]) -> tuple[str, str]:
    """The prescription on both devices, then stopped on a and its dose changed on b (neither
    synced yet); the patient's and the prescription's ids."""
    a, b = devices["a"], devices["b"]
    pid, rx = _prescribed(devices)
    a.run(c.DiscontinueMedication(patient_id=pid, prescription_id=rx, reason="Rash"))
    b.run(c.ChangeDose(patient_id=pid, prescription_id=rx, dose=250, expected_dose=500))
    return pid, rx


def test_a_dose_change_on_a_stopped_prescription_needs_a_person(devices: dict[str, Device]) -> None:
    a, b = devices["a"], devices["b"]
    pid, _ = _stopped_on_a_dose_changed_on_b(devices)
    a.sync()
    report = b.sync()
    assert report.needs_attention == 1
    [item] = b.clinic.queries.sync_overview().attention
    assert item.command_type == "ChangeDose"
    assert "stopped" in (item.last_error or "")
    assert b.chart(pid).medications == []  # the server's "stopped" is what the chart shows


def test_stopping_a_prescription_whose_dose_changed_merges(devices: dict[str, Device]) -> None:
    a, b = devices["a"], devices["b"]
    pid, rx = _stopped_on_a_dose_changed_on_b(devices)
    b.sync()
    report = a.sync()
    assert (report.conflicts, report.rebased, report.needs_attention) == (1, 1, 0)
    b.sync()
    server = server_resource(a.client, "MedicationRequest", rx)
    assert server is not None
    assert server.resource["status"] == "stopped"
    dose = server.resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]
    assert dose == 250
    assert clinical_view(a.chart(pid)) == clinical_view(b.chart(pid))


# 5 ---------------------------------------------------------------------------------------


def test_a_third_partys_extension_survives_our_update(devices: dict[str, Device]) -> None:
    a = devices["a"]
    pid = register(a)
    a.sync()
    found = server_resource(a.client, "Patient", pid)
    assert found is not None
    theirs = dict(found.resource)
    theirs["extension"] = [{"url": "http://example.org/fhir/ext/tribe", "valueString": "Chagga"}]
    theirs.pop("meta", None)
    # another system updates the patient, at the server's id
    a.client.put("Patient", theirs["id"], theirs, if_match_version=found.version_id)
    a.sync()
    edit(a, pid, "phone", "+255 744 444 444", "+255 700 000 001")
    a.sync()
    after = server_resource(a.client, "Patient", pid)
    assert after is not None
    assert after.resource["extension"] == theirs["extension"]
    assert after.resource["telecom"][0]["value"] == "+255 744 444 444"


# 6 ---------------------------------------------------------------------------------------


def test_a_push_whose_answer_was_lost_is_not_written_twice(devices: dict[str, Device]) -> None:
    a = devices["a"]
    pid = register(a)
    a.run(c.RecordAllergy(patient_id=pid, substance="penicillin"))

    def lose_answer(request: httpx.Request, response: httpx.Response) -> None:
        # The allergy's transaction (not a probe the client may send first): committed, its
        # answer lost.
        if not is_transaction(a.client, request) or response.status_code != 200:
            return
        bundle = bundle_of(request)  # gzipped or not
        types = {e.get("resource", {}).get("resourceType") for e in bundle["entry"]}
        if bundle["type"] == "transaction" and "AllergyIntolerance" in types:
            raise httpx.ReadTimeout("the answer was lost", request=request)

    a.transport.after = lose_answer  # the server commits, the device never hears back
    with pytest.raises(OfflineError):
        a.sync()
    a.restart()
    versions = {
        t: [r["meta"]["versionId"] for r in our_resources(a.client, t, [pid])]
        for t in ("Patient", "AllergyIntolerance")
    }
    assert all(versions.values()), "both writes reached the server before the crash"
    report = a.sync()
    assert report.pending_after == 0
    assert {
        t: [r["meta"]["versionId"] for r in our_resources(a.client, t, [pid])] for t in versions
    } == versions, "nothing was written again"
    assert server_count(a.client, "Patient", [pid]) == 1
    assert server_count(a.client, "AllergyIntolerance", [pid]) == 1


# 7 ---------------------------------------------------------------------------------------


def test_outages_lose_nothing_and_say_when_the_next_try_is(devices: dict[str, Device]) -> None:
    a = devices["a"]
    pid = register(a)
    a.run(c.RecordVitals(patient_id=pid, heart_rate=72))
    faults = iter(["refuse", "500", "timeout", "429"])
    current: dict[str, str | None] = {"fault": None}

    def fail(request: httpx.Request) -> httpx.Response | None:
        fault = current["fault"]
        if fault == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        if fault == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if fault == "500":
            return httpx.Response(500, request=request)
        if fault == "429":
            return httpx.Response(429, headers={"Retry-After": "120"}, request=request)
        return None

    a.transport.before = fail
    worker = SyncWorker(
        lambda progress: a.engine.run_cycle(progress),
        server_url="x",
        interval_s=3600,
        counts=a.engine._gateway.counts,
        clock=a.clock,
        rng=random.Random(1),
    )
    for fault in faults:
        current["fault"] = fault
        worker._tick(manual=True)
        status = worker.status()
        assert status.state is SyncState.OFFLINE, fault
        assert status.next_attempt_at is not None
        assert status.pending == 2
    assert status.next_attempt_at is not None
    assert status.next_attempt_at >= (a.clock()).isoformat(timespec="seconds")[:16]
    assert (status.last_error or "").startswith("the server asked us to wait until")
    # The server's wait holds for the interval (docs/decisions.md, "Politeness"): nothing is
    # sent before the time it gave ...
    current["fault"] = None
    sent = a.transport.requests
    worker._tick()
    assert worker.status().state is SyncState.OFFLINE and a.transport.requests == sent
    # ... but "Sync now" overrides it (issue 15: the server has recovered) and sends everything.
    assert isinstance(a.clock, TickingClock)
    worker._tick(manual=True)
    assert worker.status().state is SyncState.IDLE
    assert worker.status().pending == 0
    assert server_count(a.client, "Observation", [pid]) == 1


# 8 ---------------------------------------------------------------------------------------


def test_a_new_device_pulls_everything_and_shows_the_same_charts(
    devices: dict[str, Device], fhir_server: FhirServer
) -> None:
    a, b, new = devices["a"], devices["b"], devices["c"]
    pid = register(a)
    enc = a.run(c.StartEncounter(patient_id=pid, reason="Cough")).item_ids[0]
    a.run(
        c.RecordVitals(
            patient_id=pid,
            encounter_id=enc,
            systolic=128,
            diastolic=84,
            heart_rate=80,
            temperature=37.9,
            spo2=97,
            weight=61,
            height=165,
        )
    )
    a.run(c.RecordDiagnosis(patient_id=pid, text="Acute bronchitis", encounter_id=enc))
    a.run(
        c.RecordAllergy(
            patient_id=pid,
            substance="penicillin",
            reaction="rash",
            severity="moderate",
            criticality="high",
        )
    )
    a.run(prescription(pid, "azithromycin", frequency="QD", duration_days=3))
    a.run(c.AddNote(patient_id=pid, text="Review in one week", encounter_id=enc))
    a.run(c.FinishEncounter(patient_id=pid, encounter_id=enc))
    a.run(c.ScheduleFollowUp(patient_id=pid, clinician="doc", start="2030-01-07T09:00:00+03:00"))
    other = register(b, given="Baraka", family="Mushi")
    b.run(c.RecordVitals(patient_id=other, weight=70.5))
    a.sync()
    b.sync()
    a.sync()
    new.sync()
    for patient in (pid, other):
        assert clinical_view(new.chart(patient)) == clinical_view(a.chart(patient))
        assert clinical_view(new.chart(patient)) == clinical_view(b.chart(patient))
    assert all(new.clinic.queries.patient(p) is not None for p in (pid, other))
    if fhir_server.isolated:  # a shared server also holds every patient earlier tests left
        assert new.clinic.queries.patient_count() == 2
    assert DOC.user == "doc"


def address_of(device: Device, patient_id: str) -> str | None:
    patient = device.clinic.queries.patient(patient_id)
    assert patient is not None
    return patient.address
