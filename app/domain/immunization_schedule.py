"""The routine immunization schedule and where a child stands on it (pure: no I/O, no clock).

A schedule is a list of series (BCG, bOPV, pentavalent, ...); each series lists its doses with
a minimum age, a recommended age, a minimum interval from the series' previous dose, a grace
period after which a missed dose is overdue, and optionally an age after which the dose is no
longer given. Which vaccines count for a series is said by the series (vaccine ids of the
bundled list), so a combination vaccine can count for several.

`evaluate` walks each series the way catch-up rules do: recorded doses are taken in date
order; a dose given too young, or too soon after the previous valid dose, does not count
(it is kept on the chart, flagged "not counted"). A recorded dose counts for at most one dose
of one series (the first series in file order that takes it), so a birth-dose bOPV is not
also the first dose of the primary series.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

# Statuses of one scheduled dose on a given day.
DONE = "done"
DUE = "due"
OVERDUE = "overdue"
NOT_YET_DUE = "not_yet_due"
TOO_LATE = "too_late"  # not given and past the age it is given at: no longer offered
STATUSES = (DONE, DUE, OVERDUE, NOT_YET_DUE, TOO_LATE)

UNITS = ("days", "weeks", "months", "years")
_DURATION = re.compile(r"^\s*(\d{1,4})\s*(day|week|month|year)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Duration:
    """An age or interval as people write it ("6 weeks", "9 months"): months and years are
    calendar months, so "9 months" falls on the 9-month birthday."""

    amount: int
    unit: str  # one of UNITS

    def after(self, day: date) -> date:
        """The day this long after `day`."""
        if self.unit == "days":
            return day + timedelta(days=self.amount)
        if self.unit == "weeks":
            return day + timedelta(weeks=self.amount)
        months = self.amount * (12 if self.unit == "years" else 1)
        year, month0 = divmod(day.month - 1 + months, 12)
        year += day.year
        if day.day <= 28:  # every month has the day: no need to ask the calendar (hot path)
            return date(year, month0 + 1, day.day)
        last = calendar.monthrange(year, month0 + 1)[1]
        return date(year, month0 + 1, min(day.day, last))

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit[:-1]
        return f"{self.amount} {unit}"


ZERO = Duration(0, "days")


def parse_duration(text: object) -> Duration | None:
    """'6 weeks' -> Duration(6, 'weeks'); None when it is not such a text."""
    if not isinstance(text, str):
        return None
    found = _DURATION.match(text)
    if found is None:
        return None
    return Duration(int(found.group(1)), found.group(2).lower() + "s")


@dataclass(frozen=True)
class Vaccine:
    """One vaccine of the bundled list (resources/codes/vaccines.json)."""

    id: str
    name: str
    cvx: str | None = None
    who_code: str | None = None  # WHO/EPI antigen abbreviation, where one is in use
    doses: int = 1  # the most doses of it a person gets (dose numbers above are refused)
    route: str | None = None  # the usual route (the form's default)
    site: str | None = None  # the usual site (the form's default)


@dataclass(frozen=True)
class ScheduledDose:
    dose: int
    min_age: Duration
    recommended_age: Duration
    overdue_after: Duration  # grace period after the due date
    min_interval: Duration = ZERO  # from the series' previous valid dose
    max_age: Duration | None = None  # not given after this age (not "overdue": too late)


@dataclass(frozen=True)
class Series:
    id: str
    name: str
    vaccines: tuple[str, ...]  # vaccine ids that count for this series
    doses: tuple[ScheduledDose, ...]
    sex: str | None = None  # only for this sex (HPV: female), when set


@dataclass(frozen=True)
class ImmunizationSchedule:
    version: str = ""
    title: str = ""
    series: tuple[Series, ...] = ()
    source: str = ""  # where it came from: the bundled file or the vault's override


@dataclass(frozen=True)
class GivenDose:
    """A recorded immunization as the schedule sees it."""

    item_id: str
    vaccine_id: str | None  # None: a vaccine FieldChart's list does not know (never counts)
    given_on: date


@dataclass(frozen=True)
class DoseStatus:
    series_id: str
    series_name: str
    dose: int
    status: str  # one of STATUSES
    due_on: date | None  # when it is (or was) due; None once done
    overdue_on: date | None  # the first day it counts as overdue
    given_on: date | None = None
    item_id: str | None = None  # the recorded immunization that fulfilled it


@dataclass(frozen=True)
class ScheduleStanding:
    doses: list[DoseStatus] = field(default_factory=list)
    not_counted: list[str] = field(default_factory=list)  # item ids given too early/too soon

    @property
    def outstanding(self) -> list[DoseStatus]:
        """Doses due or overdue, the earliest first."""
        open_ = [d for d in self.doses if d.status in (DUE, OVERDUE)]
        return sorted(open_, key=lambda d: (d.due_on or date.max, d.series_id, d.dose))

    @property
    def next_due(self) -> date | None:
        """The earliest day a dose not yet given is due (may be in the past)."""
        days = [
            d.due_on for d in self.doses if d.status in (DUE, OVERDUE, NOT_YET_DUE) and d.due_on
        ]
        return min(days) if days else None


def evaluate(
    schedule: ImmunizationSchedule,
    birth: date,
    given: Sequence[GivenDose],
    today: date,
    sex: str | None = None,
) -> ScheduleStanding:
    """Each scheduled dose's status on `today` for a person born on `birth`."""
    used: set[str] = set()
    early: set[str] = set()
    result: list[DoseStatus] = []
    ordered = sorted(given, key=lambda g: (g.given_on, g.item_id))
    for series in schedule.series:
        if series.sex is not None and sex is not None and sex != series.sex:
            continue
        candidates = [g for g in ordered if g.vaccine_id in series.vaccines and g.given_on >= birth]
        statuses, counted, too_early = _walk(series, birth, candidates, today, used)
        used |= counted
        early |= too_early
        result.extend(statuses)
    return ScheduleStanding(result, sorted(early - used))


