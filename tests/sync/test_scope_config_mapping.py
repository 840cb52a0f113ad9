"""What a scoped device writes of its facility (issue 14): a patient it creates on the server is
managed by the scope's Organization and an encounter it creates took place at the first scope
Location; a patient or encounter the server already holds keeps what the server says."""

from __future__ import annotations

from typing import Any

from app.domain.chart import PatientChart
from app.domain.events import DemographicsUpdated, DomainEvent
from app.services.settings import DeviceSettings
from sync.clinic_sync import facility_of
from sync.fhir.mapping import ResourceKey, changed_elements, same_meaning, writes_for_events
from sync.fhir.mapping.facility import Facility
from tests.sync.mapping_builders import (
    ENCOUNTER,
    PID,
    chart_of,
    registered,
    server_copy,
    validate,
)

HERE = Facility("Organization/kisesa-hc", "Location/kisesa-opd")
PATIENT = ResourceKey("Patient", PID)
VISIT = ResourceKey("Encounter", "enc-1")


def built(
    events: list[DomainEvent],
    chart: PatientChart,
    key: ResourceKey,
    base: dict[str, Any] | None,
    facility: Facility | None = HERE,
) -> dict[str, Any]:
    resource = writes_for_events(events, chart, None, facility)[key](base)
    validate(resource)
    return resource


def test_a_patient_registered_here_is_created_managed_by_the_scope_organization() -> None:
    patient = built([registered()], chart_of(), PATIENT, None)
    assert patient["managingOrganization"] == {"reference": "Organization/kisesa-hc"}


def test_a_patient_the_server_holds_keeps_its_own_organization_or_none() -> None:
    """Never overwritten, never added on update: a patient from another facility stays theirs."""
    edit = DemographicsUpdated(
        changes={"phone": "+255 700 000 009"}, previous={"phone": "+255 754 123 456"}
    )
    chart = chart_of(edit)
    theirs = server_copy(built([registered()], chart_of(), PATIENT, None, None))
    theirs["managingOrganization"] = {"reference": "Organization/district-hospital"}
    updated = built([edit], chart, PATIENT, theirs)
    assert updated["managingOrganization"] == {"reference": "Organization/district-hospital"}
    assert updated["telecom"][0]["value"] == "+255 700 000 009"

    del theirs["managingOrganization"]
    assert "managingOrganization" not in built([edit], chart, PATIENT, theirs)


def test_an_unchanged_pulled_patient_with_another_organization_is_no_write() -> None:
    """The organization is the server's, not ours: no difference to push back."""
    ours = built([registered()], chart_of(), PATIENT, None)
    theirs = server_copy({**ours, "managingOrganization": {"reference": "Organization/other"}})
    again = built([registered()], chart_of(), PATIENT, theirs)
    assert same_meaning(again, theirs) and not changed_elements(theirs, again)


def test_an_encounter_recorded_here_takes_place_at_the_first_scope_location() -> None:
    chart = chart_of(ENCOUNTER)
    encounter = built([ENCOUNTER], chart, VISIT, None)
    assert encounter["location"] == [{"location": {"reference": "Location/kisesa-opd"}}]
    elsewhere = server_copy({**encounter, "location": [{"location": {"reference": "Location/x"}}]})
    assert built([ENCOUNTER], chart, VISIT, elsewhere)["location"] == elsewhere["location"]


def test_a_device_without_scope_writes_neither() -> None:
    assert facility_of(DeviceSettings()) is None
    patient = built([registered()], chart_of(), PATIENT, None, facility_of(DeviceSettings()))
    encounter = built([ENCOUNTER], chart_of(ENCOUNTER), VISIT, None, None)
    assert "managingOrganization" not in patient and "location" not in encounter


def test_the_facility_of_a_device_is_its_scope_organization_and_first_location() -> None:
    scoped = DeviceSettings(
        scope_organization="Organization/kisesa-hc",
        scope_locations=("Location/kisesa-opd", "Location/kisesa-mch"),
    )
    assert facility_of(scoped) == HERE
    assert facility_of(DeviceSettings(scope_group="Group/g1")) is None
    only_locations = DeviceSettings(scope_locations=("Location/kisesa-opd",))
    assert facility_of(only_locations) == Facility(None, "Location/kisesa-opd")
