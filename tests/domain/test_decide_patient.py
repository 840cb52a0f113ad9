"""Front desk registers a patient and later corrects demographics; an edit never silently
overwrites a value someone else changed in the meantime."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.decide import decide
from app.domain.decide_patient import clean_field
from app.domain.errors import (
    AlreadyDoneError,
    NotFoundError,
    PreconditionError,
    ValidationError,
)
from app.domain.events import DemographicsUpdated, PatientRegistered, SyncConflictResolved
from tests.clinic_fixtures import registration
from tests.domain.builders import PID, accept, chart_after, context, refuse


def change(**fields: tuple[str | None, str | None]) -> c.UpdateDemographics:
    """UpdateDemographics with field=(new, expected) pairs."""
    return c.UpdateDemographics(
        patient_id=PID, changes={k: c.FieldChange(new, exp) for k, (new, exp) in fields.items()}
    )


def register_refusal(**overrides: object) -> ValidationError:
    err = refuse(registration(patient_id=PID, **overrides), chart=None, error=ValidationError)
    assert isinstance(err, ValidationError)
    return err


def test_registration_records_cleaned_demographics_and_identifiers() -> None:
    decision = decide(
        None,
        registration(patient_id=PID, given="  Amina ", sex="Female", address="   "),
        context(),
    )
    (event,) = decision.events
    assert event == PatientRegistered(
        patient_id=PID,
        given="Amina",
        family="Ødegård",
        birth_date="1980-04-23",
        sex="female",
        phone="+255 754 123 456",
        address=None,
        identifiers=[{"system": "urn:fieldchart:mrn", "value": "MRN-0001"}],
    )
    assert decision.occurred_at == "2026-11-21T09:00:00+00:00"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("given", "", "Given name is required"),
        ("family", " ", "Family name is required"),
        ("given", "x" * 101, "Given name is too long (at most 100 characters)"),
        ("birth_date", "23.04.1980", "Birth date must be a date like 1980-04-23"),
        ("birth_date", "2027-01-01", "Birth date cannot be in the future"),
        ("sex", "f", "Sex must be one of: female, male, other, unknown"),
        ("phone", "ask neighbour", "Phone may contain only digits, spaces, + ( ) . / -"),
        ("address", "x" * 301, "Address is too long (at most 300 characters)"),
    ],
)
def test_registration_refuses_bad_demographics(field: str, value: str, message: str) -> None:
    err = register_refusal(**{field: value})
    assert (err.message, err.field) == (message, field)


def test_registration_refuses_an_identifier_listed_twice() -> None:
    ident = c.Identifier("urn:mrn", "MRN-1")
    err = register_refusal(identifiers=(ident, c.Identifier("urn:nid", "X"), ident))
    assert (err.message, err.field) == ("The same identifier is listed twice", "identifiers[2]")


def test_registration_needs_identifier_system_and_value() -> None:
    err = register_refusal(identifiers=(c.Identifier(" ", "MRN-1"),))
    assert (err.message, err.field) == ("Identifier system is required", "identifiers[0].system")
    err = register_refusal(identifiers=(c.Identifier("urn:mrn", ""),))
    assert (err.message, err.field) == ("Identifier value is required", "identifiers[0].value")


def test_registering_the_same_patient_id_twice_is_refused() -> None:
    err = refuse(registration(patient_id=PID), chart=chart_after(), error=ValidationError)
    assert (err.message, err.field) == (
        "A patient with this id is already registered",
        "patient_id",
    )


def test_editing_a_field_records_new_and_previous_values() -> None:
    decision = accept(change(phone=("0754 000 111", "+255 754 123 456")))
    assert decision.events == [
        DemographicsUpdated(
            changes={"phone": "0754 000 111"}, previous={"phone": "+255 754 123 456"}
        )
    ]


def test_an_unchanged_field_in_the_same_edit_is_left_out() -> None:
    decision = accept(change(given=("Amina", "Amina"), family=("Odegard", "Ødegård")))
    (event,) = decision.events
    assert isinstance(event, DemographicsUpdated)
    assert event.changes == {"family": "Odegard"}


def test_edit_of_an_unknown_patient() -> None:
    err = refuse(change(phone=("1234567", None)), chart=None, error=NotFoundError)
    assert (err.message, err.field) == (
        "This patient is not registered on this device",
        "patient_id",
    )


def test_edit_must_name_a_field() -> None:
    err = refuse(c.UpdateDemographics(patient_id=PID), error=ValidationError)
    assert (err.message, err.field) == ("Nothing to change: name at least one field", "changes")


def test_identifiers_and_unknown_fields_cannot_be_edited() -> None:
    err = refuse(change(identifiers=("x", None)), error=ValidationError)
    assert err.message == (
        "'identifiers' cannot be edited; editable fields: "
        "given, family, birth_date, sex, phone, address"
    )
    assert err.field == "changes"


def test_clean_field_refuses_a_non_demographic_field() -> None:
    with pytest.raises(ValidationError) as info:
        clean_field("religion", "x", context())
    assert (info.value.message, info.value.field) == (
        "'religion' is not a demographic field",
        "changes",
    )


def test_edit_refused_when_someone_else_changed_the_field_first() -> None:
    chart = chart_after(change(phone=("0754 000 111", "+255 754 123 456")))
    err = refuse(change(phone=("0766 222 333", "+255 754 123 456")), chart, error=PreconditionError)
    assert isinstance(err, PreconditionError)
    assert err.message == "Phone was changed by someone else since you opened the chart"
    assert (err.field, err.expected, err.actual) == ("phone", "+255 754 123 456", "0754 000 111")


def test_edit_validates_the_new_value_like_registration() -> None:
    err = refuse(change(birth_date=("2030-01-01", "1980-04-23")), error=ValidationError)
    assert (err.message, err.field) == ("Birth date cannot be in the future", "birth_date")
    err = refuse(change(given=("", "Amina")), error=ValidationError)
    assert (err.message, err.field) == ("Given name is required", "given")


def test_optional_fields_can_be_cleared() -> None:
    (event,) = accept(change(address=(None, "Plot 7, Mbeya"))).events
    assert isinstance(event, DemographicsUpdated)
    assert event.changes == {"address": None}


def test_edit_that_changes_nothing_is_refused() -> None:
    err = refuse(change(sex=("FEMALE", "female")), error=AlreadyDoneError)
    assert (err.message, err.field) == (
        "Nothing changed: the new values equal the current ones",
        "changes",
    )


# -- settling a sync conflict --------------------------------------------------------------


def resolve(resolution: str, field: str | None = None, value: str | None = None) -> c.Command:
    return c.ResolveSyncConflict(
        patient_id=PID,
        conflict_command_id="cmd-phone",
        resolution=resolution,
        field=field,
        value=value,
    )


def test_taking_the_servers_value_only_records_the_decision() -> None:
    assert accept(resolve("take-servers")).events == [
        SyncConflictResolved(command_id="cmd-phone", resolution="take-servers")
    ]


def test_keeping_mine_reapplies_the_value_and_records_the_decision() -> None:
    events = accept(resolve("Keep-Mine", "phone", "0754 000 111")).events
    assert events == [
        DemographicsUpdated(
            changes={"phone": "0754 000 111"}, previous={"phone": "+255 754 123 456"}
        ),
        SyncConflictResolved(
            command_id="cmd-phone", resolution="keep-mine", field="phone", value="0754 000 111"
        ),
    ]


def test_keeping_a_value_the_chart_already_has_records_only_the_decision() -> None:
    events = accept(resolve("edit", "phone", "+255 754 123 456")).events
    assert [type(e).__name__ for e in events] == ["SyncConflictResolved"]


def test_conflict_resolution_refusals() -> None:
    err = refuse(resolve("merge"), error=ValidationError)
    assert (err.message, err.field) == (
        "Resolution must be one of: edit, keep-mine, take-servers",
        "resolution",
    )
    for field in (None, "identifiers"):
        err = refuse(resolve("keep-mine", field, "x"), error=ValidationError)
        assert (err.message, err.field) == (
            "Only demographic fields can be kept or edited here; take the server's value "
            "and repeat the action on the chart",
            "field",
        )
    err = refuse(resolve("edit", "birth_date", "2030-01-01"), error=ValidationError)
    assert (err.message, err.field) == ("Birth date cannot be in the future", "birth_date")
    err = refuse(resolve("take-servers"), chart=None, error=NotFoundError)
    assert err.field == "patient_id"
