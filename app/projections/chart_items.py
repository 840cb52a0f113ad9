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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    select,
)

from app.domain import events as ev
from app.domain.chart import ACTIVE_STATUSES, received_data
from app.domain.item_status import TIME_FIELD, changed_by, created_by
from app.projections.base import (
    Writes,
    fields_of,
    in_time_order,
    in_time_order_sql,
    metadata,
    patient_of,
)
from app.store.database import fetch_rows
from app.store.event_log import RecordedEvent

items = Table(
    "ci_items",
    metadata,
    Column("item_id", String, nullable=False),
    Column("patient_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("status", String, nullable=False),
    Column("entered_in_error", Boolean, nullable=False, default=False),
    Column("data", Text, nullable=False),
    Column("clinical_time", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("recorded_by", String, nullable=False),
    Column("position", Integer, nullable=False),
    # Clustered by patient (WITHOUT ROWID, patient first): a chart's items share pages, so
    # opening a 1,000-item chart decrypts tens of pages instead of one per item.
    PrimaryKeyConstraint("patient_id", "item_id"),
    Index("ix_ci_items_item", "item_id", unique=True),
    sqlite_with_rowid=False,
)


@singledispatch
def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    """Create or change an item as app.domain.item_status says (the domain fold reads the
    same table, so this read model and the chart commands decide on agree)."""
    created = created_by(event, fields_of(event))
    if created is not None:
        w.insert(
            items,
            {
                "item_id": created.item_id,
                "patient_id": patient_of(record),
                "kind": created.kind,
                "status": created.status,
                "entered_in_error": False,
                "data": json.dumps(created.data, sort_keys=True),
                "clinical_time": created.clinical_time,
                "recorded_at": record.metadata.recorded_at,
                "recorded_by": record.metadata.user,
                "position": record.position,
            },
            key=created.item_id,
        )
        return
    change = changed_by(event)
    if change is None:
        return
    values: dict[str, Any] = {}
    if change.status is not None:
        values["status"] = change.status
    if change.clinical_time is not None:
        values["clinical_time"] = change.clinical_time
    if change.entered_in_error:
        values["entered_in_error"] = True

    def merged(data: str) -> dict[str, Any]:
        """The change's data merged into the item's JSON, and its other columns."""
        item = json.loads(data)
        item.update(change.data)
        return {"data": json.dumps(item, sort_keys=True), **values}

    w.modify(items, "item_id", change.item_id, ("data",), merged)


@apply.register
def _(event: ev.ItemVersionReceived, w: Writes, record: RecordedEvent) -> None:
    key = {"item_id": event.item_id}
    found = w.get(items, key, ("data",))
    data = received_data(json.loads(found[0]) if found else None, event)
    values = {
        "patient_id": patient_of(record),
        "kind": event.item_kind,
        "status": event.status,
        "entered_in_error": event.entered_in_error,
        "data": json.dumps(data, sort_keys=True),
        "clinical_time": str(
            data.get(TIME_FIELD.get(event.item_kind, "")) or record.metadata.occurred_at
        ),
    }
    new = {
        "recorded_at": record.metadata.recorded_at,
        "recorded_by": record.metadata.user,
        "position": record.position,
    }
    w.upsert(items, key, values, new)


def for_patient(
    conn: Connection, patient_id: str, kind: str | None = None, active_only: bool = False
) -> list[dict[str, Any]]:
    query = select(items).where(items.c.patient_id == patient_id)
    if kind is not None:
        query = query.where(items.c.kind == kind)
    query = query.order_by(in_time_order(items.c.clinical_time), items.c.position)
    found = conn.execute(query)
    keys = list(found.keys())
    result = []
    # fetchall and zip: iterating the result fetches row by row, and Row._asdict per row
    # cost a third of opening a 1,000-item chart.
    for row in found.all():
        item = dict(zip(keys, row, strict=True))
        if active_only and (
            item["entered_in_error"] or item["status"] not in ACTIVE_STATUSES[item["kind"]]
        ):
            continue
        item["data"] = json.loads(item["data"])
        result.append(item)
    return result


_CHART_SQL = (
    "SELECT item_id, kind, status, entered_in_error, clinical_time, recorded_at, recorded_by,"
    f" data FROM {items.name} WHERE patient_id = ?"
    f" ORDER BY {in_time_order_sql('clinical_time')}, position"
)


def for_chart(conn: Connection, patient_id: str) -> list[tuple[Any, ...]]:
    """for_patient's items as plain tuples (item_id, kind, status, entered_in_error,
    clinical_time, recorded_at, recorded_by, data as decoded JSON): what a chart shows, at a
    fraction of the cost of dicts when a chart holds a thousand items."""
    rows = fetch_rows(conn, _CHART_SQL, (patient_id,))
    if not rows:
        return []
    # One JSON document for all the items: a thousand json.loads calls cost more in call
    # overhead than the parsing itself. Each `data` is a JSON object written by json.dumps.
    datas = json.loads("[" + ",".join(row[7] for row in rows) + "]")
    return [(*row[:7], data) for row, data in zip(rows, datas, strict=True)]


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


def has_open_encounter(conn: Connection, patient_id: str) -> bool:
    """Whether an encounter of the patient is still in progress (a visit not over)."""
    found = conn.execute(
        select(items.c.item_id).where(
            items.c.patient_id == patient_id,
            items.c.kind == "encounter",
            items.c.status == "in-progress",
            items.c.entered_in_error.is_(False),
        )
    ).first()
    return found is not None
