"""RecordImmunization: what is recorded, who may record it, and each bad input refused with
the field named and nothing recorded."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.domain import commands as c
from app.domain.chart import PatientChart, evolve
from app.domain.decide import decide
from app.domain.errors import RoleError, ValidationError
from app.domain.events import EnteredInError, ImmunizationRecorded
from app.store.immunization_data import bundled_schedule, bundled_vaccines
from tests.clinic_fixtures import CATALOG, DESK, registration
from tests.domain.builders import PID, accept, chart_after, context, refuse

VACCINES = replace(CATALOG, vaccines=bundled_vaccines(), immunization_schedule=bundled_schedule())
# NOW of the builders is 2026-11-21T09:00Z; this child was born on 2026-09-01.
CHILD = registration(patient_id=PID, birth_date="2026-09-01")


def child_chart() -> PatientChart:
    chart = PatientChart(PID)
    for event in decide(None, CHILD, context(catalog=VACCINES)).events:
        evolve(chart, event)
    return chart


def dose(**overrides: object) -> c.RecordImmunization:
    fields: dict[str, object] = {
        "patient_id": PID,
        "vaccine": "penta",
        "dose_number": 1,
        "given_on": "2026-10-13",
        "lot": "PX-2231",
        "lot_expiry": "2027-03-31",
        "site": "left-thigh",
        "route": "intramuscular",
    }
    fields.update(overrides)
    return c.RecordImmunization(**fields)  # type: ignore[arg-type]


def test_a_dose_given_here_is_recorded_with_its_codes() -> None:
    decision = accept(dose(), child_chart(), context(catalog=VACCINES))
    [event] = decision.events
    assert isinstance(event, ImmunizationRecorded)
    assert (event.vaccine_id, event.cvx, event.dose_number) == ("penta", "198", 1)
    assert event.given_on == "2026-10-13" and event.given_at == "2026-10-13T12:00:00+00:00"
    assert (event.lot, event.lot_expiry, event.site, event.route) == (
        "PX-2231",
        "2027-03-31",
        "left-thigh",
        "intramuscular",
    )
    assert event.historical is False


def test_the_vaccine_may_be_named_by_name_or_cvx_and_defaults_to_now_and_its_route() -> None:
    ctx = context(catalog=VACCINES)
    [by_cvx] = accept(dose(vaccine="19", given_on=None, route=None), child_chart(), ctx).events
    assert isinstance(by_cvx, ImmunizationRecorded)
    assert (by_cvx.vaccine_id, by_cvx.given_on, by_cvx.route) == (
        "bcg",
        "2026-11-21",
        "intradermal",
    )
    [by_name] = accept(dose(vaccine="bcg ", dose_number=1), child_chart(), ctx).events
    assert isinstance(by_name, ImmunizationRecorded) and by_name.vaccine == "BCG"


def test_staff_record_a_historical_dose_from_a_card_but_not_one_given_here() -> None:
    ctx = context(actor=DESK, catalog=VACCINES)
    [event] = accept(dose(historical=True, source="card"), child_chart(), ctx).events
    assert isinstance(event, ImmunizationRecorded) and event.historical and event.source == "card"
    error = refuse(dose(), child_chart(), ctx, RoleError)
    assert error.field == "historical" and "card" in error.message


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"dose_number": 0}, "dose_number", "1 or more"),
        ({"dose_number": -2}, "dose_number", "1 or more"),
        ({"dose_number": 5}, "dose_number", "given in 4 doses"),
        ({"vaccine": "bcg", "dose_number": 2}, "dose_number", "given in 1 dose"),
        ({"dose_number": "2"}, "dose_number", "whole number"),
        ({"given_on": "2026-08-31"}, "given_on", "before the patient's birth date"),
        ({"given_on": "2026-11-22"}, "given_on", "future"),
        ({"given_on": "2026-11-21T11:00:00+00:00"}, "given_on", "future"),
        ({"given_on": "last week"}, "given_on", "date"),
        ({"lot_expiry": "2026-10-12"}, "lot_expiry", "expired"),
        ({"lot_expiry": "31/03/2027"}, "lot_expiry", "date like"),
        ({"vaccine": "smallpox"}, "vaccine", "not in the vaccine list"),
        ({"vaccine": " "}, "vaccine", "required"),
        ({"site": "buttock"}, "site", "must be one of"),
        ({"route": "iv"}, "route", "must be one of"),
        ({"source": "card"}, "source", "historical"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    overrides: dict[str, object], field: str, words: str
) -> None:
    error = refuse(dose(**overrides), child_chart(), context(catalog=VACCINES), ValidationError)
    assert error.field == field
    assert words in error.message


def test_a_lot_expiring_on_the_day_given_is_still_good() -> None:
    accept(dose(lot_expiry="2026-10-13"), child_chart(), context(catalog=VACCINES))


def test_an_immunization_is_a_completed_item_that_can_be_marked_entered_in_error() -> None:
    ctx = context(catalog=VACCINES)
    chart = child_chart()
    for event in accept(dose(immunization_id="imm-1"), chart, ctx).events:
        evolve(chart, event)
    item = chart.item("imm-1", "immunization")
    assert item is not None and item.status == "completed" and item.active
    [error_event] = accept(
        c.MarkEnteredInError(patient_id=PID, item_id="imm-1", reason="wrong child"), chart, ctx
    ).events
    assert isinstance(error_event, EnteredInError) and error_event.item_kind == "immunization"
    evolve(chart, error_event)
    assert not chart.items["imm-1"].active


def test_only_a_clinician_marks_an_immunization_entered_in_error() -> None:
    ctx = context(catalog=VACCINES)
    chart = child_chart()
    for event in accept(dose(immunization_id="imm-1"), chart, ctx).events:
        evolve(chart, event)
    refuse(
        c.MarkEnteredInError(patient_id=PID, item_id="imm-1", reason="x"),
        chart,
        context(actor=DESK, catalog=VACCINES),
        RoleError,
    )


def test_an_adult_gets_a_dose_recorded_too() -> None:
    chart = chart_after(dose(), ctx=context(catalog=VACCINES))
    assert len(chart.of_kind("immunization")) == 1
