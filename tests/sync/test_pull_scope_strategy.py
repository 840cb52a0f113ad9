"""Which queries honour a device's scope, chosen from the server's CapabilityStatement
(sync/scope.py): what each test server gets, and the servers that lack what a scope needs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.services.settings import DeviceSettings
from sync.fhir.capability import SYNCED_RESOURCE_TYPES, CapabilityInfo
from sync.scope import ScopeUnsupportedError, SyncScope, choose_strategy
from tests.realfhir.plugin import FhirServer

ORG = SyncScope(organization="Organization/org-1")
GROUP = SyncScope(group="Group/g-1")


def statement(software: str = "Example FHIR", **params: list[dict[str, str]]) -> dict[str, Any]:
    """A statement whose types list the given search parameters (default: _lastUpdated only)."""
    base = {
        "interaction": [{"code": c} for c in ("read", "update", "search-type")],
        "searchParam": [{"name": "_lastUpdated", "type": "date"}],
    }
    resources = []
    for t in SYNCED_RESOURCE_TYPES:
        entry: dict[str, Any] = {"type": t, **copy.deepcopy(base)}
        entry["searchParam"] += params.get(t, [])
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "fhirVersion": "4.0.1",
        "software": {"name": software},
        "rest": [{"mode": "server", "resource": resources}],
    }


def ref(name: str) -> dict[str, str]:
    return {"name": name, "type": "reference"}


def test_each_test_server_gets_its_strategy(fhir_server: FhirServer) -> None:
    with fhir_server.client() as client:
        info = client.capabilities()
    assert choose_strategy(info, ORG).name == "chained"
    # _has works on the real Medplum server only (the peer's router answers 0 results).
    expected = "group-has" if fhir_server.name == "real" else "patient-list"
    assert choose_strategy(info, GROUP).name == expected
    assert choose_strategy(info, SyncScope()).name == "everything"


def test_a_sparse_statement_is_assumed_to_have_the_base_parameters() -> None:
    strategy = choose_strategy(CapabilityInfo.from_statement(statement()), ORG)
    assert strategy.name == "chained"
    # Observation has both: `subject` (a plain reference; `patient` may resolve each one).
    assert strategy.patient_param("Observation") == "subject"
    assert strategy.patient_param("AllergyIntolerance") == "patient"  # it has no subject


def test_a_type_with_subject_but_no_patient_is_searched_by_subject() -> None:
    info = CapabilityInfo.from_statement(statement(Observation=[ref("subject")]))
    assert choose_strategy(info, ORG).patient_param("Observation") == "subject"


def test_a_type_that_lists_its_parameters_without_patient_cannot_be_scoped() -> None:
    info = CapabilityInfo.from_statement(statement(Condition=[ref("code")]))
    with pytest.raises(ScopeUnsupportedError, match="cannot search Condition by patient"):
        choose_strategy(info, ORG)


def test_patients_not_searchable_by_organization_cannot_take_an_organization_scope() -> None:
    info = CapabilityInfo.from_statement(statement(Patient=[ref("general-practitioner")]))
    with pytest.raises(ScopeUnsupportedError, match=r"Patient\?organization="):
        choose_strategy(info, ORG)
    # A Group scope does not need it.
    assert choose_strategy(info, GROUP).name == "patient-list"


def test_a_server_that_refused_chaining_gets_patient_lists() -> None:
    info = CapabilityInfo.from_statement(statement())
    assert choose_strategy(info, ORG, chaining=False).name == "patient-list"


def test_has_counts_when_declared_or_for_known_software() -> None:
    declared = statement(Patient=[{"name": "_has", "type": "special"}])
    assert choose_strategy(CapabilityInfo.from_statement(declared), GROUP).name == "group-has"
    medplum = CapabilityInfo.from_statement(statement(software="medplum"))
    assert choose_strategy(medplum, GROUP).name == "group-has"
    # A server that refused a _has search after all: the Group's members, by patient lists.
    assert choose_strategy(medplum, GROUP, chaining=False).name == "patient-list"
    # A name that merely mentions Medplum (the test peer's) is not the Medplum server.
    peerlike = CapabilityInfo.from_statement(statement(software="a peer (@medplum/fhir-router)"))
    assert choose_strategy(peerlike, GROUP).name == "patient-list"


def test_locations_alone_are_not_a_scope_the_pull_can_honour() -> None:
    with pytest.raises(ScopeUnsupportedError, match="Locations alone"):
        choose_strategy(
            CapabilityInfo.from_statement(statement()), SyncScope(locations=("Location/l",))
        )


def test_scope_from_settings() -> None:
    assert not SyncScope.from_settings(DeviceSettings()).configured
    scope = SyncScope.from_settings(
        DeviceSettings(scope_organization="Organization/o", scope_locations=("Location/l",))
    )
    assert scope.configured and scope.organization_ref == "Organization/o"
    assert scope.locations == ("Location/l",)
    assert SyncScope.from_settings(DeviceSettings(pull_everything=True)).everything
    assert (
        choose_strategy(CapabilityInfo.from_statement(statement()), SyncScope(everything=True)).name
        == "everything"
    )
