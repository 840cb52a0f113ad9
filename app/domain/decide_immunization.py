"""RecordImmunization: a vaccine dose given here, or one copied from a card (historical).

Refused, naming the field: a vaccine not in the bundled list, a dose number below 1 or above
the doses the vaccine is given in, a date before birth or in the future, a lot that had
expired on the day given. Staff may record only historical doses (a card brought in); giving
a vaccine is a clinician's act.
"""

from __future__ import annotations

from datetime import date, datetime

from app.domain import commands as c
from app.domain import values as v
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.decide_clinical import encounter_of, new_item_id
from app.domain.decision import Decision, require_registered
from app.domain.errors import RoleError, ValidationError
from app.domain.events import ImmunizationRecorded
from app.domain.immunization_schedule import Vaccine
from app.domain.immunizations import (
    DATE_ONLY_TIME,
    IMMUNIZATION_ROUTES,
    IMMUNIZATION_SITES,
    find_vaccine,
)
from app.domain.roles import Role
from app.domain.wording import N_, as_text, t


def record_immunization(
    chart: PatientChart | None, cmd: c.RecordImmunization, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    historical = cmd.historical is True
    if not isinstance(cmd.historical, bool):
        raise ValidationError(t("Historical must be true or false"), "historical")
    if ctx.actor.role is Role.STAFF and not historical:
        raise RoleError(
            t(
                "Staff may record only a historical dose from a card (historical: true); "
                "a dose given here is recorded by a clinician"
            ),
            "historical",
        )
    name = v.required_text(cmd.vaccine, "vaccine", N_("Vaccine"))
    vaccine = find_vaccine(ctx.catalog, name)
    if vaccine is None:
        raise ValidationError(
            t("Vaccine is not in the vaccine list (name, id or CVX code)"), "vaccine"
        )
    dose = _dose_number(cmd.dose_number, vaccine)
    given_at, given_on, time_known = _given(cmd.given_on, chart, ctx)
    lot = v.text(cmd.lot, "lot", N_("Lot number"), required=False, max_len=40)
    expiry = _expiry(cmd.lot_expiry, given_on)
    site = v.choice(cmd.site, "site", N_("Site"), tuple(IMMUNIZATION_SITES), required=False)
    route = v.choice(cmd.route, "route", N_("Route"), tuple(IMMUNIZATION_ROUTES), required=False)
    source = v.text(cmd.source, "source", N_("Source"), required=False, max_len=200)
    if source is not None and not historical:
        raise ValidationError(t("Source is only for a historical dose (from a card)"), "source")
    return Decision(
        [
            ImmunizationRecorded(
                immunization_id=new_item_id(chart, cmd.immunization_id, "immunization_id", ctx),
                vaccine_id=vaccine.id,
                vaccine=vaccine.name,
                cvx=vaccine.cvx,
                dose_number=dose,
                given_at=given_at,
                given_on=given_on.isoformat(),
                time_known=time_known,
                historical=historical,
                source=source,
                lot=lot,
                lot_expiry=expiry,
                site=site,
                route=route or (vaccine.route if not historical else None),
                encounter_id=None if historical else encounter_of(chart, cmd.encounter_id),
            )
        ],
        v.iso(ctx.now),
    )


def _dose_number(value: object, vaccine: Vaccine) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(t("Dose number must be a whole number"), "dose_number")
    if value < 1:
        raise ValidationError(t("Dose number must be 1 or more"), "dose_number")
    if value > vaccine.doses:
        doses = "1 dose" if vaccine.doses == 1 else f"{vaccine.doses} doses"
        raise ValidationError(
            t(
                "Dose number {value} is impossible: {name} is given in {doses}",
                value=value,
                name=vaccine.name,
                doses=doses,
            ),
            "dose_number",
        )
    return value


def _given(value: str | None, chart: PatientChart, ctx: DecisionContext) -> tuple[str, date, bool]:
    """(clinical time, day given, whether the time is known): a date or an instant, never
    before birth or in the future."""
    raw = v.text(value, "given_on", N_("Date given"), required=False, max_len=40)
    if raw is None:
        at, day = ctx.now, ctx.today
    elif len(raw) == 10:
        day = _date(raw, "given_on", "Date given")
        at = datetime.combine(day, DATE_ONLY_TIME)
        if day > ctx.today:
            raise ValidationError(t("Date given cannot be in the future"), "given_on")
    else:
        at = v.instant(raw, "given_on", N_("Date given"))
        if at > ctx.now + v.CLOCK_SKEW:
            raise ValidationError(t("Date given cannot be in the future"), "given_on")
        day = at.date()
    birth = chart.demographics.get("birth_date")
    if birth and day < date.fromisoformat(str(birth)):
        raise ValidationError(t("Date given is before the patient's birth date"), "given_on")
    return v.iso(at), day, raw is None or len(raw) != 10


def _expiry(value: str | None, given_on: date) -> str | None:
    raw = v.text(value, "lot_expiry", N_("Lot expiry"), required=False, max_len=10)
    if raw is None:
        return None
    expiry = _date(raw, "lot_expiry", "Lot expiry")
    if expiry < given_on:
        raise ValidationError(
            t(
                "The lot expired on {expiry}, before the date given ({given_on}): an expired "
                "vaccine is not recorded as given",
                expiry=expiry.isoformat(),
                given_on=given_on.isoformat(),
            ),
            "lot_expiry",
        )
    return expiry.isoformat()


def _date(raw: str, field: str, label: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            t("{label} must be a date like 2026-11-30", label=as_text(label)), field
        ) from None
