"""Immunizations <-> FHIR R4 Immunization: what push writes validates as R4B, reads back as the
same item, keeps what other systems added and is not rewritten when unchanged; a campaign's
Immunization reads as an immunization item (known CVX or not); not-done ones are "other"."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.immunization import Immunization

from app.domain import events as ev
from sync.fhir.mapping import ResourceKey, event_from_fhir
from sync.fhir.mapping.errors import MalformedResourceError
from sync.fhir.mapping.immunization import CVX, from_fhir_immunization
from sync.fhir.mapping.items import from_fhir_resource
from tests.sync.mapping_builders import (
    PID,
    chart_of,
    server_copy,
    touched_by_another_system,
    writes_nothing,
    written,
)

GIVEN = ev.ImmunizationRecorded(
    immunization_id="imm-1",
    vaccine_id="penta",
    vaccine="Pentavalent (DTwP-HepB-Hib)",
    cvx="198",
    dose_number=2,
    given_at="2026-11-21T09:15:00+03:00",
    given_on="2026-11-21",
    lot="PX-2231",
    lot_expiry="2027-03-31",
    site="left-thigh",
    route="intramuscular",
    encounter_id="enc-1",
)
CARD = ev.ImmunizationRecorded(
    immunization_id="imm-2",
    vaccine_id="bcg",
    vaccine="BCG",
    cvx="19",
    dose_number=1,
    given_at="2026-08-01T12:00:00+00:00",
    given_on="2026-08-01",
    time_known=False,
    historical=True,
    source="Road-to-health card, Mbeya RRH",
)
ENCOUNTER = ev.EncounterStarted(encounter_id="enc-1", started_at="2026-11-21T09:00:00+03:00")
EVENTS = (ENCOUNTER, GIVEN, CARD)


def immunization(item_id: str, *more: ev.DomainEvent) -> dict[str, Any]:
    chart = chart_of(*EVENTS, *more)
    return written(chart.items[item_id])[ResourceKey("Immunization", item_id)]


@pytest.mark.parametrize("item_id", ["imm-1", "imm-2"])
def test_what_push_writes_is_valid_r4b_and_reads_back_as_the_same_item(item_id: str) -> None:
    resource = immunization(item_id)
    Immunization.model_validate(resource)
    item = chart_of(*EVENTS).items[item_id]
    back = from_fhir_immunization(server_copy(resource))
    assert (back.kind, back.id, back.patient_id, back.status) == (
        "immunization",
        item_id,
        PID,
        "completed",
    )
    for key, value in item.data.items():
        assert back.data[key] == value, key


def test_a_dose_given_here_is_coded_in_cvx_with_lot_site_route_and_dose() -> None:
    resource = immunization("imm-1")
    assert resource["status"] == "completed"
    assert resource["vaccineCode"]["coding"][0] == {
        "system": CVX,
        "code": "198",
        "display": "Pentavalent (DTwP-HepB-Hib)",
    }
    assert resource["patient"] == {"reference": f"Patient/{PID}"}
    assert resource["encounter"] == {"reference": "Encounter/enc-1"}
    assert resource["occurrenceDateTime"] == "2026-11-21T09:15:00+03:00"
    assert resource["primarySource"] is True and "reportOrigin" not in resource
    assert (resource["lotNumber"], resource["expirationDate"]) == ("PX-2231", "2027-03-31")
    assert resource["site"]["coding"][0]["code"] == "LT"
    assert resource["route"]["coding"][0]["code"] == "IM"
    assert resource["protocolApplied"] == [{"doseNumberPositiveInt": 2}]


def test_a_dose_from_a_card_is_not_a_primary_source_and_dated_by_day() -> None:
    resource = immunization("imm-2")
    assert resource["primarySource"] is False
    assert resource["reportOrigin"]["coding"][0]["code"] == "record"
    assert resource["reportOrigin"]["text"] == "Road-to-health card, Mbeya RRH"
    assert resource["occurrenceDateTime"] == "2026-08-01"


def test_an_unchanged_dose_is_not_rewritten_and_others_additions_stay() -> None:
    resource = immunization("imm-1")
    assert writes_nothing(server_copy(resource), immunization("imm-1"))
    theirs = touched_by_another_system(resource)
    theirs["protocolApplied"][0]["series"] = "Primary"
    theirs["performer"] = [{"actor": {"display": "Nurse Rehema"}}]
    chart = chart_of(*EVENTS)
    again = written(chart.items["imm-1"], {ResourceKey("Immunization", "imm-1"): theirs})[
        ResourceKey("Immunization", "imm-1")
    ]
    assert again["performer"] == theirs["performer"]
    assert again["protocolApplied"][0]["series"] == "Primary"
    assert writes_nothing(theirs, again)


def test_entered_in_error_is_written_as_the_fhir_status_and_read_back() -> None:
    mark = ev.EnteredInError(item_id="imm-1", item_kind="immunization", reason="wrong child")
    resource = immunization("imm-1", mark)
    Immunization.model_validate(resource)
    assert resource["status"] == "entered-in-error"
    back = from_fhir_immunization(server_copy(resource))
    assert back.entered_in_error and back.status == "completed"
    assert back.data["entered_in_error_reason"] == "wrong child"


def campaign(**fields: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": "campaign-9",
        "meta": {"versionId": "4", "lastUpdated": "2026-10-20T08:00:00Z"},
        "status": "completed",
        "vaccineCode": {"coding": [{"system": CVX, "code": "04"}], "text": "MR campaign dose"},
        "patient": {"reference": f"Patient/{PID}"},
        "occurrenceDateTime": "2026-10-19",
        "primarySource": True,
        "performer": [{"actor": {"display": "National MR campaign team 4"}}],
    }
    resource.update(fields)
    return resource


def test_a_campaigns_immunization_reads_as_an_immunization_item() -> None:
    Immunization.model_validate(campaign())
    pid, event = event_from_fhir(campaign())
    assert pid == PID and isinstance(event, ev.ItemVersionReceived)
    assert (event.item_kind, event.item_id, event.status) == (
        "immunization",
        "campaign-9",
        "completed",
    )
    assert (event.data["cvx"], event.data["vaccine"], event.data["given_on"]) == (
        "04",
        "MR campaign dose",
        "2026-10-19",
    )
    assert event.data["vaccine_id"] is None and event.data["dose_number"] is None


def test_an_unknown_vaccine_is_still_an_immunization_shown_by_its_text() -> None:
    other = campaign(
        vaccineCode={
            "coding": [{"system": "urn:oid:1.2.3", "code": "JE-1"}],
            "text": "Japanese encephalitis (live)",
        }
    )
    remote = from_fhir_resource(other)
    assert remote.kind == "immunization"  # type: ignore[union-attr]
    assert remote.data["vaccine"] == "Japanese encephalitis (live)"  # type: ignore[union-attr]
    assert remote.data["cvx"] is None  # type: ignore[union-attr]


def test_not_done_and_undated_immunizations_are_other_records_malformed_ones_quarantined() -> None:
    not_done = from_fhir_resource(campaign(status="not-done"))
    assert not_done.kind == "other"  # type: ignore[union-attr]
    undated = campaign(occurrenceString="as a child")
    del undated["occurrenceDateTime"]
    assert from_fhir_resource(undated).kind == "other"  # type: ignore[union-attr]
    with pytest.raises(MalformedResourceError):
        from_fhir_resource(campaign(status="given"))
    with pytest.raises(MalformedResourceError):
        from_fhir_resource(campaign(occurrenceDateTime="19/10/2026"))
