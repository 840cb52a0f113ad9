"""Patient mapping: a registration reaches the server and comes back unchanged; what other
systems put on the Patient survives our edits; malformed Patients are refused by name."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.fhir.mapping import (
    MalformedResourceError,
    MappingError,
    UnsupportedResourceError,
    diff_owned_elements,
    from_fhir_patient,
    to_fhir_patient,
)
from tests.sync.mapping_builders import (
    FOREIGN_EXTENSION,
    FOREIGN_IDENTIFIER,
    FOREIGN_TAG,
    PID,
    chart_of,
    server_copy,
    touched_by_another_system,
    validate,
    writes_nothing,
)

# -- realistic demographics -----------------------------------------------------------------

LETTERS = st.characters(categories=("Lu", "Ll", "Lt", "Lo"))
word = st.text(alphabet=LETTERS, min_size=1, max_size=12)
name = st.one_of(
    st.lists(word, min_size=1, max_size=3).map(" ".join),
    st.tuples(word, word).map("-".join),  # Mwakyusa-Ngowi
    st.tuples(word, word).map("'".join),  # O'Neill, N'Diaye
)
phone = st.from_regex(r"\+?[0-9]{2,4}( ?[0-9]{2,4}){1,4}", fullmatch=True)
address_text = st.text(
    alphabet=st.characters(categories=("L", "N", "Zs"), include_characters=",./-#"),
    min_size=1,
    max_size=120,
).map(str.strip)
demographics = st.fixed_dictionaries(
    {
        "given": name,
        "family": name,
        "birth_date": st.dates(date(1896, 1, 1), date(2026, 11, 21)).map(date.isoformat),
        "sex": st.sampled_from(["female", "male", "other", "unknown"]),
        "phone": st.none() | phone,
        "address": st.none() | address_text.filter(bool),
    }
)
identifiers = st.lists(
    st.fixed_dictionaries(
        {
            "system": st.sampled_from(["urn:fieldchart:mrn", "urn:oid:2.16.834.1.1", "urn:nin"]),
            "value": st.from_regex(r"[A-Z0-9][A-Z0-9-]{2,15}", fullmatch=True),
        }
    ),
    max_size=3,
    unique_by=lambda i: (i["system"], i["value"]),
)


def wire(resource: dict[str, Any]) -> dict[str, Any]:
    """Through JSON, as the server stores and returns it."""
    loaded: dict[str, Any] = json.loads(json.dumps(resource, ensure_ascii=False))
    return loaded


@settings(max_examples=150, deadline=None)
@given(demographics, identifiers)
def test_a_registered_patient_round_trips_through_fhir(
    demo: dict[str, Any], idents: list[dict[str, str]]
) -> None:
    resource = to_fhir_patient(PID, demo, idents, None)
    validate(resource)
    back = from_fhir_patient(wire(server_copy(resource)))
    assert back.patient_id == PID
    assert back.version_id == "v1"
    assert back.demographics == demo
    assert back.identifiers == idents


@settings(max_examples=100, deadline=None)
@given(demographics, demographics, identifiers)
def test_an_edit_keeps_what_another_system_added_and_changes_only_what_changed(
    before: dict[str, Any], after: dict[str, Any], idents: list[dict[str, str]]
) -> None:
    base = touched_by_another_system(to_fhir_patient(PID, before, idents, None))
    updated = to_fhir_patient(PID, after, idents, base)
    validate(updated)
    assert FOREIGN_EXTENSION in updated["extension"]
    assert FOREIGN_IDENTIFIER in updated["identifier"]
    assert updated["meta"] == {"tag": [FOREIGN_TAG]}  # versionId and lastUpdated are gone
    assert from_fhir_patient(server_copy(updated)).demographics == after
    elements = {
        "given": "name",
        "family": "name",
        "birth_date": "birthDate",
        "sex": "gender",
        "phone": "telecom",
        "address": "address",
    }
    expected = {elements[k] for k in before if before[k] != after[k]}
    assert diff_owned_elements(base, updated) == expected
    assert writes_nothing(base, updated) == (not expected)


def test_the_phone_edit_of_scenario_5_keeps_the_third_partys_extension() -> None:
    chart = chart_of()
    ours = server_copy(to_fhir_patient(PID, chart.demographics, chart.identifiers, None))
    theirs = touched_by_another_system(ours)
    edited = {**chart.demographics, "phone": "+255 700 000 001"}
    updated = to_fhir_patient(PID, edited, chart.identifiers, theirs)
    assert updated["extension"] == [FOREIGN_EXTENSION]
    assert diff_owned_elements(theirs, updated) == {"telecom"}
    assert updated["telecom"] == [{"system": "phone", "value": "+255 700 000 001"}]


def test_other_names_contacts_and_addresses_of_the_patient_are_kept() -> None:
    base = {
        "resourceType": "Patient",
        "id": PID,
        "meta": {"versionId": "7", "lastUpdated": "2026-11-20T10:00:00Z"},
        "active": True,
        "name": [
            {"use": "nickname", "given": ["Mimi"]},
            {
                "use": "official",
                "family": "Ødegård",
                "given": ["Amina", "Zawadi"],
                "prefix": ["Ms"],
            },
            {"use": "maiden", "family": "Mushi"},
        ],
        "telecom": [
            {"system": "email", "value": "a@example.org"},
            {"system": "phone", "value": "+255 111", "use": "old"},
            {"system": "phone", "value": "+255 222", "use": "home"},
            {"system": "phone", "value": "+255 333", "use": "mobile", "rank": 1},
        ],
        "gender": "female",
        "birthDate": "1980-04-23",
        "address": [
            {"use": "old", "text": "Dar es Salaam"},
            {"use": "home", "line": ["Plot 7"], "city": "Mbeya", "country": "TZ"},
        ],
        "generalPractitioner": [{"display": "Dr. Kileo"}],
    }
    read = from_fhir_patient(base)
    assert read.demographics == {
        "given": "Amina Zawadi",
        "family": "Ødegård",
        "birth_date": "1980-04-23",
        "sex": "female",
        "phone": "+255 333",
        "address": "Plot 7, Mbeya, TZ",
    }
    unchanged = to_fhir_patient(PID, read.demographics, read.identifiers, base)
    assert writes_nothing(base, unchanged)
    moved = to_fhir_patient(PID, {**read.demographics, "address": "Plot 9, Iringa"}, [], base)
    validate(moved)
    assert moved["address"] == [
        {"use": "old", "text": "Dar es Salaam"},
        {"use": "home", "text": "Plot 9, Iringa"},
    ]
    renamed = to_fhir_patient(PID, {**read.demographics, "given": "Amina"}, [], base)
    assert renamed["name"][0] == {"use": "nickname", "given": ["Mimi"]}
    assert renamed["name"][1] == {
        "use": "official",
        "family": "Ødegård",
        "given": ["Amina"],
        "prefix": ["Ms"],
    }
    no_phone = to_fhir_patient(PID, {**read.demographics, "phone": None}, [], base)
    assert [t["value"] for t in no_phone["telecom"]] == ["a@example.org", "+255 111", "+255 222"]
    for resource in (unchanged, moved, renamed, no_phone):
        assert resource["generalPractitioner"] == [{"display": "Dr. Kileo"}]
        assert "versionId" not in resource.get("meta", {})


def test_a_name_given_only_as_text_is_shown_and_not_rewritten() -> None:
    base = {
        "resourceType": "Patient",
        "id": "other-1",
        "name": [{"text": "Baraka Juma"}],
        "birthDate": "1975",
    }
    read = from_fhir_patient(base)
    assert (read.demographics["given"], read.demographics["family"]) == ("", "Baraka Juma")
    assert read.demographics["sex"] == "unknown"
    assert read.demographics["birth_date"] == "1975"
    assert writes_nothing(base, to_fhir_patient("other-1", read.demographics, [], base))


BAD_PATIENTS = [
    ({"resourceType": "Person", "id": "x1"}, MalformedResourceError, "resourceType"),
    ({"resourceType": "Patient", "id": "bad id!"}, MalformedResourceError, "id"),
    (
        {"resourceType": "Patient", "id": "x1", "birthDate": "1980-04-23"},
        UnsupportedResourceError,
        "name",
    ),
    (
        {"resourceType": "Patient", "id": "x1", "name": [{"family": "Secret"}]},
        UnsupportedResourceError,
        "birthDate",
    ),
    (
        {
            "resourceType": "Patient",
            "id": "x1",
            "name": [{"family": "Secret"}],
            "birthDate": "1980-02-30",
        },
        MalformedResourceError,
        "birthDate",
    ),
    (
        {
            "resourceType": "Patient",
            "id": "x1",
            "name": [{"family": "Secret"}],
            "birthDate": "1980-02-03",
            "gender": "f",
        },
        MalformedResourceError,
        "gender",
    ),
    (
        {"resourceType": "Patient", "id": "x1", "name": "Secret", "birthDate": "1980-02-03"},
        MalformedResourceError,
        "name",
    ),
    (
        {
            "resourceType": "Patient",
            "id": "x1",
            "name": [{"family": "Secret", "given": [7]}],
            "birthDate": "1980-02-03",
        },
        MalformedResourceError,
        "name[0].given[0]",
    ),
]


@pytest.mark.parametrize(("resource", "error", "element"), BAD_PATIENTS)
def test_a_malformed_patient_is_refused_naming_the_element_and_no_value(
    resource: dict[str, Any], error: type[MappingError], element: str
) -> None:
    with pytest.raises(error) as info:
        from_fhir_patient(resource)
    assert info.value.element == element
    assert str(info.value).startswith(("Patient/x1: ", "Patient/?: "))
    assert "Secret" not in str(info.value) and "1980" not in str(info.value)
