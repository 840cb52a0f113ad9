"""A patient from elsewhere (issue 14): another facility's patient, with vitals and a diagnosis
another device wrote, is found on the central server, brought onto this device, shown in the
chart, kept as visiting and audited — against the in-memory peer and the real Medplum server.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain import commands as c
from app.domain.errors import NotFoundError
from app.domain.roles import Role
from app.services.clinic import open_clinic
from app.services.remote_lookup import RESULT_LIMIT, RemoteQuery, RemoteSearchResult
from app.services.settings import DeviceSettings
from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from sync.remote_audit import UNSENT_KEY
from sync.remote_patients import FETCHED, SEARCHED, VISITING_KEY, RemotePatients
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import DOC, STAFF, Device, FaultyTransport, make_device

DESK_PASSPHRASE = "desk passphrase for the look-up"


@dataclass
class Elsewhere:
    """A patient of another facility, registered and treated by that facility's device."""

    organization_id: str
    organization_name: str
    server_id: str
    given: str
    family: str
    birth_date: str
    identifier: str


@dataclass
class Here:
    """This facility's device, signed in as staff, looking up through `transport`."""

    device: Device
    transport: FaultyTransport
    lookup: RemotePatients
    posted: list[dict[str, Any]]  # AuditEvents as the server stored them


def organization(client: FhirClient, name: str) -> str:
    created = client.create("Organization", {"resourceType": "Organization", "name": name})
    return str(created.resource["id"])


def treated_elsewhere(
    server: FhirServer, tmp: Path, family: str | None = None, org_id: str | None = None
) -> Elsewhere:
    """Facility B's device (or the facility `org_id` names) registers a patient, records vitals
    and a diagnosis, and syncs."""
    suffix = uuid.uuid4().hex[:8]
    org_name = f"Kibaha Health Centre {suffix}"
    if org_id is None:
        with server.client() as client:
            org_id = organization(client, org_name)
    other = make_device(tmp, "facility-b", server.base_url, server.auth(), up_to_date=True)
    try:
        other.clinic.settings.update(
            other.clinic.actor, scope_organization=f"Organization/{org_id}"
        )
        other.engine = engine_for(other.clinic, other.client)
        identifier = f"KB-{suffix}"
        family = family or f"Mwakalinga{suffix}"
        pid = other.run(
            c.RegisterPatient(
                given="Zawadi",
                family=family,
                birth_date="1971-05-06",
                sex="female",
                identifiers=(c.Identifier("urn:district:mrn", identifier),),
            ),
            STAFF,
        ).patient_id
        other.run(c.RecordVitals(patient_id=pid, heart_rate=88, temperature=38.2), DOC)
        other.run(c.RecordDiagnosis(patient_id=pid, text="Malaria, uncomplicated"), DOC)
        report = other.sync()
        assert report.pending_after == 0 and report.needs_attention == 0
        server_id = other.clinic.sync_gateway.server_id("Patient", pid)
        assert server_id is not None
    finally:
        other.close()
    return Elsewhere(org_id, org_name, server_id, "Zawadi", family, "1971-05-06", identifier)


@contextmanager
def device_here(server: FhirServer, tmp: Path, **settings: Any) -> Iterator[Here]:
    """Facility A's device, enrolled on `server` with its own Organization as scope, signed in
    as staff; every AuditEvent it creates on the server is collected."""
    device = make_device(tmp, "facility-a", server.base_url, server.auth(), up_to_date=True)
    home = settings.pop("home", None)
    if home is None:
        with server.client() as client:
            home = organization(client, f"Mlandizi Dispensary {uuid.uuid4().hex[:8]}")
    admin = device.clinic.actor
    values = {**server.settings(), "scope_organization": f"Organization/{home}", **settings}
    device.clinic.settings.update(admin, **values)
    device.clinic.vault.add_user("desk", Role.STAFF, DESK_PASSPHRASE, kdf=FAST_FOR_TESTS)
    data_dir = device.clinic.vault.data_dir
    device.clinic.close()
    vault = Vault.open(data_dir)
    vault.unlock("desk", DESK_PASSPHRASE)
    device.clinic = open_clinic(vault, clock=device.clock)
    device.engine = engine_for(device.clinic, device.client)
    transport = FaultyTransport()
    posted: list[dict[str, Any]] = []

    def collect(request: httpx.Request, response: httpx.Response) -> None:
        if request.method == "POST" and request.url.path.endswith("/AuditEvent"):
            assert response.status_code == 201, response.text
            posted.append(response.json())

    transport.after = collect

    def client_for(s: DeviceSettings) -> FhirClient:
        return FhirClient(s.server_url or "", server.auth(), transport=transport)

    try:
        yield Here(device, transport, RemotePatients(device.clinic, client_for), posted)
    finally:
        device.close()


