"""Recorded events built by hand, so read models can be tested as pure functions of events
(no vault, no crypto): `replay_in_memory(records)` gives the tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from app.domain import events as ev
from app.projections import patient_index
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


def search(history: History, text: str) -> list[str]:
    """The patient ids the patient index finds for `text`, in its order."""
    rows = query(history.records, lambda conn: patient_index.search(conn, text))
    return [r.patient_id for r in rows]


def penicillin_allergy(
    allergy_id: str, recorded_at: str, substance: str = "Penicillin", **more: Any
) -> ev.AllergyRecorded:
    """A high-criticality penicillin allergy as recorded; `more` adds the optional fields."""
    return ev.AllergyRecorded(
        allergy_id=allergy_id,
        substance=substance,
        substance_id="penicillin",
        category="medication",
        criticality="high",
        recorded_at=recorded_at,
        **more,
    )


def amoxicillin_prescribed(
    prescription_id: str, prescribed_at: str, **more: Any
) -> ev.MedicationPrescribed:
    """Amoxicillin 500 mg by mouth three times a day as prescribed; `more` adds the optional
    fields."""
    return ev.MedicationPrescribed(
        prescription_id=prescription_id,
        drug="Amoxicillin",
        drug_id="amoxicillin",
        dose=500,
        dose_unit="mg",
        route="oral",
        frequency="TID",
        prescribed_at=prescribed_at,
        **more,
    )
