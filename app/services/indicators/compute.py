"""The monthly indicators of one facility-month, computed from facts read once from the read
models (app/projections/indicator_rows.py). Pure: the same facts and month give the same
values whatever the clock says; the clinical time of each item decides which month it belongs
to (docs/reports/indicators.md)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.domain.chart import ACTIVE_STATUSES
from app.domain.errors import ValidationError
from app.i18n import _

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
HYPERTENSION = ("I10", "I15")  # ICD-10 blocks, inclusive, by their first three characters
DIABETES = ("E10", "E14")
MEASLES = frozenset({"MCV", "MR", "MMR"})  # WHO/EPI codes of measles-containing vaccines
PENTA = frozenset({"DTwPHibHepB"})
SYSTOLIC_BELOW = 140.0
DIASTOLIC_BELOW = 90.0
COUNTED_APPOINTMENTS = frozenset({"booked", "fulfilled", "noshow"})


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = MONTH.match(text.strip())
        if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1900:
            raise ValidationError(
                _("Month {text} is not a month like 2026-11").format(text=repr(text)), "month"
            )
        return cls(int(found[1]), int(found[2]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def minus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 - months
        return Month(index // 12, index % 12 + 1)


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day when shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class IndicatorValue:
    id: str
    numerator: int
    denominator: int | None = None  # None: a count

    @property
    def score(self) -> float | None:
        """numerator / denominator rounded to four places (None for a count or no one)."""
        if self.denominator is None:
            return float(self.numerator)
        if self.denominator == 0:
            return None
        return round(self.numerator / self.denominator, 4)


@dataclass
class _Patient:
    birth_date: str = ""
    registered: str = ""
    visits: list[str] = field(default_factory=list)  # encounter days, sorted
    htn_since: str | None = None  # earliest active hypertension diagnosis day
    dm_since: str | None = None
    bp: list[tuple[str, str, float, float]] = field(default_factory=list)  # (time, day, s, d)
    doses: list[tuple[str, str]] = field(default_factory=list)  # (WHO code, day given)


@dataclass(frozen=True)
class Facts:
    """Everything the indicators read, grouped by patient once for any number of months."""

    patients: Mapping[str, _Patient]
    appointments: tuple[tuple[str, str, str, str], ...]


def _in_block(code: object, block: tuple[str, str]) -> bool:
    return isinstance(code, str) and block[0] <= code.strip().upper()[:3] <= block[1]


def _earliest(current: str | None, day: str) -> str:
    return day if current is None or day < current else current


def gather(
    items: Iterable[tuple[Any, ...]],
    patients: Iterable[tuple[str, str, str]],
    appointments: Iterable[tuple[str, str, str, str]],
    who_codes: Mapping[str, str],
) -> Facts:
    """Group the read facts by patient. `items` are rows in ItemFact's field order (an
    ItemFact is one); `who_codes` maps a vaccine id or "cvx:<code>" to its WHO/EPI antigen
    code (from the bundled vaccine list)."""
    people: dict[str, _Patient] = {}
    for pid, birth, registered in patients:
        people[pid] = _Patient(birth_date=birth, registered=registered)
    active = ACTIVE_STATUSES
    for pid, kind, status, day, time, code, systolic, diastolic, vaccine, cvx, given in items:
        if status not in active[kind]:
            continue
        p = people.get(pid)
        if p is None:
            p = people[pid] = _Patient()
        if kind == "encounter":
            p.visits.append(day)
        elif kind == "vitals":
            if isinstance(systolic, int | float) and isinstance(diastolic, int | float):
                p.bp.append((time, day, float(systolic), float(diastolic)))
        elif kind == "diagnosis":
            if _in_block(code, HYPERTENSION):
                p.htn_since = _earliest(p.htn_since, day)
            elif _in_block(code, DIABETES):
                p.dm_since = _earliest(p.dm_since, day)
        elif kind == "immunization":
            who = who_codes.get(vaccine or "") or who_codes.get("cvx:" + (cvx or ""))
            if who is not None:
                p.doses.append((who, str(given or day)[:10]))
    for p in people.values():
        p.visits.sort()
        p.bp.sort()
    return Facts(people, tuple(sorted(appointments)))


def _visited(p: _Patient, after: str, until: str) -> bool:
    """Whether the patient had a visit on a day in (after, until]."""
    return any(after < day <= until for day in p.visits)


def _doses_before(p: _Patient, codes: frozenset[str], before: str) -> int:
    return sum(1 for code, day in p.doses if code in codes and day < before)


def compute(facts: Facts, month: Month) -> tuple[IndicatorValue, ...]:
    """The indicators of `month`, in the order of definitions.INDICATORS."""
    start, end = month.first.isoformat(), month.last.isoformat()
    end_day = month.last
    year_ago = months_before(end_day, 12).isoformat()
    quarter_ago = months_before(end_day, 3).isoformat()
    cohort_from = months_before(month.first, 12).isoformat()
    cohort_to = months_before(end_day, 12).isoformat()
    visits = registrations = htn = dm = 0
    bp_den = bp_num = missed_den = missed_num = ltfu_den = ltfu_num = 0
    cohort = mcv1 = penta3 = 0
    for p in facts.patients.values():
        visits += sum(1 for day in p.visits if start <= day <= end)
        if start <= p.registered <= end:
            registrations += 1
        has_htn = p.htn_since is not None and p.htn_since <= end
        has_dm = p.dm_since is not None and p.dm_since <= end
        if has_htn or has_dm:
            seen_before = any(day <= end for day in p.visits)
            recent = _visited(p, year_ago, end)
            if seen_before:
                ltfu_den += 1
                ltfu_num += not recent
            if recent:
                htn += has_htn
                dm += has_dm
                missed_den += 1
                missed_num += not _visited(p, quarter_ago, end)
                if has_htn and p.htn_since is not None and p.htn_since <= quarter_ago:
                    bp_den += 1
                    last = [r for r in p.bp if quarter_ago < r[1] <= end]
                    if last and last[-1][2] < SYSTOLIC_BELOW and last[-1][3] < DIASTOLIC_BELOW:
                        bp_num += 1
        birthday = _first_birthday(p.birth_date, cohort_from, cohort_to)
        if birthday is not None:
            cohort += 1
            mcv1 += _doses_before(p, MEASLES, birthday) >= 1
            penta3 += _doses_before(p, PENTA, birthday) >= 3
    attended = booked = 0
    for _patient, _start, day, status in facts.appointments:
        if start <= day <= end and status in COUNTED_APPOINTMENTS:
            booked += 1
            attended += status == "fulfilled"
    return (
        IndicatorValue("visits", visits),
        IndicatorValue("new_registrations", registrations),
        IndicatorValue("htn_under_care", htn),
        IndicatorValue("dm_under_care", dm),
        IndicatorValue("bp_controlled", bp_num, bp_den),
        IndicatorValue("missed_visits", missed_num, missed_den),
        IndicatorValue("lost_to_follow_up", ltfu_num, ltfu_den),
        IndicatorValue("follow_up_show_rate", attended, booked),
        IndicatorValue("mcv1_coverage", mcv1, cohort),
        IndicatorValue("penta3_coverage", penta3, cohort),
    )


def _first_birthday(birth_date: str, earliest: str, latest: str) -> str | None:
    """The first birthday of someone born in [earliest, latest], else None (a birth date
    that is not a date is not in any cohort)."""
    if not earliest <= birth_date <= latest:
        return None
    try:
        born = date.fromisoformat(birth_date[:10])
    except ValueError:
        return None
    index = born.year * 12 + born.month - 1 + 12
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(born.day, calendar.monthrange(year, month)[1])).isoformat()