def audit_actions(device: Device) -> list[tuple[str, str, str]]:
    return [(e.action, e.subject, e.detail) for e in device.clinic.queries.audit(limit=20)]


def test_another_facilitys_patient_is_found_brought_here_and_audited(
    fhir_server: FhirServer, tmp_path: Path
) -> None:
    them = treated_elsewhere(fhir_server, tmp_path)
    with device_here(fhir_server, tmp_path) as here:
        found = here.lookup.search(
            RemoteQuery(name=f"zawadi {them.family.lower()}", birth_date=them.birth_date)
        )
        [row] = found.patients
        assert (row.server_id, row.given, row.family, row.sex, row.birth_date) == (
            them.server_id,
            "Zawadi",
            them.family,
            "female",
            them.birth_date,
        )
        assert row.identifiers == (f"{them.identifier} (urn:district:mrn)",)
        assert row.organization == them.organization_name  # its name, from _include
        assert row.organization_reference == f"Organization/{them.organization_id}"
        assert row.local_id is None and not found.more
        # Found is not stored: nothing of the patient is on this device yet.
        assert here.device.clinic.queries.search_patients(them.family) == []
        searched = audit_actions(here.device)[0]
        assert searched[0] == SEARCHED and them.family.lower() in searched[2]
        assert here.device.clinic.queries.audit(limit=1)[0].user == "desk"

        by_identifier = here.lookup.search(RemoteQuery(identifier=them.identifier))
        assert [p.server_id for p in by_identifier.patients] == [them.server_id]

        brought = here.lookup.bring(them.server_id)
        assert brought.server_id == them.server_id and brought.visiting
        assert brought.organization_reference == f"Organization/{them.organization_id}"
        chart = here.device.chart(brought.patient_id)
        assert (chart.patient.family, chart.patient.birth_date) == (them.family, them.birth_date)
        assert [p.data.get("text") for p in chart.problems] == ["Malaria, uncomplicated"]
        assert chart.last_vitals is not None
        assert chart.last_vitals.data["measurements"]["heart_rate"] == 88
        assert here.device.clinic.queries.search_patients(them.family)[0].patient_id == (
            brought.patient_id
        )
        visiting = here.device.clinic.sync_gateway.journal(VISITING_KEY)
        assert visiting[them.server_id]["local_id"] == brought.patient_id
        assert visiting[them.server_id]["since"]
        action, subject, detail = audit_actions(here.device)[0]
        assert (action, subject) == (FETCHED, brought.patient_id)
        assert detail.startswith(f"Patient/{them.server_id}")

        # The server's audit: two look-ups and the fetch, none with what was typed.
        assert here.device.clinic.sync_gateway.journal(UNSENT_KEY) is None
        assert [e["subtype"][0]["code"] for e in here.posted] == ["search", "search", "read"]
        sent = json.dumps(here.posted)
        for typed in (them.family, them.family.lower(), them.identifier, them.birth_date):
            assert typed not in sent
            assert base64.b64encode(typed.encode()).decode() not in sent
        assert here.posted[0]["entity"][0]["description"].endswith("name, birthdate: 1 found")
        assert here.posted[2]["entity"][0]["what"]["reference"] == f"Patient/{them.server_id}"
        assert here.posted[2]["agent"][0]["who"]["display"] == "desk"

        # Now on this device, a new look-up says so.
        again = here.lookup.search(RemoteQuery(identifier=them.identifier))
        assert again.patients[0].local_id == brought.patient_id


