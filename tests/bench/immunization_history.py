"""Realistic immunization histories for the bench clinic's children: at a child's first visit
the front desk copies the doses on the card (about 85 % of each scheduled dose given, a few
days to weeks late, none past the age it is given at); at every visit of a child the clinician
gives what the schedule says is due or overdue that day (most of the time: stock-outs and
caregivers who decline leave some doses for later)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from app.domain import commands as c
from app.domain.immunization_schedule import DUE, OVERDUE, GivenDose, evaluate
from app.domain.reference import Catalog

CARD_COVERAGE = 0.85  # share of scheduled doses a card shows as given
GIVE_WHEN_DUE = 0.8  # share of due doses given at a visit
OLDEST = 16 * 365  # days: older patients have no schedule left to follow


class ImmunizationHistories:
    """The doses given so far per patient (by the generator's patient index)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.given: dict[int, list[GivenDose]] = {}
        self.counts: dict[int, dict[str, int]] = {}

    def _next(self, index: int, vaccine_ids: tuple[str, ...]) -> tuple[str, int] | None:
        """(vaccine, its next dose number) for a dose of a series: the first of the series'
        vaccines not yet given in all its doses (a sixth DTP-containing dose is a Td)."""
        counts = self.counts.setdefault(index, {})
        for vaccine_id in vaccine_ids:
            number = counts.get(vaccine_id, 0) + 1
            if number <= self.catalog.vaccines[vaccine_id].doses:
                counts[vaccine_id] = number
                return vaccine_id, number
        return None

    def card(
        self, index: int, pid: str, birth: date, visit_day: date, rng: random.Random
    ) -> list[c.RecordImmunization]:
        """The historical doses the desk copies from the child's card at the first visit."""
        if (visit_day - birth).days > OLDEST or not self.catalog.vaccines:
            return []
        commands = []
        records: list[tuple[date, str, tuple[str, ...]]] = []
        for series in self.catalog.immunization_schedule.series:
            previous: date | None = None
            for dose in series.doses:
                due = dose.recommended_age.after(birth)
                if previous is not None:
                    due = max(due, dose.min_interval.after(previous))
                given = due + timedelta(days=int(rng.triangular(0, 42, 3)))
                latest = dose.max_age.after(birth) if dose.max_age else None
                if given >= visit_day or (latest is not None and given > latest):
                    break
                if rng.random() > CARD_COVERAGE:
                    break  # a missed dose: the rest of the series waits for catch-up
                previous = given
                records.append((given, series.id, series.vaccines))
        for given, _series, vaccines in sorted(records):
            picked = self._next(index, vaccines)
            if picked is None:
                continue
            vaccine_id, number = picked
            self.given.setdefault(index, []).append(
                GivenDose(f"card-{len(records)}", vaccine_id, given)
            )
            commands.append(
                c.RecordImmunization(
                    patient_id=pid,
                    vaccine=vaccine_id,
                    dose_number=number,
                    given_on=given.isoformat(),
                    historical=True,
                    source="Child health card",
                )
            )
        return commands

    def due_today(
        self,
        index: int,
        pid: str,
        birth: date,
        sex: str,
        visit_day: date,
        encounter: str,
        rng: random.Random,
    ) -> list[c.RecordImmunization]:
        """The doses the clinician gives at this visit."""
        if (visit_day - birth).days > OLDEST or not self.catalog.vaccines:
            return []
        standing = evaluate(
            self.catalog.immunization_schedule, birth, self.given.get(index, []), visit_day, sex
        )
        series = {s.id: s for s in self.catalog.immunization_schedule.series}
        commands = []
        for dose in standing.outstanding:
            if dose.status not in (DUE, OVERDUE) or rng.random() > GIVE_WHEN_DUE:
                continue
            picked = self._next(index, series[dose.series_id].vaccines)
            if picked is None:
                continue
            vaccine_id, number = picked
            vaccine = self.catalog.vaccines[vaccine_id]
            self.given.setdefault(index, []).append(
                GivenDose(f"visit-{visit_day}-{dose.series_id}", vaccine_id, visit_day)
            )
            commands.append(
                c.RecordImmunization(
                    patient_id=pid,
                    vaccine=vaccine_id,
                    dose_number=number,
                    lot=f"{vaccine_id.upper()}-{rng.randrange(1000, 9999)}",
                    lot_expiry=(visit_day + timedelta(days=rng.randrange(60, 700))).isoformat(),
                    site=vaccine.site,
                    route=vaccine.route,
                    encounter_id=encounter,
                )
            )
        return commands
