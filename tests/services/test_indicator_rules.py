"""The indicator rules on hand-built facts (no vault): month edges, the 3- and 12-month
windows, BP at the 140/90 boundary, the immunization cohort's birthdays, appointment statuses;
and the DHIS2 mapping file's checks, each problem named by its place."""

from __future__ import annotations

import json

import pytest

from app.domain.errors import ValidationError
from app.projections.indicator_rows import ItemFact
from app.services.indicators.compute import Month, compute, gather, months_before
from app.services.indicators.definitions import BY_ID, INDICATORS
from app.store.report_mapping import MappingFileError, bundled_mapping_text, parse_mapping

NOV = Month.parse("2026-11")


def enc(pid: str, day: str, status: str = "finished") -> ItemFact:
    return ItemFact(pid, "encounter", status, day, day + "T09:00:00+03:00")


def dx(pid: str, day: str, code: str, status: str = "active") -> ItemFact:
    return ItemFact(pid, "diagnosis", status, day, day + "T09:00:00+03:00", code=code)


def bp(pid: str, when: str, s: float, d: float) -> ItemFact:
    return ItemFact(pid, "vitals", "final", when[:10], when, systolic=s, diastolic=d)


def dose(pid: str, vaccine: str, day: str) -> ItemFact:
    return ItemFact(pid, "immunization", "completed", day, day, vaccine_id=vaccine, given_on=day)


CODES = {"penta": "DTwPHibHepB", "mr": "MR", "cvx:05": "MCV", "bcg": "BCG"}


def values(
    items: list[ItemFact],
    patients: list[tuple[str, str, str]] | None = None,
    appointments: list[tuple[str, str, str, str]] | None = None,
) -> dict[str, tuple[int, int | None]]:
    facts = gather(items, patients or [], appointments or [], CODES)
    return {v.id: (v.numerator, v.denominator) for v in compute(facts, NOV)}


def test_months_parse_and_step_back() -> None:
    assert (str(NOV.minus(11)), str(NOV.minus(12))) == ("2025-12", "2025-11")
    assert months_before(NOV.last, 3).isoformat() == "2026-08-30"
    assert months_before(Month.parse("2026-05").last, 3).isoformat() == "2026-02-28"
    for bad in ("2026-13", "2026-1", "Nov 2026", "", "1899-12"):
        with pytest.raises(ValidationError) as refused:
            Month.parse(bad)
        assert refused.value.field == "month"


def test_visits_count_days_of_the_month_only() -> None:
    got = values(
        [enc("p", "2026-10-31"), enc("p", "2026-11-01"), enc("p", "2026-11-30"),
         enc("q", "2026-12-01"), enc("q", "2026-11-15", status="cancelled")]
    )  # fmt: skip
    assert got["visits"] == (2, None)


def test_bp_control_boundaries_and_last_reading_wins() -> None:
    items = [
        # 139/89 is controlled; the later 140/80 of the same day is the last: not controlled.
        dx("a", "2026-01-01", "I10"), enc("a", "2026-11-02"),
        bp("a", "2026-11-02T08:00:00+03:00", 139, 89),
        bp("a", "2026-11-02T09:00:00+03:00", 140, 80),
        # 120/90: diastolic must be below 90.
        dx("b", "2026-01-01", "I15.0"), enc("b", "2026-10-01"),
        bp("b", "2026-10-01T08:00", 120, 90),
        # Controlled at 2026-08-31 (inside the window), diagnosed exactly 3 months before E.
        dx("c", "2026-08-30", "I12"), enc("c", "2026-08-31"), bp("c", "2026-08-31T08:00", 118, 76),
        # Diagnosed the day after: too recent for the denominator, still under care.
        dx("d", "2026-08-31", "I10"), enc("d", "2026-11-01"), bp("d", "2026-11-01T08:00", 110, 70),
        # Controlled reading on 2026-08-30 is outside the window: not controlled.
        dx("e", "2025-01-01", "I10"), enc("e", "2026-08-30"), bp("e", "2026-08-30T08:00", 110, 70),
        # I16 and a resolved I10 are not hypertension under care.
        dx("f", "2025-01-01", "I16"), dx("f", "2025-01-01", "I10", status="resolved"),
        enc("f", "2026-11-01"),
    ]  # fmt: skip
    got = values(items)
    assert got["htn_under_care"] == (5, None)
    assert got["bp_controlled"] == (1, 4)  # c of a, b, c, e
    assert got["missed_visits"] == (1, 5)  # e: last visit 2026-08-30, not after it


