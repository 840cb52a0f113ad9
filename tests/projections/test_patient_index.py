"""Finding a patient at the front desk: by name prefix (any word, accent- and
case-insensitive), by several words, by an identifier or by birth date."""

from __future__ import annotations

import pytest

from app.domain import events as ev
from app.projections import patient_index
from tests.projections.records import History, query, search


@pytest.fixture
def history() -> History:
    h = History()
    h.register(
        "p-odegard",
        "Kari",
        "Ødegård",
        identifiers=[{"system": "urn:no:fnr", "value": "01018012345"}],
    )
    h.register("p-jose", "José", "García Márquez", birth_date="1975-02-14", sex="male")
    h.register("p-joseph", "Joseph", "Mwakyusa", birth_date="1975-02-14", sex="male")
    h.register(
        "p-amina",
        "Amina",
        "Juma",
        identifiers=[{"system": "urn:fieldchart:mrn", "value": "MRN-0042"}],
    )
    return h


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("odeg", ["p-odegard"]),  # Ø and å fold to o and a
        ("ØDEGÅRD", ["p-odegard"]),
        ("JOSE", ["p-jose", "p-joseph"]),  # prefix of both José and Joseph
        ("josé", ["p-jose", "p-joseph"]),
        ("marq", ["p-jose"]),  # any name word, not just the first
        ("gar", ["p-jose"]),
        ("jose garc", ["p-jose"]),  # every word must match
        ("garc jose", ["p-jose"]),  # in any order
        ("jose juma", []),
        ("kar", ["p-odegard"]),
        ("ami", ["p-amina"]),
        ("mina", []),  # prefixes, not substrings
    ],
)
def test_name_search(history: History, text: str, expected: list[str]) -> None:
    assert search(history, text) == expected


def test_results_are_sorted_by_family_then_given_name(history: History) -> None:
    assert search(history, "") == ["p-jose", "p-amina", "p-joseph", "p-odegard"]


def test_identifier_matches_case_insensitively_whole_or_by_its_start(history: History) -> None:
    assert search(history, "MRN-0042") == ["p-amina"]
    assert search(history, "mrn-0042") == ["p-amina"]
    assert search(history, "01018012345") == ["p-odegard"]
    assert search(history, "MRN-004") == ["p-amina"]  # a prefix of four characters or more
    assert search(history, "MRN-0043") == []
    assert search(history, "0042") == []  # the start, not any part


def test_birth_date(history: History) -> None:
    assert search(history, "1975-02-14") == ["p-jose", "p-joseph"]
    assert search(history, "1975-02-15") == []


def test_renamed_patient_is_found_by_the_new_name_only(history: History) -> None:
    history.add(
        "p-amina",
        ev.DemographicsUpdated(changes={"family": "Mwinyi"}, previous={"family": "Juma"}),
        user="desk",
        role="staff",
    )
    assert search(history, "mwinyi") == ["p-amina"]
    assert search(history, "juma") == []
    assert search(history, "ami") == ["p-amina"]  # the unchanged given name still matches
    row = query(history.records, lambda conn: patient_index.get(conn, "p-amina"))
    assert (row.given, row.family) == ("Amina", "Mwinyi")


def test_limit_and_count(history: History) -> None:
    rows = query(history.records, lambda conn: patient_index.search(conn, "", limit=2))
    assert len(rows) == 2
    assert query(history.records, patient_index.count) == 4


def test_punctuation_in_names_splits_words(history: History) -> None:
    history.register("p-obrien", "Seán", "O'Brien-Nyerere")
    assert search(history, "nyerere") == ["p-obrien"]
    assert search(history, "o'brien") == ["p-obrien"]
    assert search(history, "sean") == ["p-obrien"]
