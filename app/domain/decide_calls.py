"""Follow-up calls: staff call patients who missed an appointment (the worklist,
docs/front-desk/follow-up-calls.md), and may take a patient off that list with a reason.

Both are "call" items on the chart, so they sync as one FHIR resource type (Communication).
"""

from __future__ import annotations

from datetime import date

from app.domain import commands as c
from app.domain import values as v
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.decide_clinical import new_item_id
from app.domain.decision import Decision, require_item, require_registered
from app.domain.errors import ValidationError
from app.domain.events import CallAttemptRecorded, RemovedFromWorklist
from app.domain.wording import N_, t

# Outcomes where nobody was reached: FHIR Communication status "not-done".
NOT_REACHED = frozenset({"no-answer", "wrong-number"})


def record_call(
    chart: PatientChart | None, cmd: c.RecordCallAttempt, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    outcome = v.choice(cmd.outcome, "outcome", N_("Outcome"), c.CALL_OUTCOMES)
    assert outcome is not None  # required
    appointment = None
    if cmd.appointment_id:
        appointment = require_item(
            chart, cmd.appointment_id, "appointment", "appointment_id", N_("appointment")
        ).id
    note = v.text(cmd.note, "note", N_("Note"), required=False, max_len=2000)
    called_at = v.past_instant(cmd.called_at, "called_at", N_("Time of the call"), ctx.now)
    next_call = _next_call(cmd.next_call_on, outcome, ctx.today)
    return Decision(
        [
            CallAttemptRecorded(
                call_id=new_item_id(chart, cmd.call_id, "call_id", ctx),
                outcome=outcome,
                status="not-done" if outcome in NOT_REACHED else "completed",
                called_at=called_at,
                appointment_id=appointment,
                note=note,
                next_call_on=next_call,
            )
        ],
        called_at,
    )


def _next_call(value: str | None, outcome: str, today: date) -> str | None:
    """The next call date: required where the patient must be called again, refused where
    the follow-up is over (so a stray date never keeps a deceased patient on the list)."""
    raw = (value or "").strip()
    if not raw:
        if outcome in c.CALL_NEEDS_NEXT_DATE:
            raise ValidationError(
                t("Next call date is required when the outcome is {outcome}", outcome=outcome),
                "next_call_on",
            )
        return None
    if outcome in c.CALL_ENDS_FOLLOW_UP:
        raise ValidationError(
            t("Next call date must be empty when the outcome is {outcome}", outcome=outcome),
            "next_call_on",
        )
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            t("Next call date must be a date like 2026-12-09"), "next_call_on"
        ) from None
    if day < today:
        raise ValidationError(t("Next call date cannot be in the past"), "next_call_on")
    return day.isoformat()


def remove_from_worklist(
    chart: PatientChart | None, cmd: c.RemoveFromWorklist, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    reason = v.required_text(cmd.reason, "reason", N_("Reason"), max_len=500)
    now = v.iso(ctx.now)
    return Decision(
        [
            RemovedFromWorklist(
                call_id=new_item_id(chart, cmd.call_id, "call_id", ctx),
                reason=reason,
                removed_at=now,
            )
        ],
        now,
    )