def test_lost_to_follow_up_needs_a_visit_before_and_none_in_twelve_months() -> None:
    items = [
        dx("a", "2024-01-01", "E11.9"), enc("a", "2025-11-30"),  # last visit a day too early
        dx("b", "2024-01-01", "E14"), enc("b", "2025-12-01"),  # just within 12 months
        dx("c", "2024-01-01", "E10"),  # never seen: not in either
        dx("d", "2026-12-01", "I10"), enc("d", "2026-12-01"),  # after the month
    ]  # fmt: skip
    got = values(items)
    assert got["lost_to_follow_up"] == (1, 2)
    assert got["dm_under_care"] == (1, None)
    assert got["htn_under_care"] == (0, None)


def test_show_rate_counts_marked_and_unmarked_not_cancelled() -> None:
    appointments = [
        ("a1", "p", "2026-11-03", "fulfilled"), ("a2", "p", "2026-11-04", "noshow"),
        ("a3", "p", "2026-11-05", "booked"), ("a4", "p", "2026-11-06", "cancelled"),
        ("a5", "p", "2026-11-07", "entered-in-error"), ("a6", "p", "2026-12-01", "fulfilled"),
    ]  # fmt: skip
    assert values([], appointments=appointments)["follow_up_show_rate"] == (1, 3)


def test_immunization_cohort_by_first_birthday() -> None:
    patients = [
        ("g", "2025-11-01", "2025-11-01"), ("h", "2025-11-30", "2025-11-30"),
        ("i", "2025-10-31", "2025-10-31"), ("j", "2025-12-01", "2025-12-01"),
    ]  # fmt: skip
    items = [
        dose("g", "penta", "2025-12-15"), dose("g", "penta", "2026-01-15"),
        dose("g", "penta", "2026-02-15"), dose("g", "bcg", "2025-11-01"),
        ItemFact("g", "immunization", "completed", "2026-08-01", "2026-08-01", cvx="05",
                 given_on="2026-08-01"),  # a pulled measles dose known by its CVX code
        dose("h", "mr", "2026-11-30"),  # on the first birthday: not before it
        dose("h", "penta", "2026-01-01"), dose("h", "penta", "2026-02-01"),
        dose("i", "mr", "2026-08-01"),  # not in the cohort
    ]  # fmt: skip
    got = values(items, patients=patients)
    assert got["mcv1_coverage"] == (1, 2)
    assert got["penta3_coverage"] == (1, 2)
    assert got["new_registrations"] == (0, None)


def test_the_bundled_mapping_names_every_indicator_it_maps() -> None:
    mapping = parse_mapping(bundled_mapping_text(), "bundled", BY_ID)
    assert {m.indicator for m in mapping.data_values} <= {i.id for i in INDICATORS}
    assert mapping.org_unit is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not JSON (line 1"),
        ("[]", "the file must hold one JSON object"),
        ("{}", "dataValues: must be a list of mappings"),
        ('{"orgUnit": "short", "dataValues": []}', "orgUnit: 'short' is not a DHIS2 id"),
        ('{"dataValues": [3]}', "dataValues[1]: must be an object"),
        ('{"dataValues": [{"indicator": "x", "dataElement": "abcdefghij1"}]}',
         "dataValues[1].indicator: 'x' is not one of"),
        ('{"dataValues": [{"indicator": "visits", "value": "sum", "dataElement": "abcdefghij1"}]}',
         "dataValues[1].value: 'sum' is not one of numerator, denominator, score"),
        ('{"dataValues": [{"indicator": "visits", "dataElement": "1bcdefghij1"}]}',
         "dataValues[1].dataElement: '1bcdefghij1' is not a DHIS2 id"),
        ('{"dataValues": [{"indicator": "visits", "dataElement": "abcdefghij1",'
         ' "categoryOptionCombo": 5}]}', "dataValues[1].categoryOptionCombo: 5 is not"),
        ('{"dataValues": [{"indicator": "visits", "dataElement": "abcdefghij1"},'
         ' {"indicator": "visits", "dataElement": "abcdefghij1"}]}', "is mapped twice"),
    ],
)  # fmt: skip
def test_a_mapping_file_that_does_not_fit_names_the_place(text: str, problem: str) -> None:
    with pytest.raises(MappingFileError) as refused:
        parse_mapping(text, "dhis2_mapping.json", BY_ID)
    assert problem in str(refused.value)
    assert str(refused.value).startswith("dhis2_mapping.json: ")
    json.dumps(refused.value.problems)  # plain strings, safe to show and log
