"""Immunizations against the schedule: one chart's due and overdue doses, and the clinic's
list of children with doses due or overdue on a day (read from the patient index and chart
items; no chart is folded, so the list stays cheap with 20,000 patients)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.domain.immunization_schedule import (
    DUE,
    OVERDUE,
    GivenDose,
    ImmunizationSchedule,
    ScheduleStanding,
    evaluate,
    vaccine_for_code,
)
from app.domain.reference import Catalog
from app.projections import immunization_rows, patient_links
from app.services.dto import ImmunizationDue
from app.store.database import Transaction

_REF = date(2000, 1, 1)  # to measure an age in days


@dataclass(frozen=True)
class PatientDoseDue:
    """One child's dose due or overdue, for the schedule's lists."""

    patient_id: str
    patient_name: str
    birth_date: str
    series_id: str
    series_name: str
    dose: int
    status: str  # "due" | "overdue"
    due_on: str
    overdue_on: str


def given_doses(
    records: Iterable[tuple[str, Mapping[str, Any]]], catalog: Catalog
) -> list[GivenDose]:
    """Recorded immunizations (item id, data) as the schedule sees them: a pulled one written
    by another system counts when its CVX code is a vaccine of the bundled list."""
    doses = []
    for item_id, data in records:
        vaccine_id = data.get("vaccine_id")
        if vaccine_id not in catalog.vaccines:
            known = vaccine_for_code(catalog.vaccines, data.get("cvx"))
            vaccine_id = known.id if known else None
        day = _day(data.get("given_on") or data.get("given_at"))
        if day is not None:
            doses.append(GivenDose(item_id, vaccine_id, day))
    return doses


def standing(
    catalog: Catalog,
    birth_date: str,
    sex: str | None,
    records: Iterable[tuple[str, Mapping[str, Any]]],
    today: date,
) -> ScheduleStanding:
    """Where one person stands on the catalog's schedule on `today`."""
    birth = _day(birth_date)
    if birth is None:
        return ScheduleStanding()
    return evaluate(catalog.immunization_schedule, birth, given_doses(records, catalog), today, sex)


def due_views(result: ScheduleStanding, schedule: ImmunizationSchedule) -> list[ImmunizationDue]:
    """The due and overdue doses of a standing, as the chart shows them."""
    vaccines = {s.id: list(s.vaccines) for s in schedule.series}
    return [
        ImmunizationDue(
            series_id=d.series_id,
            series_name=d.series_name,
            dose=d.dose,
            status=d.status,
            due_on=d.due_on.isoformat() if d.due_on else "",
            overdue_on=d.overdue_on.isoformat() if d.overdue_on else "",
            vaccines=vaccines.get(d.series_id, []),
        )
        for d in result.outstanding
    ]


def tracked_since(schedule: ImmunizationSchedule, today: date) -> date:
    """The earliest birth date the schedule still has a dose for (from its largest max_age):
    older people are not read at all. A dose without a max_age tracks everyone."""
    ages = [d.max_age for s in schedule.series for d in s.doses]
    if not ages or any(a is None for a in ages):
        return date(1900, 1, 1)
    longest = max((a.after(_REF) - _REF).days for a in ages if a is not None)
    return today - timedelta(days=longest + 2)


def clinic_due(
    conn: Transaction, catalog: Catalog, today: date, statuses: tuple[str, ...] = (DUE, OVERDUE)
) -> list[PatientDoseDue]:
    """Every dose due or overdue on `today` for the people of this vault, overdue first,
    then by due date."""
    schedule = catalog.immunization_schedule
    if not schedule.series:
        return []
    # A child merged into another chart is that chart now: listed once, under the survivor,
    # with the doses of both records.
    replaced = patient_links.replacements(conn)
    born = immunization_rows.born_since(conn, tracked_since(schedule, today).isoformat())
    people = [p for p in born if p[0] not in replaced]
    records = immunization_rows.immunizations_of(conn, [p[0] for p in people] + list(replaced))
    for replaced_id, survivor_id in replaced.items():
        records.setdefault(survivor_id, []).extend(records.pop(replaced_id, []))
    result: list[PatientDoseDue] = []
    for patient_id, given, family, birth_date, sex in people:
        found = standing(catalog, birth_date, sex, records.get(patient_id, []), today)
        for d in found.outstanding:
            if d.status in statuses and d.due_on is not None and d.overdue_on is not None:
                result.append(
                    PatientDoseDue(
                        patient_id=patient_id,
                        patient_name=f"{family}, {given}",
                        birth_date=birth_date,
                        series_id=d.series_id,
                        series_name=d.series_name,
                        dose=d.dose,
                        status=d.status,
                        due_on=d.due_on.isoformat(),
                        overdue_on=d.overdue_on.isoformat(),
                    )
                )
    result.sort(key=lambda r: (r.status != OVERDUE, r.due_on, r.patient_name, r.series_id))
    return result


def _day(value: object) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
