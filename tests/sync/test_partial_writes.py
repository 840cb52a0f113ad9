"""A command's writes partly applied (a transaction run like a batch), refused, or created on a
server that assigns ids: never shown as synced, never duplicated. Against both servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain import commands as c
from app.services.sync_status import OutboxStatus
from app.store.database import read_transaction
from sync.create_strategy import JOURNAL_KEY
from tests.realfhir.harness import RealFhirServer
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import (
    OUR_ID_SYSTEM,
    Device,
    make_device,
    server_count,
    server_resource,
)
from tests.sync.test_push_batching import bundle_of

VITALS = {"systolic": 128.0, "diastolic": 82.0, "heart_rate": 76.0, "temperature": 37.1}


@pytest.fixture
def device(fhir_server: FhirServer, tmp_path: Path) -> Iterator[Device]:
    made = make_device(
        tmp_path, "a", fhir_server.base_url, fhir_server.auth(), up_to_date=not fhir_server.isolated
    )
    yield made
    made.client.close()
    made.clinic.close()


def register(device: Device) -> str:
    changes = device.run(
        c.RegisterPatient(given="Neema", family="Kisanga", birth_date="1979-05-06", sex="female")
    )
    assert changes.patient_id is not None
    return changes.patient_id


def status_of(device: Device, command_type: str) -> tuple[str, str | None]:
    """(outbox status, last error) of the device's latest command of this type."""
    with read_transaction(device.clinic.vault.engine) as conn:
        row = conn.exec_driver_sql(
            "SELECT status, last_error FROM outbox WHERE command_type = ? ORDER BY seq DESC",
            (command_type,),
        ).first()
    assert row is not None
    return str(row[0]), row[1]


class DropLastEntry:
    """Runs a transaction without its last entry and answers as a server whose transactions
    are not atomic does: 200, a batch-response, the last entry failed with `status`."""

    def __init__(self, device: Device, status: int, diagnostics: str) -> None:
        self._device = device
        self._status = status
        self._diagnostics = diagnostics
        self.cut = 0

    def __call__(self, request: httpx.Request) -> httpx.Response | None:
        if request.method != "POST" or str(request.url) != self._device.client.base_url:
            return None
        bundle = bundle_of(request)
        if bundle["type"] != "transaction" or len(bundle["entry"]) < 2:
            return None
        self.cut += 1
        bundle["entry"] = bundle["entry"][:-1]
        shortened = httpx.Request(
            "POST",
            request.url,
            headers={
                k: v
                for k, v in request.headers.items()
                if k.lower() not in ("content-length", "content-encoding")
            },
            content=json.dumps(bundle).encode(),
        )
        with httpx.HTTPTransport() as transport:
            response = transport.handle_request(shortened)
            response.read()
        answer: dict[str, Any] = json.loads(response.content)
        answer["type"] = "batch-response"
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "invalid", "diagnostics": self._diagnostics}],
        }
        answer["entry"].append(
            {"response": {"status": f"{self._status} Failed", "outcome": outcome}}
        )
        return httpx.Response(200, json=answer, request=request)


def our_observations(device: Device, pid: str) -> int:
    return server_count(device.client, "Observation", [pid])


def test_a_partly_applied_transaction_leaves_the_command_pending_then_finishes_it(
    device: Device,
) -> None:
    pid = register(device)
    device.sync()
    device.run(c.RecordVitals(patient_id=pid, **VITALS))  # type: ignore[arg-type]
    fault = DropLastEntry(device, 503, "busy")
    device.transport.before = fault
    report = device.sync()
    assert fault.cut >= 1
    assert report.pending_after == 1, "one write did not land: the vitals are not synced"
    assert status_of(device, "RecordVitals")[0] == OutboxStatus.PENDING
    assert our_observations(device, pid) == 2, "what landed stays; the third is missing"

    device.transport.before = None
    report = device.sync()
    assert report.pending_after == 0
    assert our_observations(device, pid) == 3, "blood pressure panel, heart rate, temperature"
    assert status_of(device, "RecordVitals") == (OutboxStatus.SYNCED, None)


def test_a_refused_write_goes_to_needs_attention_with_the_servers_words_and_blocks_nothing(
    device: Device,
) -> None:
    pid = register(device)
    device.sync()
    device.run(c.RecordVitals(patient_id=pid, **VITALS))  # type: ignore[arg-type]
    device.transport.before = DropLastEntry(device, 422, "Temperature is not plausible")
    device.sync()
    device.transport.before = None
    status, message = status_of(device, "RecordVitals")
    assert status == OutboxStatus.NEEDS_ATTENTION
    assert message is not None and "Temperature is not plausible" in message
    device.run(c.RecordAllergy(patient_id=pid, substance="sulfonamides"))
    report = device.sync()
    assert report.pending_after == 0, "the next command is not held up"
    assert server_count(device.client, "AllergyIntolerance", [pid]) == 1


