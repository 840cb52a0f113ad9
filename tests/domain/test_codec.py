"""JSON commands (the CLI's `exec` input and the outbox's stored form) are parsed with a
specific message for every bad input, and survive a round trip."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import commands as c
from app.domain.codec import command_from_json, command_to_json
from app.domain.errors import ValidationError


def refused(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        command_from_json(data)
    return info.value


def test_a_vitals_line_becomes_a_command() -> None:
    cmd = command_from_json(
        {"type": "RecordVitals", "patient_id": "p-1", "systolic": 120, "diastolic": 80.5}
    )
    assert cmd == c.RecordVitals(patient_id="p-1", systolic=120.0, diastolic=80.5)
    assert isinstance(cmd.systolic, float)


def test_registration_with_identifiers() -> None:
    cmd = command_from_json(
        {
            "type": "RegisterPatient",
            "given": "Amina",
            "family": "Ødegård",
            "birth_date": "1980-04-23",
            "sex": "female",
            "identifiers": [{"system": "urn:mrn", "value": "MRN-1"}],
        }
    )
    assert isinstance(cmd, c.RegisterPatient)
    assert cmd.identifiers == (c.Identifier("urn:mrn", "MRN-1"),)
    assert cmd.patient_id == ""  # chosen by the service when empty


def test_demographic_changes_carry_new_and_expected() -> None:
    cmd = command_from_json(
        {
            "type": "UpdateDemographics",
            "patient_id": "p-1",
            "changes": {"phone": {"new": "0754 000 111", "expected": None}},
        }
    )
    assert isinstance(cmd, c.UpdateDemographics)
    assert cmd.changes == {"phone": c.FieldChange(new="0754 000 111", expected=None)}


def test_not_an_object() -> None:
    err = refused(["RecordVitals"])
    assert (err.message, err.field) == ("A command must be a JSON object", "type")


@pytest.mark.parametrize("name", [None, "RecordVital", 42])
def test_unknown_type_lists_the_known_ones(name: object) -> None:
    err = refused({"type": name, "patient_id": "p-1"})
    assert err.field == "type"
    assert err.message.startswith(f"Unknown command type {str(name)!r}; known: ")
    assert "RecordVitals" in err.message and "MarkEnteredInError" in err.message


def test_unknown_field_is_named() -> None:
    err = refused({"type": "RecordVitals", "patient_id": "p-1", "pulse": 70})
    assert (err.message, err.field) == ("RecordVitals has no field 'pulse'", "pulse")


def test_missing_required_field_is_named() -> None:
    err = refused({"type": "AddNote", "patient_id": "p-1"})
    assert (err.message, err.field) == ("AddNote needs the field 'text'", "text")


def test_text_field_must_be_text() -> None:
    err = refused({"type": "AddNote", "patient_id": "p-1", "text": 42})
    assert (err.message, err.field) == ("text must be text", "text")


def test_number_field_must_be_a_number() -> None:
    for bad in ("120", True):
        err = refused({"type": "RecordVitals", "patient_id": "p-1", "systolic": bad})
        assert (err.message, err.field) == ("systolic must be a number", "systolic")


def test_whole_number_field_refuses_fractions_and_booleans() -> None:
    base = {"type": "ScheduleFollowUp", "patient_id": "p-1", "clinician": "doc"}
    for bad in (15.5, True, "15"):
        err = refused({**base, "start": "2026-11-28T10:00:00Z", "duration_minutes": bad})
        assert err.message == "duration_minutes must be a whole number"
        assert err.field == "duration_minutes"


def test_optional_field_may_be_null() -> None:
    cmd = command_from_json({"type": "RecordVitals", "patient_id": "p-1", "systolic": None})
    assert isinstance(cmd, c.RecordVitals)
    assert cmd.systolic is None


def test_identifiers_must_be_a_list_of_system_value_objects() -> None:
    base = {"type": "RegisterPatient", "given": "A", "family": "B", "birth_date": "1980-01-01"}
    base["sex"] = "female"
    err = refused({**base, "identifiers": {"system": "s", "value": "v"}})
    assert err.message == "identifiers must be a list of {system, value} objects"
    assert err.field == "identifiers"
    err = refused({**base, "identifiers": [{"system": "s", "value": "v", "use": "official"}]})
    assert err.message == "identifiers[0] must be an object with system and value"
    assert err.field == "identifiers[0]"
    err = refused({**base, "identifiers": [{"system": "s", "value": 7}]})
    assert (err.message, err.field) == ("identifiers[0].value must be text", "identifiers[0].value")


def test_changes_must_map_fields_to_new_and_expected() -> None:
    base = {"type": "UpdateDemographics", "patient_id": "p-1"}
    err = refused({**base, "changes": ["phone"]})
    assert err.message == "changes must map field names to {new, expected} objects"
    assert err.field == "changes"
    for bad in ("0754", {"expected": None}, {"new": "x", "expected": None, "why": "typo"}):
        err = refused({**base, "changes": {"phone": bad}})
        assert err.message == (
            "the change of phone needs 'new' (and 'expected', the value you saw)"
        )
        assert err.field == "phone"
    err = refused({**base, "changes": {"phone": {"new": 754, "expected": None}}})
    assert (err.message, err.field) == ("phone must be text", "phone")


def test_to_json_names_the_type_and_uses_plain_lists_and_objects() -> None:
    cmd = c.RegisterPatient(
        given="A",
        family="B",
        birth_date="1980-01-01",
        sex="male",
        identifiers=(c.Identifier("s", "v"),),
    )
    data = command_to_json(cmd)
    assert data["type"] == "RegisterPatient"
    assert data["identifiers"] == [{"system": "s", "value": "v"}]


# -- every command survives command_to_json -> command_from_json ---------------------------

texts = st.text(min_size=1, max_size=12)
maybe_texts = st.none() | texts
numbers = st.floats(allow_nan=False, allow_infinity=False, width=32)
maybe_numbers = st.none() | numbers
ints = st.integers(min_value=-10, max_value=10_000)

FIELD_STRATEGIES: dict[Any, st.SearchStrategy[Any]] = {
    "str": texts,
    "str | None": maybe_texts,
    "float": numbers,
    "float | None": maybe_numbers,
    "int": ints,
    "bool": st.booleans(),
    "int | None": st.none() | ints,
    "tuple[str, ...]": st.lists(texts, max_size=3).map(tuple),
    "tuple[Identifier, ...]": st.lists(st.builds(c.Identifier, texts, texts), max_size=2).map(
        tuple
    ),
    "Mapping[str, FieldChange]": st.dictionaries(
        st.sampled_from(c.DEMOGRAPHIC_FIELDS),
        st.builds(c.FieldChange, maybe_texts, maybe_texts),
        max_size=3,
    ),
}


def command_strategy(cls: type[c.Command]) -> st.SearchStrategy[c.Command]:
    import dataclasses

    fields = {f.name: FIELD_STRATEGIES[str(f.type)] for f in dataclasses.fields(cls) if f.init}
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(c.ALL_COMMANDS).flatmap(command_strategy))
def test_every_command_round_trips_through_json(cmd: c.Command) -> None:
    assert command_from_json(command_to_json(cmd)) == cmd


@pytest.mark.parametrize("field", ["patient_id", "note_id", "command_id", "text"])
def test_a_lone_surrogate_anywhere_is_refused(field: str) -> None:
    data = {"type": "AddNote", "patient_id": "p-1", "text": "x", field: "ok\udfff"}
    err = refused(data)
    assert err.field == field
    assert err.message == f"{field} contains characters that are not valid text"
