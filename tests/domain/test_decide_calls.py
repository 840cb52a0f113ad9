"""Staff record follow-up calls (outcome, note, next call date) and take patients off the
worklist; bad input names the field and records nothing."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain import events as ev
from app.domain.chart import evolve
from app.domain.errors import NotFoundError, ValidationError
from tests.clinic_fixtures import DESK
from tests.domain.builders import PID, accept, chart_after, context, refuse

DESK_CTX = context(actor=DESK)  # NOW is 2026-11-21T09:00Z


def booked() -> c.ScheduleFollowUp:
    return c.ScheduleFollowUp(
        patient_id=PID, appointment_id="apt-1", clinician="doc", start="2026-11-25T09:00:00Z"
    )


def call(**overrides: object) -> c.RecordCallAttempt:
    fields: dict[str, object] = {
        "patient_id": PID,
        "call_id": "call-1",
        "outcome": "no-answer",
        "next_call_on": "2026-11-23",
        "called_at": "2026-11-21T08:30:00Z",
    }
    fields.update(overrides)
    return c.RecordCallAttempt(**fields)  # type: ignore[arg-type]


def test_a_call_becomes_a_call_item_with_status_per_outcome() -> None:
    chart = chart_after(booked())
    decision = accept(call(appointment_id="apt-1", note="rang twice"), chart, DESK_CTX)
    (event,) = decision.events
    assert isinstance(event, ev.CallAttemptRecorded)
    assert (event.outcome, event.status, event.next_call_on) == (
        "no-answer",
        "not-done",
        "2026-11-23",
    )
    assert event.called_at == "2026-11-21T08:30:00+00:00"
    evolve(chart, event)
    item = chart.item("call-1", "call")
    assert item is not None and item.status == "not-done" and item.data["appointment_id"] == "apt-1"
    agreed = accept(call(call_id="call-2", outcome="Agreed-To-Come", next_call_on=None), chart)
    assert agreed.events[0].status == "completed"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"outcome": "busy"}, "outcome"),
        ({"outcome": ""}, "outcome"),
        ({"next_call_on": "2026-11-20"}, "next_call_on"),  # yesterday
        ({"next_call_on": "soon"}, "next_call_on"),
        ({"next_call_on": None}, "next_call_on"),  # no-answer needs one
        ({"outcome": "remind-later", "next_call_on": ""}, "next_call_on"),
        ({"outcome": "died", "next_call_on": "2026-12-01"}, "next_call_on"),
        ({"called_at": "2026-11-21T10:00:00Z"}, "called_at"),  # an hour from now
        ({"appointment_id": "apt-unknown"}, "appointment_id"),
    ],
)
def test_bad_input_names_the_field(overrides: dict[str, object], field: str) -> None:
    error = refuse(call(**overrides), chart_after(booked()), DESK_CTX)
    assert error.field == field


def test_terminal_outcomes_take_no_next_date_and_today_is_allowed() -> None:
    died = accept(call(outcome="died", next_call_on=None), ctx=DESK_CTX).events[0]
    assert isinstance(died, ev.CallAttemptRecorded) and died.next_call_on is None
    today = accept(call(next_call_on="2026-11-21"), ctx=DESK_CTX).events[0]
    assert today.next_call_on == "2026-11-21"  # type: ignore[attr-defined]


def test_removal_needs_a_reason_and_a_registered_patient() -> None:
    (event,) = accept(
        c.RemoveFromWorklist(patient_id=PID, call_id="rm-1", reason="Transferred care"),
        ctx=DESK_CTX,
    ).events
    assert isinstance(event, ev.RemovedFromWorklist)
    assert (event.outcome, event.status, event.reason) == (
        "removed",
        "not-done",
        "Transferred care",
    )
    assert refuse(c.RemoveFromWorklist(patient_id=PID, reason="  ")).field == "reason"
    refuse(c.RemoveFromWorklist(patient_id=PID, reason="x"), None, error=NotFoundError)
    assert isinstance(refuse(call(outcome="x")), ValidationError)


def test_the_front_desk_may_retract_its_own_call() -> None:
    chart = chart_after(call(), ctx=DESK_CTX)
    (event,) = accept(
        c.MarkEnteredInError(patient_id=PID, item_id="call-1", reason="Wrong patient"),
        chart,
        DESK_CTX,
    ).events
    assert isinstance(event, ev.EnteredInError) and event.item_kind == "call"
