"""Test results <-> laboratory Observations: what push writes validates as FHIR R4B, reads back
as the same item, keeps what other systems added, and is not rewritten when unchanged; a
district lab's Observation of a bundled test reads as a test result, any other code does not."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import commands as c
from app.domain import events as ev
from app.domain.context import DecisionContext
from app.domain.decide import decide
from app.store.reference_data import bundled_catalog
from sync.fhir.mapping import ResourceKey, changed_elements, event_from_fhir
from sync.fhir.mapping.errors import MappingError
from sync.fhir.mapping.items import from_fhir_resource
from sync.fhir.mapping.laboratory import (
    METHOD_SYSTEM,
    from_fhir_test_result,
    is_test_result,
)
from sync.fhir.mapping.remote import RemoteItem
from tests.clinic_fixtures import DOC, NOW
from tests.sync.mapping_builders import (
    PID,
    chart_of,
    server_copy,
    touched_by_another_system,
    validate,
    writes_nothing,
    written,
)

TAKEN = "2026-11-21T09:15:00+03:00"


def recorded(result_id: str, **fields: Any) -> ev.TestResultRecorded:
    base: dict[str, Any] = {
        "result_id": result_id,
        "test": "malaria_rdt_pf",
        "loinc": "76772-3",
        "name": "Malaria RDT (P. falciparum)",
        "result_type": "qualitative",
        "loinc_display": "Plasmodium falciparum Ag [Presence] in Blood by Rapid immunoassay",
        "taken_at": TAKEN,
        "specimen": "capillary blood",
        "result": "positive",
        "interpretation": "POS",
        "abnormal": True,
    }
    return ev.TestResultRecorded(**{**base, **fields})


RDT = recorded("rdt-1", encounter_id="enc-1", note="faint test line")
HB = recorded(
    "hb-1",
    test="haemoglobin",
    loinc="718-7",
    name="Haemoglobin",
    result_type="numeric",
    loinc_display="Hemoglobin [Mass/volume] in Blood",
    result=None,
    value=8.4,
    unit="g/dL",
    unit_label="g/dL",
    reference_low=12.0,
    reference_high=17.5,
    interpretation="L",
)
PROTEIN = recorded(
    "up-1",
    test="urine_protein",
    loinc="20454-5",
    name="Urine dipstick: protein",
    result_type="ordinal",
    specimen="urine",
    result="2+",
    interpretation="A",
)
INVALID = recorded(
    "hiv-1",
    test="hiv_rapid",
    loinc="80387-4",
    name="HIV rapid test (HIV-1/2 antibody)",
    result="invalid",
    interpretation="IND",
    abnormal=False,
)
ENCOUNTER = ev.EncounterStarted(encounter_id="enc-1", started_at=TAKEN)
EVENTS = (ENCOUNTER, RDT, HB, PROTEIN, INVALID)


def observation(item_id: str, *more: ev.DomainEvent) -> dict[str, Any]:
    chart = chart_of(*EVENTS, *more)
    return written(chart.items[item_id])[ResourceKey("Observation", item_id)]


@pytest.mark.parametrize("item_id", ["rdt-1", "hb-1", "up-1", "hiv-1"])
def test_what_push_writes_is_valid_r4b_and_reads_back_as_the_same_item(item_id: str) -> None:
    resource = observation(item_id)
    validate(resource)
    assert resource["category"][0]["coding"][0]["code"] == "laboratory"
    assert resource["method"]["coding"][0] == {
        "system": METHOD_SYSTEM,
        "code": "point-of-care",
        "display": "Point-of-care test",
    }
    item = chart_of(*EVENTS).items[item_id]
    back = from_fhir_test_result(server_copy(resource))
    assert (back.kind, back.id, back.patient_id, back.status) == (
        "test_result",
        item_id,
        PID,
        "final",
    )
    for key in ("test", "loinc", "name", "value", "result", "unit", "interpretation", "abnormal"):
        assert back.data[key] == item.data.get(key), key
    assert back.data["specimen"] == item.data["specimen"]


def test_values_are_coded_in_loinc_ucum_and_snomed() -> None:
    rdt, hb, protein, invalid = (observation(i) for i in ("rdt-1", "hb-1", "up-1", "hiv-1"))
    assert rdt["code"]["coding"][0]["code"] == "76772-3"
    assert rdt["valueCodeableConcept"]["coding"][0]["code"] == "10828004"  # Positive
    assert rdt["interpretation"][0]["coding"][0]["code"] == "POS"
    assert rdt["encounter"] == {"reference": "Encounter/enc-1"}
    assert rdt["note"] == [{"text": "faint test line"}]
    assert rdt["specimen"] == {"display": "Capillary blood"}
    assert hb["valueQuantity"] == {
        "value": 8.4,
        "unit": "g/dL",
        "system": "http://unitsofmeasure.org",
        "code": "g/dL",
    }
    assert hb["referenceRange"][0]["low"]["value"] == 12.0
    assert hb["interpretation"][0]["coding"][0]["code"] == "L"
    assert protein["valueCodeableConcept"]["coding"][0]["code"] == "260348001"  # ++
    assert invalid["valueCodeableConcept"]["text"] == "Invalid"


def test_an_unchanged_result_is_not_rewritten_and_others_additions_stay() -> None:
    resource = observation("hb-1")
    assert writes_nothing(server_copy(resource), observation("hb-1"))
    theirs = touched_by_another_system(resource)
    chart = chart_of(*EVENTS)
    rewritten = written(chart.items["hb-1"], {ResourceKey("Observation", "hb-1"): theirs})
    again = rewritten[ResourceKey("Observation", "hb-1")]
    assert again["text"] == theirs["text"] and theirs["extension"][0] in again["extension"]
    assert writes_nothing(theirs, again)


def test_entered_in_error_is_written_as_the_fhir_status_and_read_back() -> None:
    mark = ev.EnteredInError(item_id="rdt-1", item_kind="test_result", reason="wrong patient")
    resource = observation("rdt-1", mark)
    validate(resource)
    assert resource["status"] == "entered-in-error"
    back = from_fhir_test_result(server_copy(resource))
    assert back.entered_in_error and back.status == "final"
    assert back.data["entered_in_error_reason"] == "wrong patient"


def district_lab(code: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "lab-77",
        "meta": {"versionId": "3", "lastUpdated": "2026-11-28T10:00:00Z"},
        "status": "final",
        "category": [{"coding": [{"code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": "Lab test"},
        "subject": {"reference": f"Patient/{PID}"},
        "effectiveDateTime": "2026-11-28T09:30:00+03:00",
        "performer": [{"display": "Mkoani District Laboratory"}],
        **value,
    }


def test_a_district_labs_result_of_a_bundled_test_is_a_test_result() -> None:
    hb = district_lab(
        "718-7",
        valueQuantity={"value": 10.4, "system": "http://unitsofmeasure.org", "code": "g/dL"},
        interpretation=[
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": "L",
                    }
                ]
            }
        ],
    )
    assert is_test_result(hb)
    pid, event = event_from_fhir(hb)
    assert pid == PID and isinstance(event, ev.ItemVersionReceived)
    assert (event.item_kind, event.item_id) == ("test_result", "lab-77")
    assert (event.data["value"], event.data["unit"], event.data["abnormal"]) == (10.4, "g/dL", True)
    hiv = district_lab(
        "68961-2",
        valueCodeableConcept={
            "coding": [{"system": "http://snomed.info/sct", "code": "260385009"}]
        },
    )
    remote = from_fhir_resource(hiv)
    assert isinstance(remote, RemoteItem) and remote.data["test"] == "hiv_rapid"
    assert (remote.data["result"], remote.data["abnormal"]) == ("negative", False)


def test_other_codes_and_vital_signs_are_not_test_results() -> None:
    creatinine = district_lab("2160-0", valueQuantity={"value": 1.3})
    assert not is_test_result(creatinine)
    remote = from_fhir_resource(creatinine)  # an "other" record (or refused), never ours
    assert not (isinstance(remote, RemoteItem) and remote.kind == "test_result")
    pulse = district_lab("8867-4", valueQuantity={"value": 70, "code": "/min"})
    assert from_fhir_resource(pulse).kind == "vitals"  # type: ignore[union-attr]


def test_a_bundled_test_without_a_usable_value_is_not_a_test_result() -> None:
    text_only = district_lab("76772-3", valueString="see comment")
    with pytest.raises(MappingError):
        from_fhir_test_result(text_only)


# -- any result of any bundled test survives the round trip ---------------------------------

CATALOG = bundled_catalog()


@st.composite
def any_result(draw: st.DrawFn) -> c.RecordTestResult:
    test = draw(st.sampled_from(sorted(CATALOG.poc_tests.values(), key=lambda t: t.key)))
    if test.result_type == "numeric":
        value = draw(st.floats(test.minimum, test.maximum).map(lambda x: round(x, 1)))
        value = min(max(value, test.minimum), test.maximum)
        return c.RecordTestResult(patient_id=PID, result_id="r-1", test=test.key, value=value)
    word = draw(st.sampled_from(test.scale))
    return c.RecordTestResult(patient_id=PID, result_id="r-1", test=test.key, result=word)


@settings(max_examples=60, deadline=None)
@given(any_result(), st.booleans())
def test_any_bundled_result_reads_back_as_what_was_recorded(
    command: c.RecordTestResult, in_error: bool
) -> None:
    ctx = DecisionContext(now=NOW, actor=DOC, new_id=lambda: "x", catalog=CATALOG)
    chart = chart_of()
    (event,) = decide(chart, command, ctx).events
    events: list[ev.DomainEvent] = [event]
    if in_error:
        events.append(ev.EnteredInError(item_id="r-1", item_kind="test_result", reason="typo"))
    item = chart_of(*events).items["r-1"]
    resource = written(item)[ResourceKey("Observation", "r-1")]
    validate(resource)
    back = from_fhir_test_result(server_copy(resource))
    assert back.entered_in_error is in_error
    mine = dict(item.data)
    theirs = {k: back.data.get(k) for k in mine}
    assert theirs == mine


def test_marking_a_labs_result_entered_in_error_changes_only_its_status() -> None:
    lab = district_lab(
        "718-7",
        valueQuantity={"value": 10.4, "system": "http://unitsofmeasure.org", "code": "g/dL"},
        specimen={"reference": "Specimen/sp-9"},
        referenceRange=[{"text": "12-16 g/dL"}],
    )
    _, received = event_from_fhir(lab)
    assert isinstance(received, ev.ItemVersionReceived)
    mark = ev.EnteredInError(item_id="lab-77", item_kind="test_result", reason="wrong patient")
    item = chart_of(received, mark).items["lab-77"]
    ours = written(item, {ResourceKey("Observation", "lab-77"): lab})[
        ResourceKey("Observation", "lab-77")
    ]
    validate(ours)
    assert changed_elements(lab, ours) == {"status", "extension"}
