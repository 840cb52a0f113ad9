"""Immunizations through sync, on both test servers: a dose recorded offline on one device
(and a card copied at the front desk) reaches another device; an Immunization a campaign wrote
straight to the server shows on the chart and counts for the schedule; entered in error
travels too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fhir.resources.R4B.immunization import Immunization

from app.domain import commands as c
from tests.clinic_fixtures import DESK
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, devices_on, server_resource


@pytest.fixture
def devices(fhir_server: FhirServer, tmp_path: Path) -> Iterator[dict[str, Device]]:
    with devices_on(fhir_server, tmp_path, "a", "b") as made:
        yield made


def register_child(device: Device, weeks_old: int) -> tuple[str, date]:
    born = device.clock().date() - timedelta(weeks=weeks_old)
    pid = device.run(
        c.RegisterPatient(given="Baraka", family="Mollel", birth_date=born.isoformat(), sex="male")
    ).patient_id
    return pid, born


def due_series(device: Device, pid: str) -> set[tuple[str, int]]:
    return {(d.series_id, d.dose) for d in device.chart(pid).immunizations_due}


def test_a_dose_recorded_offline_reaches_the_other_device(devices: dict[str, Device]) -> None:
    a, b = devices["a"], devices["b"]
    # The real server keeps every run's data: ids of this run only.
    penta_id, card_id = f"imm-penta-{uuid.uuid4()}", f"imm-bcg-{uuid.uuid4()}"
    pid, born = register_child(a, weeks_old=8)
    a.run(
        c.RecordImmunization(
            patient_id=pid,
            immunization_id=penta_id,
            vaccine="penta",
            dose_number=1,
            given_on=(born + timedelta(weeks=6)).isoformat(),
            lot="PX-2231",
            lot_expiry="2030-01-31",
            site="left-thigh",
        )
    )
    a.run(
        c.RecordImmunization(
            patient_id=pid,
            immunization_id=card_id,
            vaccine="BCG",
            dose_number=1,
            given_on=born.isoformat(),
            historical=True,
            source="card",
        ),
        DESK,
    )
    a.sync()
    on_server = server_resource(a.client, "Immunization", penta_id)
    assert on_server is not None
    Immunization.model_validate(on_server.resource)
    assert on_server.resource["vaccineCode"]["coding"][0]["code"] == "198"
    card = server_resource(a.client, "Immunization", card_id)
    assert card is not None and card.resource["primarySource"] is False

    b.sync()
    chart = b.chart(pid)
    given = {i.item_id: i for i in chart.immunizations}
    assert set(given) == {penta_id, card_id}
    assert given[penta_id].data["lot"] == "PX-2231"
    assert given[card_id].data["historical"] is True
    assert due_series(b, pid) == due_series(a, pid)
    assert ("dtp", 1) not in due_series(b, pid) and ("bcg", 1) not in due_series(b, pid)

    # Entered in error on b: a sees it gone from the list, and the dose is due again.
    b.run(c.MarkEnteredInError(patient_id=pid, item_id=penta_id, reason="wrong child"))
    b.sync()
    a.sync()
    assert [i.item_id for i in a.chart(pid).immunizations] == [card_id]
    assert ("dtp", 1) in due_series(a, pid)


def test_a_campaigns_immunization_shows_and_counts_for_the_schedule(
    devices: dict[str, Device],
) -> None:
    a = devices["a"]
    pid, born = register_child(a, weeks_old=60)  # about 14 months: measles 1 is overdue
    a.sync()
    assert ("mcv", 1) in due_series(a, pid)
    patient = server_resource(a.client, "Patient", pid)
    assert patient is not None
    given = (born + timedelta(weeks=45)).isoformat()
    campaign = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {
            "coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "04"}],
            "text": "MR (national campaign)",
        },
        "patient": {"reference": f"Patient/{patient.resource['id']}"},
        "occurrenceDateTime": given,
        "primarySource": False,
        "performer": [{"actor": {"display": "National MR campaign team 4"}}],
    }
    unknown = {
        **campaign,
        "vaccineCode": {"text": "Typhoid conjugate vaccine (campaign)"},
    }
    created = a.client.create("Immunization", campaign)
    other = a.client.create("Immunization", unknown)

    a.sync()
    chart = a.chart(pid)
    shown = {i.item_id: i for i in chart.immunizations}
    mr = shown[str(created.resource["id"])]
    assert (mr.data["vaccine"], mr.data["cvx"], mr.data["given_on"]) == (
        "MR (national campaign)",
        "04",
        given,
    )
    assert (
        shown[str(other.resource["id"])].data["vaccine"] == "Typhoid conjugate vaccine (campaign)"
    )
    # The campaign's MR dose counts: measles dose 1 is no longer due.
    assert ("mcv", 1) not in due_series(a, pid)
    # Nothing of it is pushed back.
    assert a.sync().pushed == 0
