"""Where concrete children stand on the bundled WHO schedule: on time, late, caught up, too
early, too soon after the previous dose, past the age a vaccine is given at."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.immunization_schedule import (
    DONE,
    DUE,
    NOT_YET_DUE,
    OVERDUE,
    TOO_LATE,
    Duration,
    GivenDose,
    ScheduleStanding,
    evaluate,
    parse_duration,
)
from app.store.immunization_data import bundled_schedule

SCHEDULE = bundled_schedule()


def standing(
    birth: str, today: str, *given: tuple[str, str], sex: str = "female"
) -> ScheduleStanding:
    doses = [
        GivenDose(f"i{n}", vaccine, date.fromisoformat(day))
        for n, (vaccine, day) in enumerate(given)
    ]
    return evaluate(SCHEDULE, date.fromisoformat(birth), doses, date.fromisoformat(today), sex)


def status(result: ScheduleStanding, series: str, dose: int) -> tuple[str, date | None]:
    found = next(d for d in result.doses if d.series_id == series and d.dose == dose)
    return found.status, found.due_on


def test_durations_read_as_people_write_them() -> None:
    assert parse_duration("6 weeks") == Duration(6, "weeks")
    assert parse_duration("1 month") == Duration(1, "months")
    assert parse_duration("six weeks") is None and parse_duration(6) is None
    # Calendar months: the 9-month birthday; 31 January + 1 month is the end of February.
    assert Duration(9, "months").after(date(2026, 3, 15)) == date(2026, 12, 15)
    assert Duration(1, "months").after(date(2026, 1, 31)) == date(2026, 2, 28)
    assert str(Duration(1, "years")) == "1 year"


def test_a_newborn_on_day_three_has_the_birth_doses_due_and_nothing_else() -> None:
    result = standing("2026-11-18", "2026-11-21")
    assert status(result, "bcg", 1) == (DUE, date(2026, 11, 18))
    assert status(result, "opv-birth", 1) == (DUE, date(2026, 11, 18))
    # The hepatitis B birth dose has a one-day grace: on day 3 it is overdue.
    assert status(result, "hepb-birth", 1)[0] == OVERDUE
    assert status(result, "dtp", 1) == (NOT_YET_DUE, date(2026, 12, 30))  # 6 weeks
    assert status(result, "mcv", 1) == (NOT_YET_DUE, date(2027, 8, 18))  # 9 months
    assert result.next_due == date(2026, 11, 18)


def test_a_child_vaccinated_on_time_at_15_weeks_is_up_to_date() -> None:
    born = "2026-08-01"
    given = [("bcg", born), ("bopv", born), ("hepb-birth", born)]
    for week_day in ("2026-09-12", "2026-10-10", "2026-11-07"):  # 6, 10, 14 weeks
        given += [("penta", week_day), ("bopv", week_day), ("pcv13", week_day)]
    given += [("rota", "2026-09-12"), ("rota", "2026-10-10"), ("ipv", "2026-11-07")]
    result = standing(born, "2026-11-21", *given)
    assert result.outstanding == []
    for series, dose in (("bcg", 1), ("opv-birth", 1), ("opv", 3), ("dtp", 3), ("rota", 2)):
        assert status(result, series, dose) == (DONE, None)
    # The birth-dose bOPV is the birth dose, not also the first of the primary series.
    opv1 = next(d for d in result.doses if d.series_id == "opv" and d.dose == 1)
    assert opv1.given_on == date(2026, 9, 12)
    assert status(result, "mcv", 1) == (NOT_YET_DUE, date(2027, 5, 1))


def test_missed_doses_at_five_months_are_overdue_and_later_doses_wait_for_them() -> None:
    # Born 2026-06-20, only BCG and the first pentavalent (at 6 weeks) were given.
    result = standing("2026-06-20", "2026-11-21", ("bcg", "2026-06-20"), ("penta", "2026-08-01"))
    assert status(result, "dtp", 1)[0] == DONE
    assert status(result, "dtp", 2) == (OVERDUE, date(2026, 8, 29))  # 10 weeks
    # Dose 3 cannot be given before dose 2 + 4 weeks: it waits, due 4 weeks after today.
    assert status(result, "dtp", 3) == (NOT_YET_DUE, date(2026, 12, 19))
    assert status(result, "opv-birth", 1)[0] == TOO_LATE  # only within 14 days of birth
    assert status(result, "hepb-birth", 1)[0] == TOO_LATE
    overdue = [(d.series_id, d.dose) for d in result.outstanding if d.status == OVERDUE]
    assert ("opv", 1) in overdue and ("pcv", 1) in overdue and ("rota", 1) in overdue
    assert ("dtp", 2) in overdue and ("opv", 2) not in overdue


def test_a_dose_given_too_soon_after_the_previous_does_not_count() -> None:
    # Pentavalent at 6 weeks and again 2 weeks later: the second is too soon (4-week minimum).
    result = standing("2026-06-20", "2026-09-10", ("penta", "2026-08-01"), ("penta", "2026-08-15"))
    assert status(result, "dtp", 1)[0] == DONE
    assert status(result, "dtp", 2) == (DUE, date(2026, 8, 29))
    assert result.not_counted == ["i1"]


def test_a_dose_given_too_young_does_not_count() -> None:
    # Measles at 6 months (an outbreak dose) does not count as the first routine dose.
    result = standing("2025-11-01", "2026-08-15", ("mr", "2026-05-01"))
    assert status(result, "mcv", 1) == (DUE, date(2026, 8, 1))
    assert result.not_counted == ["i0"]


def test_a_late_starter_catches_up_on_minimum_intervals() -> None:
    # First pentavalent at 7 months: dose 2 is due 4 weeks later, not at 10 weeks of age.
    result = standing("2026-01-10", "2026-08-20", ("penta", "2026-08-10"))
    assert status(result, "dtp", 2) == (NOT_YET_DUE, date(2026, 9, 7))
    result = standing("2026-01-10", "2026-09-08", ("penta", "2026-08-10"))
    assert status(result, "dtp", 2) == (DUE, date(2026, 9, 7))


def test_rotavirus_is_not_offered_after_24_months() -> None:
    result = standing("2024-06-01", "2026-11-21")
    assert status(result, "rota", 1)[0] == TOO_LATE
    assert all(d.series_id != "rota" for d in result.outstanding)


def test_hpv_is_for_girls_and_an_adult_has_nothing_due() -> None:
    girl = standing("2016-05-01", "2026-11-21", sex="female")
    assert status(girl, "hpv", 1)[0] == OVERDUE  # 9 years + 1 year grace passed
    boy = standing("2016-05-01", "2026-11-21", sex="male")
    assert not any(d.series_id == "hpv" for d in boy.doses)
    adult = standing("1980-04-23", "2026-11-21")
    assert adult.outstanding == [] and adult.next_due is None


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2027-08-17", NOT_YET_DUE),
        ("2027-08-18", DUE),
        ("2027-09-15", DUE),
        ("2027-09-16", OVERDUE),
    ],
)
def test_the_grace_period_decides_overdue(today: str, expected: str) -> None:
    # Measles 1 due at 9 months (2027-08-18); overdue after 4 weeks of grace.
    result = standing("2026-11-18", today)
    assert status(result, "mcv", 1)[0] == expected


def test_an_unknown_vaccine_never_counts() -> None:
    result = standing("2026-11-18", "2026-11-21", ("bcg", "2026-11-18"))
    unknown = evaluate(
        SCHEDULE,
        date(2026, 11, 18),
        [GivenDose("x", None, date(2026, 11, 18))],
        date(2026, 11, 21),
    )
    assert status(result, "bcg", 1)[0] == DONE
    assert status(unknown, "bcg", 1)[0] == DUE