def test_every_created_resource_carries_our_id_and_references_resolve_on_the_server(
    device: Device, fhir_server: FhirServer
) -> None:
    pid = register(device)
    enc = device.run(c.StartEncounter(patient_id=pid)).item_ids[0]
    device.run(c.RecordVitals(patient_id=pid, encounter_id=enc, heart_rate=70.0))
    device.sync()
    patient = server_resource(device.client, "Patient", pid)
    assert patient is not None
    assert {"system": OUR_ID_SYSTEM, "value": pid} in patient.resource["identifier"]
    encounter = server_resource(device.client, "Encounter", str(enc))
    assert encounter is not None
    assert encounter.resource["subject"]["reference"] == f"Patient/{patient.resource['id']}"
    if fhir_server.name == "real":
        assert patient.resource["id"] != pid, "the real server assigns its own ids"
    else:
        assert patient.resource["id"] == pid, "the peer takes ours (update-as-create)"
    shown = device.chart(pid).patient.identifiers
    assert all(i["system"] != OUR_ID_SYSTEM for i in shown), "not one of the patient's numbers"


def test_a_server_that_refuses_put_create_moves_that_type_to_post(
    real_fhir_server: RealFhirServer, tmp_path: Path
) -> None:
    """As if the CapabilityStatement had promised update-as-create: the refusal decides."""
    device = make_device(
        tmp_path, "a", real_fhir_server.base_url, real_fhir_server.auth(), up_to_date=True
    )
    try:
        device.clinic.sync_gateway.set_journal(JOURNAL_KEY, ["AllergyIntolerance", "Patient"])
        pid = register(device)
        device.run(c.RecordAllergy(patient_id=pid, substance="penicillin"))
        report = device.sync()
        assert report.pending_after == 0 and report.needs_attention == 0
        assert device.clinic.sync_gateway.journal(JOURNAL_KEY) == []
        assert server_count(device.client, "AllergyIntolerance", [pid]) == 1
    finally:
        device.client.close()
        device.clinic.close()


def test_a_record_deleted_on_the_server_is_handled_and_blocks_nothing(
    device: Device, fhir_server: FhirServer
) -> None:
    """The peer answers an update of a deleted resource with 404: a person is asked (writing
    it again could undo a deliberate deletion). Medplum takes the update and the record is
    back (its documented behaviour, shared/realfhir/README.md): synced, exactly once."""
    pid = register(device)
    allergy = str(device.run(c.RecordAllergy(patient_id=pid, substance="penicillin")).item_ids[0])
    device.sync()
    on_server = server_resource(device.client, "AllergyIntolerance", allergy)
    assert on_server is not None
    assert device.client.delete("AllergyIntolerance", on_server.resource["id"])
    device.run(c.UpdateAllergyStatus(patient_id=pid, allergy_id=allergy, status="inactive"))
    device.run(c.RecordAllergy(patient_id=pid, substance="sulfonamides"))
    report = device.sync()
    assert report.pending_after == 0, "the other allergy was not held up"
    status, message = status_of(device, "UpdateAllergyStatus")
    if fhir_server.name == "peer":
        assert status == OutboxStatus.NEEDS_ATTENTION
        assert message is not None and "deleted there" in message
        assert server_count(device.client, "AllergyIntolerance", [pid]) == 1
    else:
        assert status == OutboxStatus.SYNCED
        back = server_resource(device.client, "AllergyIntolerance", allergy)
        assert back is not None and back.resource["clinicalStatus"]["coding"][0]["code"] == (
            "inactive"
        )
        assert server_count(device.client, "AllergyIntolerance", [pid]) == 2
    shown = {a.item_id for a in device.chart(pid).allergies}
    assert allergy not in shown, "the clinician's change (inactive) is kept on the device"


def test_a_transaction_refused_for_its_size_is_sent_again_in_smaller_ones(device: Device) -> None:
    pid = register(device)
    device.sync()
    device.run(c.RecordVitals(patient_id=pid, **VITALS))  # type: ignore[arg-type]
    sizes: list[int] = []

    def at_most_two(request: httpx.Request) -> httpx.Response | None:
        if request.method != "POST" or str(request.url) != device.client.base_url:
            return None
        bundle = bundle_of(request)
        if bundle["type"] != "transaction":
            return None  # the pull's batch of searches
        entries = len(bundle["entry"])
        sizes.append(entries)
        return httpx.Response(413, request=request) if entries > 2 else None

    device.transport.before = at_most_two
    report = device.sync()
    assert report.pending_after == 0
    assert sizes == [3, 1, 1, 1], "refused once, then halved (3 // 2 = 1 entry each)"
    assert our_observations(device, pid) == 3
