"""Audit: who did what to which chart and who viewed which chart, when; and, from the device's
audit stream, admin actions (users, passphrases, settings) and refused unlocks."""

from __future__ import annotations

from collections import Counter
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
    Column("subject", String, nullable=False),
    Column("detail", String, nullable=False),
    Index("ix_au_patient", "patient_id", "position", info=READ_ONLY),
)


def _row(record: RecordedEvent, patient_id: str | None) -> dict[str, Any]:
    """The entry of one recorded event as its metadata says (who, when, where, what)."""
    meta = record.metadata
    return {
        "position": record.position,
        "at": meta.recorded_at,
        "user": meta.user,
        "role": meta.role,
        "device_id": meta.device_id,
        "action": record.type,
        "patient_id": patient_id,
        "command_id": meta.command_id,
        "subject": "",
        "detail": "",
    }


def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    meta = record.metadata
    row = _row(record, patient_of(record))
    if isinstance(event, ev.ChartViewed):
        row["patient_id"] = event.patient_id
    elif isinstance(event, ev.ChartPrinted):
        row.update(patient_id=event.patient_id, detail=event.document)
        if event.pending_changes:
            row["detail"] += f" ({event.pending_changes} not yet sent)"
    elif isinstance(event, ev.AdminActionRecorded):
        row.update(action=event.action, subject=event.subject, detail=event.detail)
        row["at"] = event.occurred_at or meta.recorded_at
    elif isinstance(event, ev.UnlockFailed):
        row.update(user=event.user, detail=event.reason, at=event.failed_at or meta.recorded_at)
    w.insert(entries, row)


def apply_purge(w: Writes, record: RecordedEvent) -> None:
    """Patients removed from the device (app/store/purge.py): how many and why, no patient
    data (their ids stay in the purge event itself)."""
    reasons = Counter(str(p.get("reason", "")) for p in record.payload.get("patients", []))
    row = _row(record, None)
    row["subject"] = f"{sum(reasons.values())} patient(s)"
    row["detail"] = "; ".join(f"{reason} ({n})" for reason, n in sorted(reasons.items()))
    w.insert(entries, row)


def recent(
    conn: Connection, limit: int = 200, patient_id: str | None = None, user: str | None = None
) -> list[Any]:
    query = select(entries).order_by(entries.c.position.desc()).limit(limit)
    if patient_id is not None:
        query = query.where(entries.c.patient_id == patient_id)
    if user is not None:
        query = query.where(entries.c.user == user)
    return list(conn.execute(query))
