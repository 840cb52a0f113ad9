"""What a clinician types is checked with a message that names the field and says what is
wrong (app/domain/values.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.domain import values as v
from app.domain.errors import ValidationError

TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def refused(fn, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    return info.value


# -- text ----------------------------------------------------------------------------------


def test_text_is_trimmed() -> None:
    assert v.text("  Amina  ", "given", "Given name") == "Amina"


@pytest.mark.parametrize("blank", [None, "", "   ", "\t\n"])
def test_required_text_refuses_blank(blank: str | None) -> None:
    err = refused(v.text, blank, "given", "Given name")
    assert (err.message, err.field) == ("Given name is required", "given")


def test_optional_text_turns_blank_into_none() -> None:
    assert v.text("  ", "address", "Address", required=False) is None


def test_text_longer_than_the_limit_is_refused() -> None:
    assert v.text("x" * 10, "code", "Code", max_len=10) == "x" * 10
    err = refused(v.text, "x" * 11, "code", "Code", max_len=10)
    assert (err.message, err.field) == ("Code is too long (at most 10 characters)", "code")


def test_text_with_control_characters_is_refused_but_newlines_and_tabs_are_fine() -> None:
    assert v.text("line one\nline\ttwo", "text", "Note", max_len=100) == "line one\nline\ttwo"
    err = refused(v.text, "bell\x07", "text", "Note")
    assert (err.message, err.field) == ("Note contains control characters", "text")


# -- dates and times -----------------------------------------------------------------------


def test_birth_date_is_normalised_to_iso() -> None:
    assert v.birth_date(" 1980-04-23 ", "birth_date", TODAY) == "1980-04-23"


def test_birth_date_must_look_like_a_date() -> None:
    err = refused(v.birth_date, "23/04/1980", "birth_date", TODAY)
    assert (err.message, err.field) == ("Birth date must be a date like 1980-04-23", "birth_date")


def test_birth_date_is_required() -> None:
    err = refused(v.birth_date, "", "birth_date", TODAY)
    assert (err.message, err.field) == ("Birth date is required", "birth_date")


def test_birth_date_today_is_fine_but_tomorrow_is_the_future() -> None:
    assert v.birth_date("2026-11-21", "birth_date", TODAY) == "2026-11-21"
    err = refused(v.birth_date, "2026-11-22", "birth_date", TODAY)
    assert (err.message, err.field) == ("Birth date cannot be in the future", "birth_date")


def test_birth_date_at_most_130_years_ago() -> None:
    assert v.birth_date("1896-01-01", "birth_date", TODAY) == "1896-01-01"
    err = refused(v.birth_date, "1895-12-31", "birth_date", TODAY)
    assert (err.message, err.field) == ("Birth date is more than 130 years ago", "birth_date")


def test_instant_accepts_z_and_offsets() -> None:
    assert v.instant("2026-11-21T09:30:00Z", "start", "Start") == datetime(
        2026, 11, 21, 9, 30, tzinfo=UTC
    )
    moment = v.instant("2026-11-21T12:30:00+03:00", "start", "Start")
    assert moment == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def test_instant_must_parse() -> None:
    err = refused(v.instant, "tomorrow morning", "start", "Start")
    assert err.message == "Start must be a date and time like 2026-11-21T09:30:00+01:00"
    assert err.field == "start"


def test_instant_needs_a_time_zone() -> None:
    err = refused(v.instant, "2026-11-21T09:30:00", "taken_at", "Time taken")
    assert err.message == "Time taken needs a time zone, e.g. 2026-11-21T09:30:00+01:00 or ...Z"
    assert err.field == "taken_at"


def test_past_instant_defaults_to_now() -> None:
    assert v.past_instant(None, "taken_at", "Time taken", NOW) == "2026-11-21T09:00:00+00:00"
    assert v.past_instant("  ", "taken_at", "Time taken", NOW) == "2026-11-21T09:00:00+00:00"


def test_past_instant_allows_five_minutes_of_clock_skew_but_not_more() -> None:
    skew = NOW + timedelta(minutes=5)
    assert v.past_instant(skew.isoformat(), "taken_at", "Time taken", NOW) == v.iso(skew)
    later = (skew + timedelta(seconds=1)).isoformat()
    err = refused(v.past_instant, later, "taken_at", "Time taken", NOW)
    assert (err.message, err.field) == ("Time taken cannot be in the future", "taken_at")


def test_past_instant_keeps_the_offset_it_was_written_with() -> None:
    written = "2026-11-20T22:15:00+03:00"
    assert v.past_instant(written, "taken_at", "Time taken", NOW) == written


# -- numbers -------------------------------------------------------------------------------


def test_number_in_range_becomes_float() -> None:
    assert v.number(120, "systolic", "Systolic pressure", 40, 300, "mmHg") == 120.0


@pytest.mark.parametrize("bad", ["120", None, True, float("nan"), float("inf"), [120]])
def test_number_must_be_a_number(bad: object) -> None:
    err = refused(v.number, bad, "systolic", "Systolic pressure", 40, 300, "mmHg")
    assert (err.message, err.field) == ("Systolic pressure must be a number", "systolic")


def test_number_outside_range_names_value_range_and_unit() -> None:
    err = refused(v.number, 0.1, "weight", "Weight", 0.2, 500, "kg")
    assert err.message == "Weight of 0.1 kg is outside the plausible range 0.2–500 kg"
    assert err.field == "weight"


# -- choices, phones, ids ------------------------------------------------------------------


def test_choice_is_case_insensitive_and_lower_cased() -> None:
    assert v.choice(" Female ", "sex", "Sex", v.SEXES) == "female"


def test_choice_lists_the_options() -> None:
    err = refused(v.choice, "f", "sex", "Sex", v.SEXES)
    assert (err.message, err.field) == ("Sex must be one of: female, male, other, unknown", "sex")


def test_optional_choice_may_be_empty_but_a_required_one_may_not() -> None:
    assert v.choice(None, "severity", "Severity", ("mild",), required=False) is None
    err = refused(v.choice, None, "sex", "Sex", v.SEXES)
    assert (err.message, err.field) == ("Sex is required", "sex")


@pytest.mark.parametrize("number", ["+255 754 123 456", "(022) 555-0100", "0754.123.456"])
def test_phone_numbers_in_common_notations(number: str) -> None:
    assert v.phone(number, "phone") == number


@pytest.mark.parametrize("number", ["call me", "+255 754 123 456 ext"])
def test_phone_refuses_letters(number: str) -> None:
    err = refused(v.phone, number, "phone")
    assert (err.message, err.field) == (
        "Phone may contain only digits, spaces, + ( ) . / -",
        "phone",
    )


@pytest.mark.parametrize("number", ["12", "1234", "+255 754 123 456 789 0123"])
def test_phone_refuses_too_short_or_too_long_numbers(number: str) -> None:
    err = refused(v.phone, number, "phone")
    assert (err.message, err.field) == ("Phone must have between 5 and 24 characters", "phone")


def test_phone_is_optional_and_at_most_32_characters() -> None:
    assert v.phone(None, "phone") is None
    err = refused(v.phone, "1" * 33, "phone")
    assert (err.message, err.field) == ("Phone is too long (at most 32 characters)", "phone")


def test_item_ids_follow_the_fhir_id_rule() -> None:
    assert v.item_id("vitals-2026-0001", "vitals_id") == "vitals-2026-0001"
    assert v.item_id("a" * 64, "vitals_id") == "a" * 64
    for bad in ("with space", "under_score", "dot.ted"):
        err = refused(v.item_id, bad, "vitals_id")
        assert err.message == "Id may contain only letters, digits and '-' (at most 64)"
        assert err.field == "vitals_id"
    err = refused(v.item_id, "a" * 65, "vitals_id")
    assert (err.message, err.field) == ("Id is too long (at most 64 characters)", "vitals_id")
