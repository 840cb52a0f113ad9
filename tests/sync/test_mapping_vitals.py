"""Vital signs: one recorded set becomes one Observation per sign (blood pressure as a panel),
with stable ids; reading the Observations back gives the set again; other systems'
vital-sign Observations are read too, in their units."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import events as ev
from app.domain.chart import Item, PatientChart, fold
from app.domain.decide_clinical import VITAL_RANGES
from sync.fhir.mapping import (
    VITALS_SET_SYSTEM,
    MalformedResourceError,
    MappingError,
    ResourceKey,
    UnsupportedResourceError,
    event_from_fhir,
    from_fhir_observation,
    resource_ids_for_item,
    vitals_keys,
    vitals_observation_id,
    vitals_observation_ids,
)
from tests.sync.mapping_builders import (
    FOREIGN_EXTENSION,
    PID,
    VITALS,
    chart_of,
    registered,
    server_copy,
    touched_by_another_system,
    validate,
    writes_nothing,
    written,
)

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SINGLE_SIGNS = ["heart_rate", "respiratory_rate", "temperature", "spo2", "weight", "height"]


def wire(resource: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(resource))
    return loaded


def observations(
    item: Item, bases: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Observation id -> the Observation push writes for the vitals item (`item_writers`, one
    `to_fhir_observation` per sign), each on its server copy from `bases` (absent: new)."""
    found = {ResourceKey("Observation", i): r for i, r in (bases or {}).items()}
    return {key.id: resource for key, resource in written(item, found).items()}


def pulled(*resources: dict[str, Any]) -> PatientChart:
    """Another device's chart after pull recorded each resource: one ItemVersionReceived per
    Observation (`event_from_fhir`), merged into the vitals item by the chart's fold."""
    events: list[ev.DomainEvent] = [registered()]
    for resource in resources:
        patient_id, event = event_from_fhir(wire(resource))
        assert patient_id == PID and isinstance(event, ev.ItemVersionReceived)
        events.append(event)
    return fold(PID, events)


def read_back(resources: dict[str, dict[str, Any]]) -> list[Item]:
    return list(pulled(*(server_copy(r) for r in resources.values())).items.values())


# -- realistic vital signs ------------------------------------------------------------------


def reading(key: str) -> st.SearchStrategy[float]:
    low, high = VITAL_RANGES[key]
    exact = st.floats(low, high, allow_nan=False, allow_infinity=False)
    one_decimal = exact.map(lambda x: round(x, 1)).filter(lambda x: low <= x <= high)
    return st.one_of(st.integers(int(low) + 1, int(high)).map(float), one_decimal, exact)


@st.composite
def vitals_events(draw: st.DrawFn) -> ev.VitalsRecorded:
    measurements: dict[str, float] = {}
    if draw(st.booleans()):
        systolic = draw(reading("systolic").filter(lambda s: s > 21))
        measurements["systolic"] = systolic
        measurements["diastolic"] = draw(reading("diastolic").filter(lambda d: d < systolic))
    for key in SINGLE_SIGNS:
        if draw(st.booleans()):
            measurements[key] = draw(reading(key))
    if not measurements:
        measurements["heart_rate"] = draw(reading("heart_rate"))
    bmi = None
    if "weight" in measurements and "height" in measurements:
        bmi = round(measurements["weight"] / (measurements["height"] / 100) ** 2, 1)
    offset = timezone(timedelta(minutes=draw(st.integers(-12 * 4, 14 * 4)) * 15))
    taken = draw(
        st.datetimes(datetime(2000, 1, 1), datetime(2026, 11, 21), timezones=st.just(offset))
    )
    return ev.VitalsRecorded(
        vitals_id=draw(st.uuids().map(str) | st.from_regex(r"id-[0-9]{1,4}", fullmatch=True)),
        taken_at=taken.replace(microsecond=0).isoformat(timespec="seconds"),
        measurements=measurements,
        bmi=bmi,
        encounter_id=draw(st.none() | st.just("enc-1")),
    )


