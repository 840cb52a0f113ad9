"""Vitals series: one row per measurement, for plots (one series per vital sign)."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from sqlalchemy import Column, Connection, Float, Index, String, Table, delete, insert, select

from app.domain import events as ev
from app.projections.base import in_time_order, metadata, patient_of
from app.store.event_log import RecordedEvent

points = Table(
    "vs_points",
    metadata,
    Column("vitals_id", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("patient_id", String, nullable=False),
    Column("taken_at", String, nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_vs_points_patient", "patient_id", "key", "taken_at"),
)


@singledispatch
def apply(event: ev.DomainEvent, conn: Connection, record: RecordedEvent) -> None:
    """Events that do not touch the series."""


@apply.register
def _(event: ev.VitalsRecorded, conn: Connection, record: RecordedEvent) -> None:
    values = dict(event.measurements)
    if event.bmi is not None:
        values["bmi"] = event.bmi
    conn.execute(
        insert(points),
        [
            {
                "vitals_id": event.vitals_id,
                "key": k,
                "patient_id": patient_of(record),
                "taken_at": event.taken_at,
                "value": v,
            }
            for k, v in sorted(values.items())
        ],
    )


@apply.register
def _(event: ev.EnteredInError, conn: Connection, record: RecordedEvent) -> None:
    if event.item_kind == "vitals":
        conn.execute(delete(points).where(points.c.vitals_id == event.item_id))


@apply.register
def _(event: ev.ItemVersionReceived, conn: Connection, record: RecordedEvent) -> None:
    if event.item_kind != "vitals":
        return
    conn.execute(delete(points).where(points.c.vitals_id == event.item_id))
    if event.entered_in_error:
        return
    values = dict(event.data.get("measurements") or {})
    if event.data.get("bmi") is not None:
        values["bmi"] = event.data["bmi"]
    if values:
        conn.execute(
            insert(points),
            [
                {
                    "vitals_id": event.item_id,
                    "key": k,
                    "patient_id": patient_of(record),
                    "taken_at": event.data.get("taken_at") or record.metadata.occurred_at,
                    "value": float(v),
                }
                for k, v in sorted(values.items())
            ],
        )


def for_patient(conn: Connection, patient_id: str) -> dict[str, list[tuple[str, float]]]:
    series: dict[str, list[tuple[str, float]]] = {}
    rows: Any = conn.execute(
        select(points.c.key, points.c.taken_at, points.c.value)
        .where(points.c.patient_id == patient_id)
        .order_by(points.c.key, in_time_order(points.c.taken_at), points.c.vitals_id)
    )
    for key, taken_at, value in rows:
        series.setdefault(key, []).append((taken_at, value))
    return series
