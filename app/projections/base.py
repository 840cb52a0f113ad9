"""What every projection shares: one MetaData for the read-model tables and the handler shape.

Read models are disposable: they are rebuilt from the event log whenever their schema version
changes, and each handler is a pure function of the event (no clock), so a rebuild gives
byte-identical tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Connection, MetaData, func

from app.domain.events import DomainEvent
from app.store.event_log import RecordedEvent

metadata = MetaData()

Handler = Callable[[Connection, RecordedEvent, DomainEvent], None]


def patient_of(record: RecordedEvent) -> str | None:
    prefix = "patient-"
    return record.stream_id[len(prefix) :] if record.stream_id.startswith(prefix) else None


def in_time_order(column: ColumnElement[str]) -> ColumnElement[str]:
    """Sort key for ISO 8601 instants written with any UTC offset.

    Plain string order puts 10:00+03:00 (07:00 UTC) after 08:00+00:00; SQLite's strftime
    normalises to UTC (milliseconds kept), falling back to the text if it cannot parse it."""
    return func.coalesce(func.strftime("%Y-%m-%d %H:%M:%f", column), column)


def compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