def item_of(event: ev.VitalsRecorded, *more: ev.DomainEvent) -> Item:
    encounter = ev.EncounterStarted(encounter_id="enc-1", started_at="1999-01-01T00:00:00Z")
    return fold(PID, [registered(), encounter, event, *more]).items[event.vitals_id]


@settings(max_examples=150, deadline=None)
@given(vitals_events())
def test_a_vitals_set_round_trips_through_its_observations(event: ev.VitalsRecorded) -> None:
    item = item_of(event)
    resources = observations(item)
    assert set(resources) == set(vitals_observation_ids(item.id, vitals_keys(item.data)).values())
    assert [k.id for k in resource_ids_for_item(item)] == list(resources)
    for resource in resources.values():
        validate(resource)
    [back] = read_back(resources)
    assert (back.kind, back.id) == ("vitals", item.id)  # pulled() checked the patient
    assert (back.status, back.entered_in_error) == ("final", False)
    assert back.data == item.data
    assert ev.VitalsRecorded(**back.data) == event  # pull can record it as the same event


@settings(max_examples=60, deadline=None)
@given(vitals_events(), st.randoms())
def test_observations_read_in_any_order_give_the_same_set(
    event: ev.VitalsRecorded, rnd: random.Random
) -> None:
    resources = list(observations(item_of(event)).values())
    shuffled = list(resources)
    rnd.shuffle(shuffled)
    assert pulled(*shuffled).items[event.vitals_id].data == (
        pulled(*resources).items[event.vitals_id].data
    )


@settings(max_examples=60, deadline=None)
@given(vitals_events())
def test_mapping_a_set_onto_its_own_server_copies_writes_nothing(event: ev.VitalsRecorded) -> None:
    item = item_of(event)
    copies = {i: server_copy(r) for i, r in observations(item).items()}
    again = observations(item, copies)
    assert all(writes_nothing(copies[i], r) for i, r in again.items())


@settings(max_examples=60, deadline=None)
@given(vitals_events())
def test_a_set_entered_in_error_retracts_every_observation(event: ev.VitalsRecorded) -> None:
    retract = ev.EnteredInError(item_id=event.vitals_id, item_kind="vitals", reason="Wrong patient")
    item = item_of(event, retract)
    copies = {i: server_copy(r) for i, r in observations(item_of(event)).items()}
    resources = observations(item, copies)
    assert {r["status"] for r in resources.values()} == {"entered-in-error"}
    for resource in resources.values():
        validate(resource)
    [back] = read_back(resources)
    assert back.entered_in_error and back.status == "final"
    assert back.data == item.data
    assert back.data["entered_in_error_reason"] == "Wrong patient"


# -- the shape of what is sent --------------------------------------------------------------


def observations_by_loinc() -> dict[str, dict[str, Any]]:
    item = chart_of(ev.EncounterStarted(encounter_id="enc-1", started_at=VITALS.taken_at), VITALS)
    resources = observations(item.items["vit-1"])
    return {r["code"]["coding"][0]["code"]: r for r in resources.values()}


