"""The duplicate check's rules: sound keys across spellings, and who is shown with which reasons."""

from __future__ import annotations

import pytest

from app.domain.duplicates import Person, assess, birth_likeness, blocking_keys, phone_tail
from app.domain.name_sounds import sound_key


@pytest.mark.parametrize(
    "spellings",
    [
        ("Mohamed", "Muhammad", "Mohammed"),
        ("Fatoumata", "Fatimata", "Fatumata"),
        ("Youssouf", "Yusuf", "Yousef"),
        ("Aicha", "Aïsha", "Aisha"),
        ("Djibril", "Jibril", "Gibril"),
        ("Oumar", "Umar", "Omar"),
        ("Khadija", "Hadija"),
        ("Ousmane", "Usman", "Osman"),
        ("Ibrahima", "Ibrahim", "Ebrahim"),
        ("Odhiambo", "Odiambo"),
        ("Kwame", "Kuame"),
        ("Diallo", "Djallo", "Jallow"),
    ],
)
def test_spellings_of_one_name_share_a_sound_key(spellings: tuple[str, ...]) -> None:
    assert len({sound_key(s) for s in spellings}) == 1


def test_different_names_have_different_keys() -> None:
    assert sound_key("Amina") != sound_key("Neema")
    assert sound_key("Baraka") != sound_key("Juma")


AMINA = Person("Amina", "Hassan", "1980-04-23", "female", "+255 754 123 456", patient_id="p1")


def test_a_spelling_variant_with_the_same_birth_date_is_shown() -> None:
    found = assess(Person("Aminah", "Hasan", "1980-04-23", "female"), AMINA)
    assert found is not None
    assert found.reasons == ("name sounds alike", "same birth date")


def test_swapped_names_with_a_birth_date_typo_are_shown() -> None:
    found = assess(Person("Hassan", "Amina", "1980-04-28", "female"), AMINA)
    assert found is not None
    assert "given and family swapped" in found.reasons
    assert "birth date one digit apart" in found.reasons


def test_same_phone_and_name_with_only_the_year_known() -> None:
    found = assess(Person("Amina", "Hasani", "1980-01-01", "female", "0754123456"), AMINA)
    assert found is not None
    assert found.reasons[0] == "same phone"


def test_same_phone_alone_is_not_shown() -> None:
    """A mother registering her child with her own phone."""
    assert assess(Person("Baraka", "Juma", "2019-02-11", "male", "0754 123 456"), AMINA) is None


def test_same_name_years_apart_is_not_shown() -> None:
    assert assess(Person("Amina", "Hassan", "1992-10-02", "female"), AMINA) is None


def test_a_shared_identifier_is_always_shown() -> None:
    draft = Person("X", "Y", identifiers=(("urn:mrn", "mrn-1"),))
    other = Person("Z", "W", identifiers=(("urn:mrn", "MRN-1"),), patient_id="p2")
    found = assess(draft, other)
    assert found is not None and found.score == 100 and found.reasons == ("same identifier",)


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("1980-04-23", "1980-04-23", "same birth date"),
        ("1980-04-23", "1980-04-25", "birth date one digit apart"),
        ("1985-04-23", "1958-04-23", "birth date one digit apart"),
        ("1980-04-23", "1980-05-02", "born 9 days apart"),
        ("1989-04-23", "1990-04-23", "born a year apart on the same day"),
        ("1980-04-03", "1980-03-04", "birth day and month swapped"),
        ("1980-01-01", "1980-09-30", "ages within a year (birth date estimated)"),
        ("1980-04-23", "1980-09-30", ""),
    ],
)
def test_birth_dates(a: str, b: str, reason: str) -> None:
    assert birth_likeness(a, b)[1] == reason


def test_blocking_keys_cover_names_both_ways_phone_and_identifier() -> None:
    keys = blocking_keys(Person("Amina", "Hassan", "1980-04-23", phone="+255 754 123 456"))
    assert keys == {"n:amn", "n:asn", "p:754123456", "b:1980-04-23"}
    assert phone_tail("12345") == ""
