"""What every projection shares: one MetaData for the read-model tables and the handler shape.

Read models are disposable: they are rebuilt from the event log whenever their schema version
changes, and each handler is a pure function of the event (no clock), so a rebuild gives
byte-identical tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, MetaData

from app.domain.events import DomainEvent
from app.store.event_log import RecordedEvent

metadata = MetaData()

Handler = Callable[[Connection, RecordedEvent, DomainEvent], None]


def patient_of(record: RecordedEvent) -> str | None:
    prefix = "patient-"
    return record.stream_id[len(prefix) :] if record.stream_id.startswith(prefix) else None


def compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