def test_a_visiting_patient_keeps_their_own_organization(
    fhir_server: FhirServer, tmp_path: Path
) -> None:
    them = treated_elsewhere(fhir_server, tmp_path)
    with device_here(fhir_server, tmp_path) as here:
        pid = here.lookup.bring(them.server_id).patient_id
        here.device.run(
            c.UpdateDemographics(
                patient_id=pid,
                changes={"phone": c.FieldChange(new="+255 755 000 111", expected=None)},
            ),
            STAFF,
        )
        here.device.run(c.RecordVitals(patient_id=pid, heart_rate=72), DOC)
        report = here.device.sync()
        assert (report.pending_after, report.needs_attention) == (0, 0)
        with fhir_server.client() as client:
            patient = client.read("Patient", them.server_id)
        assert patient is not None
        assert patient.resource["managingOrganization"]["reference"] == (
            f"Organization/{them.organization_id}"
        )
        assert patient.resource["telecom"][0]["value"] == "+255 755 000 111"


def test_while_visiting_the_next_sync_brings_what_changed_on_the_server(
    fhir_server: FhirServer, tmp_path: Path
) -> None:
    them = treated_elsewhere(fhir_server, tmp_path)
    with device_here(fhir_server, tmp_path) as here:
        pid = here.lookup.bring(them.server_id).patient_id
        with fhir_server.client() as client:  # the district registry corrects the address
            current = client.read("Patient", them.server_id)
            assert current is not None
            moved = {**current.resource, "address": [{"text": "Plot 9, Kibaha"}]}
            client.put("Patient", them.server_id, moved, current.version_id)
        report = here.device.sync()
        assert report.pending_after == 0
        assert here.device.chart(pid).patient.address == "Plot 9, Kibaha"


def test_a_patient_of_this_devices_own_organization_is_not_visiting(
    fhir_server: FhirServer, tmp_path: Path
) -> None:
    with fhir_server.client() as client:
        home = organization(client, f"Mlandizi Dispensary {uuid.uuid4().hex[:8]}")
    ours = treated_elsewhere(fhir_server, tmp_path, org_id=home)
    with device_here(fhir_server, tmp_path, home=home) as here:
        brought = here.lookup.bring(ours.server_id)
        assert not brought.visiting
        assert brought.organization_reference == f"Organization/{home}"
        assert here.device.clinic.sync_gateway.journal(VISITING_KEY) is None
        assert here.device.chart(brought.patient_id).patient.family == ours.family


def test_more_than_twenty_matches_are_cut_and_said(fhir_server: FhirServer, tmp_path: Path) -> None:
    family = f"Nyirenda{uuid.uuid4().hex[:8]}"
    with fhir_server.client() as client:
        for i in range(RESULT_LIMIT + 2):
            client.create(
                "Patient",
                {
                    "resourceType": "Patient",
                    "name": [{"family": family, "given": [f"Child{i}"]}],
                    "birthDate": "2015-01-01",
                },
            )
    with device_here(fhir_server, tmp_path) as here:
        found = here.lookup.search(RemoteQuery(name=family))
        assert len(found.patients) == RESULT_LIMIT and found.more
        assert "add a birth date or an identifier" in found.summary()
        assert {p.family for p in found.patients} == {family}


def test_a_patient_the_server_does_not_have_is_a_clear_refusal(
    fhir_server: FhirServer, tmp_path: Path
) -> None:
    with device_here(fhir_server, tmp_path) as here:
        with pytest.raises(NotFoundError, match="no patient with that id") as refused:
            here.lookup.bring(f"no-such-{uuid.uuid4().hex[:12]}")
        assert refused.value.field == "server_id"
        assert here.device.clinic.sync_gateway.journal(VISITING_KEY) is None
        assert here.posted == []
        assert [a for a, _s, _d in audit_actions(here.device) if a == FETCHED] == []


def test_nothing_found_is_said_and_audited(fhir_server: FhirServer, tmp_path: Path) -> None:
    with device_here(fhir_server, tmp_path) as here:
        found = here.lookup.search(RemoteQuery(name=f"Nobody{uuid.uuid4().hex[:10]}"))
        assert found == RemoteSearchResult((), more=False, total=found.total)
        assert found.summary() == "No patient on the central server matches."
        assert audit_actions(here.device)[0][2].endswith("; 0 found")