def test_blood_pressure_is_one_panel_with_systolic_and_diastolic_components() -> None:
    panel = observations_by_loinc()["85354-9"]
    assert panel["code"]["coding"][0]["system"] == LOINC
    assert not [k for k in panel if k.startswith("value")]
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]) for c in panel["component"]] == [
        ("8480-6", {"value": 142.0, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}),
        ("8462-4", {"value": 91.0, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}),
    ]
    # Only vitalsigns: a real Medplum refuses every panel that claims `bp` (profiles_of).
    assert panel["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]


@pytest.mark.parametrize(
    ("loinc", "ucum", "value"),
    [
        ("8867-4", "/min", 88.0),
        ("9279-1", "/min", 18.0),
        ("8310-5", "Cel", 37.9),
        ("2708-6", "%", 96.0),
        ("29463-7", "kg", 71.5),
        ("8302-2", "cm", 164.0),
        ("39156-5", "kg/m2", 26.6),
    ],
)
def test_each_vital_sign_has_its_loinc_code_and_ucum_unit(
    loinc: str, ucum: str, value: float
) -> None:
    resource = observations_by_loinc()[loinc]
    assert resource["status"] == "final"
    assert resource["category"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
        "code": "vital-signs",
        "display": "Vital Signs",
    }
    assert resource["valueQuantity"]["system"] == UCUM
    assert (resource["valueQuantity"]["code"], resource["valueQuantity"]["value"]) == (ucum, value)
    assert resource["subject"] == {"reference": f"Patient/{PID}"}
    assert resource["encounter"] == {"reference": "Encounter/enc-1"}
    assert resource["effectiveDateTime"] == VITALS.taken_at
    assert resource["identifier"] == [{"system": VITALS_SET_SYSTEM, "value": "vit-1"}]


def test_oxygen_saturation_carries_the_pulse_oximetry_code_too() -> None:
    codes = [c["code"] for c in observations_by_loinc()["2708-6"]["code"]["coding"]]
    assert codes == ["2708-6", "59408-5"]


def test_bmi_is_derived_from_the_weight_and_height_of_the_same_set() -> None:
    ids = vitals_observation_ids("vit-1", vitals_keys(VITALS.to_payload()))
    assert observations_by_loinc()["39156-5"]["derivedFrom"] == [
        {"reference": f"Observation/{ids['weight']}"},
        {"reference": f"Observation/{ids['height']}"},
    ]


def test_observation_ids_are_stable_and_a_lone_sign_uses_the_vitals_id() -> None:
    # These ids live on servers: the derivation must never change.
    assert vitals_observation_id("vit-1", "heart_rate") == str(
        uuid.uuid5(uuid.UUID("21c61bc2-226d-5124-97da-b91ea6266cbd"), "vit-1/heart_rate")
    )
    ids = vitals_observation_ids("vit-1", ["blood_pressure", "heart_rate"])
    assert ids == vitals_observation_ids("vit-1", ["blood_pressure", "heart_rate"])
    assert len(set(ids.values())) == 2
    assert vitals_observation_ids("vit-1", ["weight"]) == {"weight": "vit-1"}
    with pytest.raises(ValueError):
        vitals_observation_id("vit-1", "glucose")


# -- other systems' Observations ------------------------------------------------------------


def foreign(code: str, quantity: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "lab-77",
        "meta": {"versionId": "3", "lastUpdated": "2026-11-20T08:00:00.000Z"},
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"https://fhir.example.org/R4/Patient/{PID}"},
        "effectiveDateTime": "2026-11-20T10:15:30.250+01:00",
        "extension": [FOREIGN_EXTENSION],
        "interpretation": [{"text": "High"}],
    }
    if quantity is not None:
        resource["valueQuantity"] = quantity
    resource.update(more)
    return resource


@pytest.mark.parametrize(
    ("code", "quantity", "key", "value"),
    [
        (
            "29463-7",
            {"value": 154, "unit": "lb", "system": UCUM, "code": "[lb_av]"},
            "weight",
            69.85,
        ),
        ("3141-9", {"value": 3500, "system": UCUM, "code": "g"}, "weight", 3.5),
        ("8310-5", {"value": 100.4, "unit": "°F"}, "temperature", 38.0),
        ("8302-2", {"value": 1.64, "system": UCUM, "code": "m"}, "height", 164.0),
        (
            "8867-4",
            {"value": 72, "unit": "beats/minute", "system": UCUM, "code": "/min"},
            "heart_rate",
            72.0,
        ),
    ],
)
def test_another_systems_vital_sign_is_read_in_fieldcharts_units(
    code: str, quantity: dict[str, Any], key: str, value: float
) -> None:
    _, event = event_from_fhir(foreign(code, quantity))
    assert isinstance(event, ev.ItemVersionReceived) and event.resource_version == "3"
    [item] = pulled(foreign(code, quantity)).items.values()
    assert item.id == "lab-77"
    assert item.data["measurements"] == {key: value}
    assert item.data["taken_at"] == "2026-11-20T10:15:30+01:00"


