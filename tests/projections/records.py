"""Recorded events built by hand, so read models can be tested as pure functions of events
(no vault, no crypto): `replay_in_memory(records)` gives the tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from app.domain import events as ev
from app.projections.runner import replay_in_memory
from app.store.event_log import EventMetadata, RecordedEvent


class History:
    """Appends events to patient streams with consecutive positions."""

    def __init__(self) -> None:
        self.records: list[RecordedEvent] = []
        self._versions: dict[str, int] = {}

    def add(
        self,
        patient_id: str,
        event: ev.DomainEvent,
        *,
        user: str = "doc",
        role: str = "clinician",
        at: str = "2026-11-21T09:00:00.000+00:00",
        occurred_at: str | None = None,
        stream: str | None = None,
    ) -> RecordedEvent:
        stream_id = stream or ev.stream_of(patient_id)
        version = self._versions.get(stream_id, 0) + 1
        self._versions[stream_id] = version
        record = RecordedEvent(
            position=len(self.records) + 1,
            event_id=f"evt-{len(self.records) + 1}",
            stream_id=stream_id,
            stream_version=version,
            type=type(event).__name__,
            schema_version=event.SCHEMA_VERSION,
            metadata=EventMetadata(
                command_id=f"cmd-{len(self.records) + 1}",
                user=user,
                role=role,
                device_id="device-1",
                recorded_at=at,
                occurred_at=occurred_at or at,
            ),
            payload=event.to_payload(),
        )
        self.records.append(record)
        return record

    def register(self, patient_id: str, given: str, family: str, **extra: Any) -> None:
        fields: dict[str, Any] = {"birth_date": "1980-04-23", "sex": "female", **extra}
        self.add(
            patient_id,
            ev.PatientRegistered(patient_id=patient_id, given=given, family=family, **fields),
            user="desk",
            role="staff",
        )


def query(records: Iterable[RecordedEvent], read: Any) -> Any:
    """Run `read(conn)` against the read models of exactly these records."""
    engine = replay_in_memory(records)
    try:
        conn: Connection
        with engine.connect() as conn:
            return read(conn)
    finally:
        engine.dispose()
