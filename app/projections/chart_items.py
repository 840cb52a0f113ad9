"""Chart items: one row per encounter, vitals set, diagnosis, allergy, prescription, note or
appointment, with its current status. The chart summary and encounter list read from here."""

from __future__ import annotations

import json
from functools import singledispatch
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
    update,
)

from app.domain import events as ev
from app.domain.chart import ACTIVE_STATUSES
from app.projections.base import in_time_order, metadata, patient_of
from app.store.event_log import RecordedEvent

items = Table(
    "ci_items",
    metadata,
    Column("item_id", String, primary_key=True),
    Column("patient_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("status", String, nullable=False),
    Column("entered_in_error", Boolean, nullable=False, default=False),
    Column("data", Text, nullable=False),
    Column("clinical_time", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("recorded_by", String, nullable=False),
    Column("position", Integer, nullable=False),
    Index("ix_ci_items_patient_kind", "patient_id", "kind", "clinical_time"),
)

# (kind, id field, clinical-time field, initial status)
CREATES: dict[type[ev.DomainEvent], tuple[str, str, str, str]] = {
    ev.EncounterStarted: ("encounter", "encounter_id", "started_at", "in-progress"),
    ev.VitalsRecorded: ("vitals", "vitals_id", "taken_at", "final"),
    ev.DiagnosisRecorded: ("diagnosis", "diagnosis_id", "recorded_at", "active"),
    ev.AllergyRecorded: ("allergy", "allergy_id", "recorded_at", "active"),
    ev.MedicationPrescribed: ("medication", "prescription_id", "prescribed_at", "active"),
    ev.NoteAdded: ("note", "note_id", "written_at", "current"),
    ev.AppointmentScheduled: ("appointment", "appointment_id", "start", "booked"),
}


def _merge(conn: Connection, item_id: str, status: str | None = None, **data: Any) -> None:
    row = conn.execute(select(items.c.data).where(items.c.item_id == item_id)).first()
    if row is None:
        return
    merged = json.loads(row.data)
    merged.update(data)
    values: dict[str, Any] = {"data": json.dumps(merged, sort_keys=True)}
    if status is not None:
        values["status"] = status
    conn.execute(update(items).where(items.c.item_id == item_id).values(**values))


@singledispatch
def apply(event: ev.DomainEvent, conn: Connection, record: RecordedEvent) -> None:
    spec = CREATES.get(type(event))
    if spec is None:
        return
    kind, id_field, time_field, status = spec
    payload = event.to_payload()
    conn.execute(
        items.insert().values(
            item_id=payload[id_field],
            patient_id=patient_of(record),
            kind=kind,
            status=status,
            entered_in_error=False,
            data=json.dumps(payload, sort_keys=True),
            clinical_time=payload[time_field],
            recorded_at=record.metadata.recorded_at,
            recorded_by=record.metadata.user,
            position=record.position,
        )
    )


@apply.register
def _(event: ev.EncounterFinished, conn: Connection, record: RecordedEvent) -> None:
    _merge(conn, event.encounter_id, "finished", finished_at=event.finished_at)


@apply.register
def _(event: ev.DiagnosisResolved, conn: Connection, record: RecordedEvent) -> None:
    _merge(conn, event.diagnosis_id, "resolved", resolved_at=event.resolved_at)


@apply.register
def _(event: ev.AllergyStatusChanged, conn: Connection, record: RecordedEvent) -> None:
    _merge(conn, event.allergy_id, event.status)


@apply.register
def _(event: ev.MedicationDiscontinued, conn: Connection, record: RecordedEvent) -> None:
    _merge(
        conn,
        event.prescription_id,
        "stopped",
        discontinued_at=event.discontinued_at,
        discontinue_reason=event.reason,
    )


@apply.register
def _(event: ev.AppointmentRescheduled, conn: Connection, record: RecordedEvent) -> None:
    _merge(conn, event.appointment_id, None, start=event.start, end=event.end)
    conn.execute(
        update(items)
        .where(items.c.item_id == event.appointment_id)
        .values(clinical_time=event.start)
    )


@apply.register
def _(event: ev.AppointmentCancelled, conn: Connection, record: RecordedEvent) -> None:
    _merge(conn, event.appointment_id, "cancelled", cancel_reason=event.reason)


@apply.register
def _(event: ev.AppointmentAttended, conn: Connection, record: RecordedEvent) -> None:
    _merge(conn, event.appointment_id, "fulfilled")


@apply.register
def _(event: ev.AppointmentMissed, conn: Connection, record: RecordedEvent) -> None:
    _merge(conn, event.appointment_id, "noshow")


@apply.register
def _(event: ev.EnteredInError, conn: Connection, record: RecordedEvent) -> None:
    _merge(conn, event.item_id, None, entered_in_error_reason=event.reason)
    conn.execute(
        update(items).where(items.c.item_id == event.item_id).values(entered_in_error=True)
    )


TIME_FIELD = {kind: time for kind, _, time, _ in CREATES.values()}


@apply.register
def _(event: ev.ItemVersionReceived, conn: Connection, record: RecordedEvent) -> None:
    values = {
        "patient_id": patient_of(record),
        "kind": event.item_kind,
        "status": event.status,
        "entered_in_error": event.entered_in_error,
        "data": json.dumps(event.data, sort_keys=True),
        "clinical_time": str(
            event.data.get(TIME_FIELD.get(event.item_kind, "")) or record.metadata.occurred_at
        ),
    }
    if conn.execute(select(items.c.item_id).where(items.c.item_id == event.item_id)).first():
        conn.execute(update(items).where(items.c.item_id == event.item_id).values(**values))
    else:
        conn.execute(
            items.insert().values(
                item_id=event.item_id,
                recorded_at=record.metadata.recorded_at,
                recorded_by=record.metadata.user,
                position=record.position,
                **values,
            )
        )


def for_patient(
    conn: Connection, patient_id: str, kind: str | None = None, active_only: bool = False
) -> list[dict[str, Any]]:
    query = select(items).where(items.c.patient_id == patient_id)
    if kind is not None:
        query = query.where(items.c.kind == kind)
    query = query.order_by(in_time_order(items.c.clinical_time), items.c.position)
    result = []
    for row in conn.execute(query):
        if active_only and (row.entered_in_error or row.status not in ACTIVE_STATUSES[row.kind]):
            continue
        result.append({**row._asdict(), "data": json.loads(row.data)})
    return result


def latest_vitals(conn: Connection, patient_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(items)
        .where(
            items.c.patient_id == patient_id,
            items.c.kind == "vitals",
            items.c.entered_in_error.is_(False),
        )
        .order_by(in_time_order(items.c.clinical_time).desc(), items.c.position.desc())
        .limit(1)
    ).first()
    return None if row is None else {**row._asdict(), "data": json.loads(row.data)}


def exists(conn: Connection, item_id: str) -> bool:
    """Whether any chart already has an item with this id."""
    found = conn.execute(select(items.c.item_id).where(items.c.item_id == item_id)).first()
    return found is not None