def test_retracting_another_systems_observation_updates_it_in_place() -> None:
    theirs = foreign("29463-7", {"value": 154, "unit": "lb", "system": UCUM, "code": "[lb_av]"})
    item = pulled(theirs).items["lab-77"]
    assert writes_nothing(theirs, observations(item, {"lab-77": theirs})["lab-77"])
    item.entered_in_error, item.data["entered_in_error_reason"] = True, "Wrong scale"
    [(obs_id, retracted)] = observations(item, {"lab-77": theirs}).items()
    validate(retracted)
    assert obs_id == "lab-77" and retracted["status"] == "entered-in-error"
    assert retracted["valueQuantity"] == theirs["valueQuantity"]  # their unit stays
    assert retracted["subject"] == theirs["subject"]  # their absolute reference stays
    assert retracted["effectiveDateTime"] == theirs["effectiveDateTime"]
    assert FOREIGN_EXTENSION in retracted["extension"] and retracted["interpretation"]
    assert "identifier" not in retracted and "meta" not in retracted


def test_a_lone_systolic_observation_reads_as_blood_pressure_and_keeps_its_shape() -> None:
    theirs = foreign("8480-6", {"value": 150, "system": UCUM, "code": "mm[Hg]"})
    read = pulled(theirs).items["lab-77"]
    assert read.data["measurements"] == {"systolic": 150.0}
    item = Item("vitals", read.id, dict(read.data), "final", entered_in_error=True)
    retracted = observations(item, {"lab-77": theirs})["lab-77"]
    assert retracted["code"] == theirs["code"] and retracted["valueQuantity"]["value"] == 150
    assert "component" not in retracted


def test_an_update_keeps_what_another_system_added_to_our_observation() -> None:
    item = chart_of(ev.EncounterStarted(encounter_id="enc-1", started_at=VITALS.taken_at), VITALS)
    ours = observations(item.items["vit-1"])
    theirs = {i: touched_by_another_system(r) for i, r in ours.items()}
    item.items["vit-1"].entered_in_error = True
    for obs_id, resource in observations(item.items["vit-1"], theirs).items():
        validate(resource)
        assert FOREIGN_EXTENSION in resource["extension"]
        assert theirs[obs_id]["identifier"][-1] in resource["identifier"]
        assert resource["meta"]["tag"] == theirs[obs_id]["meta"]["tag"]
        assert resource["text"] == theirs[obs_id]["text"]


BAD = [
    (
        foreign("2345-7", {"value": 5.4, "code": "mmol/L", "system": UCUM}),
        UnsupportedResourceError,
        "code",
    ),
    (
        foreign("8867-4", {"value": 72, "code": "Hz", "system": UCUM}),
        UnsupportedResourceError,
        "valueQuantity.code",
    ),
    (foreign("8867-4", {"unit": "/min"}), UnsupportedResourceError, "valueQuantity"),
    (foreign("8867-4", {"value": "72"}), MalformedResourceError, "valueQuantity.value"),
    (
        foreign("8867-4", {"value": 72, "code": "/min"}, subject=None),
        MalformedResourceError,
        "subject",
    ),
    (
        foreign("8867-4", {"value": 72, "code": "/min"}, subject={"reference": "Group/g1"}),
        MalformedResourceError,
        "subject.reference",
    ),
    (
        foreign("8867-4", {"value": 72, "code": "/min"}, effectiveDateTime="2026-11-20T10:15"),
        MalformedResourceError,
        "effectiveDateTime",
    ),
    (
        foreign("8867-4", {"value": 72, "code": "/min"}, effectiveDateTime=None),
        UnsupportedResourceError,
        "effective[x]",
    ),
    (
        foreign("8867-4", {"value": 72, "code": "/min"}, status="done"),
        MalformedResourceError,
        "status",
    ),
    ({**foreign("8867-4"), "resourceType": "Condition"}, MalformedResourceError, "resourceType"),
]


@pytest.mark.parametrize(("resource", "error", "element"), BAD)
def test_an_unusable_observation_is_refused_naming_the_element(
    resource: dict[str, Any], error: type[MappingError], element: str
) -> None:
    resource = {k: v for k, v in resource.items() if v is not None}
    with pytest.raises(error) as info:
        from_fhir_observation(resource)
    assert info.value.element == element
    assert info.value.resource == "Observation/lab-77"
    assert "72" not in str(info.value) and "5.4" not in str(info.value)
