"""Schedule: appointments by day and clinician; due, overdue and missed follow-ups; slot
clashes; the clinicians one can book."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import singledispatch
from typing import Any

from sqlalchemy import Column, Connection, Index, String, Table, Text, select

from app.domain import events as ev
from app.domain.item_status import CREATES, changed_by
from app.domain.roles import Role
from app.projections.base import READ_ONLY, Writes, metadata, patient_of
from app.store import schema
from app.store.event_log import RecordedEvent

appointments = Table(
    "sc_appointments",
    metadata,
    Column("appointment_id", String, primary_key=True),
    Column("patient_id", String, nullable=False),
    Column("clinician", String, nullable=False),
    Column("start", String, nullable=False),  # as booked, with its UTC offset
    Column("start_utc", String, nullable=False),  # comparable strings
    Column("end_utc", String, nullable=False),
    Column("day", String, nullable=False),  # the calendar day in the booking's own offset
    Column("status", String, nullable=False),
    Column("reason", Text),
    Index("ix_sc_day", "day", "start_utc", info=READ_ONLY),
    Index("ix_sc_clinician", "clinician", "start_utc", info=READ_ONLY),
)


def utc(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).isoformat(timespec="seconds")


ENTERED_IN_ERROR = "entered-in-error"


@singledispatch
def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    """An appointment's status as app.domain.item_status says (cancelled, attended, missed).
    The schedule has no entered-in-error column: that flag becomes the status. Other events
    do not touch the schedule."""
    change = changed_by(event)
    if change is None or change.kind != "appointment":
        return
    key = {"appointment_id": change.item_id}
    if change.entered_in_error:
        w.update(appointments, key, {"status": ENTERED_IN_ERROR})
    elif change.status is not None:
        # The chart keeps an item's error flag whatever status follows; so does this column.
        w.update(appointments, key, {"status": change.status}, unless={"status": ENTERED_IN_ERROR})


@apply.register
def _(event: ev.AppointmentScheduled, w: Writes, record: RecordedEvent) -> None:
    w.insert(
        appointments,
        {
            "appointment_id": event.appointment_id,
            "patient_id": patient_of(record),
            "clinician": event.clinician,
            "start": event.start,
            "start_utc": utc(event.start),
            "end_utc": utc(event.end),
            "day": event.start[:10],
            "status": CREATES[ev.AppointmentScheduled].status,
            "reason": event.reason,
        },
    )


@apply.register
def _(event: ev.AppointmentRescheduled, w: Writes, record: RecordedEvent) -> None:
    w.update(
        appointments,
        {"appointment_id": event.appointment_id},
        {
            "start": event.start,
            "start_utc": utc(event.start),
            "end_utc": utc(event.end),
            "day": event.start[:10],
        },
    )


@apply.register
def _(event: ev.ItemVersionReceived, w: Writes, record: RecordedEvent) -> None:
    if event.item_kind != "appointment":
        return
    d = event.data
    if not d.get("start") or not d.get("end"):
        return
    values = {
        "patient_id": patient_of(record),
        "clinician": d.get("clinician") or "",
        "start": d["start"],
        "start_utc": utc(d["start"]),
        "end_utc": utc(d["end"]),
        "day": d["start"][:10],
        "status": ENTERED_IN_ERROR if event.entered_in_error else event.status,
        "reason": d.get("reason"),
    }
    w.upsert(appointments, {"appointment_id": event.item_id}, values)


def clash(
    conn: Connection, clinician: str, start: datetime, end: datetime, ignore: str | None
) -> str | None:
    """A booked appointment of this clinician overlapping [start, end), if any."""
    s = start.astimezone(UTC).isoformat(timespec="seconds")
    e = end.astimezone(UTC).isoformat(timespec="seconds")
    query = select(appointments.c.appointment_id).where(
        appointments.c.clinician == clinician,
        appointments.c.status == "booked",
        appointments.c.start_utc < e,
        appointments.c.end_utc > s,
    )
    if ignore is not None:
        query = query.where(appointments.c.appointment_id != ignore)
    return conn.execute(query.limit(1)).scalar()


def on_day(conn: Connection, day: str, days: int = 1) -> list[Any]:
    """Appointments whose (local) day is in [day, day + days)."""
    from datetime import date, timedelta

    last = (date.fromisoformat(day) + timedelta(days=days)).isoformat()
    return list(
        conn.execute(
            select(appointments)
            .where(appointments.c.day >= day, appointments.c.day < last)
            .order_by(appointments.c.start_utc, appointments.c.appointment_id)
        )
    )


def overdue(conn: Connection, now: datetime) -> list[Any]:
    """Booked follow-ups whose time has passed without being marked attended or missed."""
    cutoff = now.astimezone(UTC).isoformat(timespec="seconds")
    return list(
        conn.execute(
            select(appointments)
            .where(appointments.c.status == "booked", appointments.c.start_utc < cutoff)
            .order_by(appointments.c.start_utc, appointments.c.appointment_id)
        )
    )


def missed(conn: Connection, limit: int = 200) -> list[Any]:
    """No-shows nobody has followed up yet -- the patient has no later appointment booked or
    attended -- the most recent first."""
    later = appointments.alias("later")
    rebooked = (
        select(later.c.appointment_id)
        .where(
            later.c.patient_id == appointments.c.patient_id,
            later.c.status.in_(("booked", "fulfilled")),
            later.c.start_utc > appointments.c.start_utc,
        )
        .exists()
    )
    return list(
        conn.execute(
            select(appointments)
            .where(appointments.c.status == "noshow", ~rebooked)
            .order_by(appointments.c.start_utc.desc(), appointments.c.appointment_id)
            .limit(limit)
        )
    )


def clinicians(conn: Connection) -> list[str]:
    """The names of this device's active users with the clinician role, sorted."""
    users = schema.users
    return list(
        conn.execute(
            select(users.c.name)
            .where(users.c.role == Role.CLINICIAN.value, users.c.disabled.is_(False))
            .order_by(users.c.name)
        ).scalars()
    )