def _walk(
    series: Series,
    birth: date,
    candidates: list[GivenDose],
    today: date,
    used: set[str],
) -> tuple[list[DoseStatus], set[str], set[str]]:
    statuses: list[DoseStatus] = []
    counted: set[str] = set()
    too_early: set[str] = set()
    previous: date | None = None  # the previous valid dose's day
    projected_prev: date | None = None  # ... or when it could at the earliest be given
    pool = [g for g in candidates if g.item_id not in used]
    for planned in series.doses:
        earliest = planned.min_age.after(birth)
        if previous is not None:
            earliest = max(earliest, planned.min_interval.after(previous))
        latest = planned.max_age.after(birth) if planned.max_age else None
        match = None
        while pool:
            g = pool.pop(0)
            if g.given_on < earliest:
                too_early.add(g.item_id)
                continue
            if latest is not None and g.given_on > latest:
                pool.insert(0, g)  # too old for this dose; may count elsewhere
                break
            match = g
            break
        if match is not None:
            counted.add(match.item_id)
            previous = projected_prev = match.given_on
            statuses.append(
                DoseStatus(
                    series.id,
                    series.name,
                    planned.dose,
                    DONE,
                    None,
                    None,
                    match.given_on,
                    match.item_id,
                )
            )
            continue
        due = planned.recommended_age.after(birth)
        if projected_prev is not None:
            due = max(due, planned.min_interval.after(projected_prev))
        due = max(due, earliest)
        overdue = planned.overdue_after.after(due) + timedelta(days=1)
        if latest is not None and today > latest:
            status = TOO_LATE
        elif statuses and statuses[-1].status != DONE:
            status = NOT_YET_DUE  # an earlier dose of the series comes first
        elif today < due:
            status = NOT_YET_DUE
        elif today < overdue:
            status = DUE
        else:
            status = OVERDUE
        statuses.append(DoseStatus(series.id, series.name, planned.dose, status, due, overdue))
        # A later dose can only follow this one: from the day it could still be given.
        projected_prev = max(due, today) if status != TOO_LATE else projected_prev
    return statuses, counted, too_early


def vaccine_for_code(vaccines: Mapping[str, Vaccine], cvx: str | None) -> Vaccine | None:
    """The bundled vaccine with this CVX code, if any."""
    if not cvx:
        return None
    for vaccine in vaccines.values():
        if vaccine.cvx == cvx:
            return vaccine
    return None


def series_of(schedule: ImmunizationSchedule, vaccine_id: str) -> list[Series]:
    """The series a vaccine counts for."""
    return [s for s in schedule.series if vaccine_id in s.vaccines]
