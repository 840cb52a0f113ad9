"""Finding a patient by the start of their id or of an identifier, and by phone number typed
in any of the usual ways (digits only are compared; see patient_index's doc)."""

from __future__ import annotations

import pytest

from app.domain import events as ev
from tests.projections.records import History, search

ASHA = "4f7c2a10-9b1e-4c3d-8e2f-0a1b2c3d4e5f"
BABU = "dede0b7e-1111-4222-8333-944455566677"
CHIKU = "abbe1234-5678-4abc-9def-0123456789ab"


@pytest.fixture
def history() -> History:
    h = History()
    h.register(
        ASHA,
        "Asha",
        "Mwangi",
        phone="+254 712 480 316",
        identifiers=[{"system": "urn:ke:national-id", "value": "28456713"}],
    )
    h.register(BABU, "Babu", "Otieno", phone="0733-100 200")
    h.register(
        CHIKU,
        "Chiku",
        "Dede",
        identifiers=[{"system": "urn:fieldchart:mrn", "value": "MRN-2026-0042"}],
    )
    return h


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the start of a patient id: four characters or more, with a digit or a hyphen
        ("4f7c", [ASHA]),
        ("4F7C2A10", [ASHA]),
        ("4f7c2a10-9b1e", [ASHA]),
        ("4f7", []),  # too short
        ("dede", [CHIKU]),  # a name: not Babu, whose id starts with the same letters
        ("dede0b7e", [BABU]),  # eight characters: an id prefix
        ("abbe", []),  # nobody is called Abbe; Chiku's id is not found by its letters alone
        ("abbe1", [CHIKU]),
        # identifier values: whole, or their start from four characters on
        ("28456713", [ASHA]),
        ("2845", [ASHA]),
        ("mrn-2026", [CHIKU]),
        ("MRN-2026-0042", [CHIKU]),
        ("mrn", []),
        # phone numbers, digits only; the last nine of a whole number
        ("0712480316", [ASHA]),
        ("+254712480316", [ASHA]),
        ("+254 712 480 316", [ASHA]),
        ("712 480 316", [ASHA]),
        ("(0712) 480-316", [ASHA]),
        ("480316", [ASHA]),  # six digits or more anywhere in the number
        ("0733100200", [BABU]),
        ("073310", [BABU]),  # a trunk 0 dropped: 73310 is in 0733100200
        ("+255 733 100 200", [BABU]),  # same last nine digits
        ("48031", []),  # five digits are too few
        ("999999", []),
        ("1980-04-23", [ASHA, BABU, CHIKU]),  # a birth date, not a phone number
    ],
)
def test_ids_identifiers_and_phone_numbers_find_patients(
    history: History, text: str, expected: list[str]
) -> None:
    assert sorted(search(history, text)) == sorted(expected)


def test_a_changed_phone_number_is_found_and_the_old_one_is_not(history: History) -> None:
    history.add(
        ASHA,
        ev.DemographicsUpdated(
            changes={"phone": "0799 000 111"}, previous={"phone": "+254 712 480 316"}
        ),
    )
    assert search(history, "0799000111") == [ASHA]
    assert search(history, "0712480316") == []


def test_a_phone_number_from_the_server_is_found(history: History) -> None:
    history.add(
        BABU,
        ev.PatientVersionReceived(
            resource_version="2",
            demographics={"given": "Babu", "family": "Otieno", "phone": "+254 700 555 444"},
        ),
    )
    assert search(history, "0700555444") == [BABU]
    assert search(history, "0733100200") == []
