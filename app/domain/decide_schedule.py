"""Appointments (follow-ups) and corrections of items entered in error."""

from __future__ import annotations

from datetime import timedelta

from app.domain import commands as c
from app.domain import values as v
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.decide_clinical import new_item_id
from app.domain.decision import Decision, require_item, require_registered
from app.domain.errors import (
    AlreadyDoneError,
    DoubleBookingError,
    NotFoundError,
    PreconditionError,
    RoleError,
    ValidationError,
)
from app.domain.events import (
    AppointmentAttended,
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
    AppointmentScheduled,
    EnteredInError,
)
from app.domain.other_records import READ_ONLY_KIND, READ_ONLY_MESSAGE
from app.domain.roles import Role
from app.domain.wording import N_, t

MAX_DURATION = 8 * 60


def _duration(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 5 <= value <= MAX_DURATION:
        raise ValidationError(
            t(
                "Duration must be a whole number of minutes from 5 to {max_duration}",
                max_duration=MAX_DURATION,
            ),
            "duration_minutes",
        )
    return value


def _check_slot(
    ctx: DecisionContext, clinician: str, start_iso: str, minutes: int, ignore: str | None
) -> tuple[str, str]:
    start = v.instant(start_iso, "start", N_("Start"))
    end = start + timedelta(minutes=minutes)
    clash = ctx.clashing_appointment(clinician, start, end, ignore)
    if clash is not None:
        raise DoubleBookingError(
            t(
                "{clinician} already has an appointment at that time; choose another slot",
                clinician=clinician,
            ),
            clash,
        )
    return v.iso(start), v.iso(end)


def schedule(chart: PatientChart | None, cmd: c.ScheduleFollowUp, ctx: DecisionContext) -> Decision:
    chart = require_registered(chart)
    clinician = v.required_text(cmd.clinician, "clinician", N_("Clinician"), max_len=64)
    known = ctx.clinicians()
    if known is not None and clinician not in known:
        raise ValidationError(
            t(
                "{clinician} is not a clinician on this device; choose one of: {clinicians}",
                clinician=clinician,
                clinicians=", ".join(sorted(known)),
            ),
            "clinician",
        )
    minutes = _duration(cmd.duration_minutes)
    start, end = _check_slot(ctx, clinician, cmd.start, minutes, None)
    if v.instant(start, "start", N_("Start")) < ctx.now - timedelta(days=1):
        raise ValidationError(t("A follow-up cannot be booked in the past"), "start")
    return Decision(
        [
            AppointmentScheduled(
                appointment_id=new_item_id(chart, cmd.appointment_id, "appointment_id", ctx),
                clinician=clinician,
                start=start,
                end=end,
                reason=v.text(cmd.reason, "reason", N_("Reason"), required=False),
            )
        ],
        v.iso(ctx.now),
    )


def _booked(chart: PatientChart | None, appointment_id: str, target: str = ""):  # type: ignore[no-untyped-def]
    chart = require_registered(chart)
    item = require_item(chart, appointment_id, "appointment", "appointment_id", N_("appointment"))
    if target and item.status == target:
        raise AlreadyDoneError(
            t("This appointment is already {status}", status=item.status), "appointment_id"
        )
    if item.status != "booked":
        raise ValidationError(
            t("This appointment is already {status}", status=item.status), "appointment_id"
        )
    return item


def reschedule(
    chart: PatientChart | None, cmd: c.RescheduleAppointment, ctx: DecisionContext
) -> Decision:
    item = _booked(chart, cmd.appointment_id)
    if cmd.expected_start is not None and (
        v.instant(cmd.expected_start, "expected_start", N_("Expected start"))
        != v.instant(item.data["start"], "start", N_("Start"))
    ):
        raise PreconditionError(
            t("This appointment was moved by someone else"),
            "start",
            expected=cmd.expected_start,
            actual=item.data["start"],
        )
    old_start = v.instant(item.data["start"], "start", N_("Start"))
    old_end = v.instant(item.data["end"], "end", N_("End"))
    old_minutes = int((old_end - old_start).total_seconds() // 60)
    minutes = _duration(cmd.duration_minutes if cmd.duration_minutes is not None else old_minutes)
    start, end = _check_slot(ctx, item.data["clinician"], cmd.start, minutes, item.id)
    new_start = v.instant(start, "start", N_("Start"))
    if new_start < ctx.now - timedelta(days=1):
        raise ValidationError(t("An appointment cannot be moved into the past"), "start")
    # Compare instants, not text: 07:00Z and 10:00+03:00 are the same slot.
    if new_start == old_start and v.instant(end, "end", N_("End")) == old_end:
        raise AlreadyDoneError(t("The appointment is already at that time"), "start")
    return Decision(
        [
            AppointmentRescheduled(
                appointment_id=item.id, start=start, end=end, previous_start=item.data["start"]
            )
        ],
        v.iso(ctx.now),
    )


def cancel(chart: PatientChart | None, cmd: c.CancelAppointment, ctx: DecisionContext) -> Decision:
    item = _booked(chart, cmd.appointment_id, "cancelled")
    return Decision(
        [
            AppointmentCancelled(
                appointment_id=item.id,
                reason=v.text(cmd.reason, "reason", N_("Reason"), required=False),
            )
        ],
        v.iso(ctx.now),
    )


def attended(chart: PatientChart | None, cmd: c.MarkAttended, ctx: DecisionContext) -> Decision:
    item = _booked(chart, cmd.appointment_id, "fulfilled")
    start = v.instant(item.data["start"], "start", N_("Start"))
    # From the appointment's own day on (a patient may come early that day), in the
    # booking's own UTC offset.
    if start.date() > ctx.now.astimezone(start.tzinfo).date():
        raise ValidationError(
            t(
                "This appointment is on {day}; it can be marked attended from that day on",
                day=start.date().isoformat(),
            ),
            "appointment_id",
        )
    return Decision([AppointmentAttended(appointment_id=item.id)], v.iso(ctx.now))


def no_show(chart: PatientChart | None, cmd: c.MarkNoShow, ctx: DecisionContext) -> Decision:
    item = _booked(chart, cmd.appointment_id, "noshow")
    if v.instant(item.data["start"], "start", N_("Start")) > ctx.now:
        raise ValidationError(
            t("A patient cannot miss an appointment that has not started yet"), "appointment_id"
        )
    return Decision([AppointmentMissed(appointment_id=item.id)], v.iso(ctx.now))


def entered_in_error(
    chart: PatientChart | None, cmd: c.MarkEnteredInError, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    item = chart.item(cmd.item_id)
    if item is None:
        raise NotFoundError(t("No item with this id on the patient's chart"), "item_id")
    if item.entered_in_error:
        raise AlreadyDoneError(t("This item is already marked as entered in error"), "item_id")
    if item.kind == READ_ONLY_KIND:
        raise ValidationError(READ_ONLY_MESSAGE, "item_id")
    # Appointments and follow-up calls are the front desk's own records; the rest clinical.
    if item.kind not in ("appointment", "call") and ctx.actor.role is not Role.CLINICIAN:
        raise RoleError(
            t("Only a clinician may mark clinical items as entered in error"), "item_id"
        )
    reason = v.required_text(cmd.reason, "reason", N_("Reason"), max_len=500)
    return Decision(
        [EnteredInError(item_id=item.id, item_kind=item.kind, reason=reason)], v.iso(ctx.now)
    )
