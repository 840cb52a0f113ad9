"""Audit: who did what to which chart and who viewed which chart, when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Index, Integer, String, Table, select

from app.domain import events as ev
from app.projections.base import READ_ONLY, Writes, metadata, patient_of
from app.store.event_log import RecordedEvent

entries = Table(
    "au_entries",
    metadata,
    Column("position", Integer, primary_key=True),
    Column("at", String, nullable=False),
    Column("user", String, nullable=False),
    Column("role", String, nullable=False),
    Column("device_id", String, nullable=False),
    Column("action", String, nullable=False),
    Column("patient_id", String),
    Column("command_id", String, nullable=False),
    Index("ix_au_patient", "patient_id", "position", info=READ_ONLY),
)


def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    patient_id = event.patient_id if isinstance(event, ev.ChartViewed) else patient_of(record)
    meta = record.metadata
    w.insert(
        entries,
        {
            "position": record.position,
            "at": meta.recorded_at,
            "user": meta.user,
            "role": meta.role,
            "device_id": meta.device_id,
            "action": record.type,
            "patient_id": patient_id,
            "command_id": meta.command_id,
        },
    )


def recent(
    conn: Connection, limit: int = 200, patient_id: str | None = None, user: str | None = None
) -> list[Any]:
    query = select(entries).order_by(entries.c.position.desc()).limit(limit)
    if patient_id is not None:
        query = query.where(entries.c.patient_id == patient_id)
    if user is not None:
        query = query.where(entries.c.user == user)
    return list(conn.execute(query))
