"""Vitals series: one row per measurement, for plots (one series per vital sign)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import singledispatch
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
)

from app.domain import events as ev
from app.projections.base import Writes, in_time_order_sql, metadata, patient_of
from app.store.database import fetch_rows
from app.store.event_log import RecordedEvent

points = Table(
    "vs_points",
    metadata,
    Column("vitals_id", String, nullable=False),
    Column("key", String, nullable=False),
    Column("patient_id", String, nullable=False),
    Column("taken_at", String, nullable=False),
    Column("value", Float, nullable=False),
    # Clustered by patient and series (WITHOUT ROWID): a chart's points share pages.
    PrimaryKeyConstraint("patient_id", "key", "vitals_id"),
    Index("ix_vs_points_vitals", "vitals_id", "key", unique=True),
    sqlite_with_rowid=False,
)


@singledispatch
def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    """Events that do not touch the series."""


@apply.register
def _(event: ev.VitalsRecorded, w: Writes, record: RecordedEvent) -> None:
    values = dict(event.measurements)
    if event.bmi is not None:
        values["bmi"] = event.bmi
    w.insert_many(points, _rows(event.vitals_id, patient_of(record), event.taken_at, values))


@apply.register
def _(event: ev.EnteredInError, w: Writes, record: RecordedEvent) -> None:
    if event.item_kind == "vitals":
        w.delete(points, {"vitals_id": event.item_id})


@apply.register
def _(event: ev.ItemVersionReceived, w: Writes, record: RecordedEvent) -> None:
    if event.item_kind != "vitals":
        return
    values = dict(event.data.get("measurements") or {})
    if event.entered_in_error:
        w.delete(points, {"vitals_id": event.item_id})
        return
    if event.data.get("bmi") is not None:
        values["bmi"] = event.data["bmi"]
    # A vitals set arrives one Observation (one sign) at a time: replace only those signs.
    for key in values:
        w.delete(points, {"vitals_id": event.item_id, "key": key})
    taken_at = event.data.get("taken_at") or record.metadata.occurred_at
    w.insert_many(points, _rows(event.item_id, patient_of(record), taken_at, values))


def _rows(
    vitals_id: str, patient_id: str | None, taken_at: str, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One point per sign, in key order."""
    return [
        {
            "vitals_id": vitals_id,
            "key": key,
            "patient_id": patient_id,
            "taken_at": taken_at,
            "value": float(value),
        }
        for key, value in sorted(values.items())
    ]


_SERIES_SQL = (
    f"SELECT key, taken_at, value FROM {points.name} WHERE patient_id = ?"
    f" ORDER BY key, {in_time_order_sql('taken_at')}, vitals_id"
)


def for_patient(conn: Connection, patient_id: str) -> dict[str, list[tuple[str, float]]]:
    series: dict[str, list[tuple[str, float]]] = {}
    for key, taken_at, value in fetch_rows(conn, _SERIES_SQL, (patient_id,)):
        series.setdefault(key, []).append((taken_at, value))
    return series
