"""A device scoped to its facility pulls its facility's patients and everything about them —
whoever wrote it — and nothing of the other facilities on the same server (issue 14)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sync.engine import SyncEngine
from sync.fhir_mapper import FhirResourceMapper
from sync.scope import SyncScope
from tests.realfhir.plugin import FhirServer
from tests.sync.pull_fixtures import (
    Facility,
    Received,
    add_condition,
    add_facility,
    new_device,
    tag,
)


def refuse_chaining(request: httpx.Request) -> httpx.Response | None:
    """A server without chained search: it refuses `patient.organization` and
    `subject:Patient.organization`, also inside a (gzip-compressed) batch."""
    body = request.content
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    if ".organization" in str(request.url) or b".organization" in body:
        return httpx.Response(400, json={"resourceType": "OperationOutcome"})
    return None


@pytest.fixture
def district(fhir_server: FhirServer) -> tuple[Facility, Facility]:
    """Two facilities of three patients, each with a diagnosis another system wrote."""
    with fhir_server.client() as client:
        return add_facility(client, 3, f"A{tag()}"), add_facility(client, 3, f"B{tag()}")


def test_an_organization_scoped_device_pulls_its_facility_only(
    fhir_server: FhirServer, district: tuple[Facility, Facility], tmp_path: Path
) -> None:
    here, there = district
    scope = SyncScope(organization=here.organization)
    with new_device(fhir_server, tmp_path, "a", scope) as device:
        received = Received(device)
        report = device.sync()
        assert received.ids("Patient") == set(here.patients)
        assert received.ids("Condition") == set(here.conditions)
        assert received.referring_to(there.patients) == []  # 0 resources of the other facility
        assert device.clinic.queries.patient_count() == 3
        assert report.pulled == 6 and report.quarantined == 0
        # What another system wrote about our patients shows in their charts.
        local = device.clinic.sync_gateway.local_id("Patient", here.patients[0])
        assert local is not None
        assert [p.data["text"] for p in device.chart(local).problems] == ["Malaria"]


def test_a_patient_who_enters_the_scope_comes_with_their_older_records(
    fhir_server: FhirServer, district: tuple[Facility, Facility], tmp_path: Path
) -> None:
    here, there = district
    with new_device(fhir_server, tmp_path, "a", SyncScope(organization=here.organization)) as d:
        d.sync()
        with fhir_server.client() as client:
            # Another facility's patient is transferred here; their diagnosis is older than
            # anything the device's watermarks would ask for.
            moved = client.read("Patient", there.patients[0])
            assert moved is not None
            patient = moved.resource | {"managingOrganization": {"reference": here.organization}}
            client.put("Patient", patient["id"], patient, moved.version_id)
            newer = add_condition(client, here.patients[1], "Asthma")
        received = Received(d)
        d.sync()
        assert received.ids("Patient") >= {there.patients[0]}
        assert {there.conditions[0], newer} <= received.ids("Condition")
        assert received.referring_to(there.patients[1:]) == []
        assert d.clinic.queries.patient_count() == 4


def test_a_group_scoped_device_pulls_the_groups_members(
    fhir_server: FhirServer, district: tuple[Facility, Facility], tmp_path: Path
) -> None:
    here, there = district
    members = [here.patients[0], there.patients[0]]
    with fhir_server.client() as client:
        group = client.create(
            "Group",
            {
                "resourceType": "Group",
                "type": "person",
                "actual": True,
                "member": [{"entity": {"reference": f"Patient/{p}"}} for p in members],
            },
        ).resource
    scope = SyncScope(group=f"Group/{group['id']}")
    with new_device(fhir_server, tmp_path, "g", scope) as device:
        received = Received(device)
        device.sync()
        assert received.ids("Patient") == set(members)
        assert received.ids("Condition") == {here.conditions[0], there.conditions[0]}
        assert received.referring_to([*here.patients[1:], *there.patients[1:]]) == []
        expected = "group-has" if fhir_server.name == "real" else "patient-list"
        strategy = device.clinic.sync_gateway.journal("scope_strategy")
        assert strategy["name"] == expected


def test_a_server_that_refuses_chained_search_is_pulled_by_patient_lists(
    fhir_server: FhirServer, district: tuple[Facility, Facility], tmp_path: Path
) -> None:
    here, there = district
    with new_device(fhir_server, tmp_path, "a", SyncScope(organization=here.organization)) as d:
        d.transport.before = refuse_chaining
        received = Received(d)
        d.sync()
        assert d.clinic.sync_gateway.journal("scope_strategy")["name"] == "patient-list"
        assert received.ids("Condition") == set(here.conditions)
        assert received.referring_to(there.patients) == []
        assert d.clinic.queries.patient_count() == 3


def test_visiting_patients_come_along_and_pull_patients_fetches_one_now(
    fhir_server: FhirServer, district: tuple[Facility, Facility], tmp_path: Path
) -> None:
    here, there = district
    with new_device(fhir_server, tmp_path, "a", SyncScope(organization=here.organization)) as d:
        d.sync()
        visitor = there.patients[0]
        fetched = d.engine.puller().pull_patients([visitor])
        assert fetched.seen == 2  # the patient and their diagnosis
        gateway = d.clinic.sync_gateway
        gateway.set_journal("scope_visiting", {visitor: {"local_id": visitor, "since": "x"}})
        with fhir_server.client() as client:
            later = add_condition(client, visitor, "Anaemia")
        received = Received(d)
        report = d.sync()
        assert later in received.ids("Condition")
        assert report.pulled_new == 1  # the visitor's new diagnosis; the rest was here
        assert received.referring_to(there.patients[1:]) == []
        assert d.clinic.queries.patient_count() == 4


def test_retention_runs_after_the_pull_and_the_removed_are_no_longer_pulled(
    fhir_server: FhirServer, district: tuple[Facility, Facility], tmp_path: Path
) -> None:
    here, there = district
    scope = SyncScope(organization=here.organization)
    calls: list[SyncScope] = []
    removed: list[str] = []

    def retention(scope: SyncScope, refetch: Callable[[list[str]], object]) -> list[str]:
        calls.append(scope)
        return removed  # the server ids retention removed from the device

    with new_device(fhir_server, tmp_path, "a", None) as d:
        clinic = d.clinic
        mapper = FhirResourceMapper(clinic.catalog)
        d.engine = SyncEngine(
            clinic.sync_gateway, d.client, mapper, d.clock, scope=scope, retention=retention
        )
        d.transport.before = refuse_chaining  # patient lists: the members list matters
        d.sync()
        assert calls == [scope]
        leaving = here.patients[0]
        with fhir_server.client() as client:  # transferred to the other facility
            moved = client.read("Patient", leaving)
            assert moved is not None
            patient = moved.resource | {"managingOrganization": {"reference": there.organization}}
            client.put("Patient", leaving, patient, moved.version_id)
        removed.append(leaving)
        d.sync()
        key = f"pull_members:patient-list:{here.organization}"
        assert sorted(clinic.sync_gateway.journal(key)) == sorted(here.patients[1:])
        with fhir_server.client() as client:
            add_condition(client, leaving, "Asthma")
            stays = add_condition(client, here.patients[1], "Asthma")
        received = Received(d)
        d.sync()
        assert received.referring_to([leaving]) == []
        assert stays in received.ids("Condition")
