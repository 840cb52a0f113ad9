"""A scoped device on both servers (issue 14): the patient it registers reaches the server
managed by the scope's Organization and the encounter it records at the scope's first Location,
so that a new device scoped to the same Organization pulls them, and one scoped to another
facility does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from sync.clinic_sync import engine_for
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, devices_on, server_resource


@pytest.fixture
def devices(fhir_server: FhirServer, tmp_path: Path) -> Iterator[dict[str, Device]]:
    """a registers; c and d are new devices (never synced) of this and another facility."""
    with devices_on(fhir_server, tmp_path, "a", "c", "d", new={"c", "d"}) as made:
        yield made


def create(server: FhirServer, resource_type: str, name: str) -> str:
    with server.client() as client:
        made = client.create(resource_type, {"resourceType": resource_type, "name": name})
    return str(made.resource["id"])


def scope(device: Device, organization: str, *locations: str) -> None:
    """IT scopes the device (as enroll or Settings do); the next engine works with it."""
    device.clinic.settings.update(
        device.clinic.actor,
        scope_organization=organization,  # a bare id: settings store the typed reference
        scope_locations=locations,
    )
    device.engine = engine_for(device.clinic, device.client)


def test_what_a_scoped_device_creates_names_its_facility_and_comes_back_to_it(
    devices: dict[str, Device], fhir_server: FhirServer
) -> None:
    a, new, other = devices["a"], devices["c"], devices["d"]
    here = create(fhir_server, "Organization", "Kisesa Health Centre")
    opd = create(fhir_server, "Location", "Kisesa OPD")
    elsewhere = create(fhir_server, "Organization", "Magu District Hospital")
    scope(a, here, opd)
    pid = a.run(
        c.RegisterPatient(given="Neema", family="Kimaro", birth_date="1990-05-06", sex="female")
    ).patient_id
    assert pid is not None
    encounter = a.run(c.StartEncounter(patient_id=pid, reason="Cough")).item_ids[0]
    assert a.sync().pending_after == 0

    patient = server_resource(a.client, "Patient", pid)
    assert patient is not None
    assert patient.resource["managingOrganization"] == {"reference": f"Organization/{here}"}
    visit = server_resource(a.client, "Encounter", encounter)
    assert visit is not None
    assert visit.resource["location"] == [{"location": {"reference": f"Location/{opd}"}}]

    scope(new, f"Organization/{here}")
    scope(other, elsewhere)
    new.sync()
    other.sync()
    assert new.chart(pid).patient.family == "Kimaro"
    assert [e.item_id for e in new.chart(pid).encounters] == [encounter]
    assert other.clinic.queries.patient(pid) is None, "another facility's device does not get it"
