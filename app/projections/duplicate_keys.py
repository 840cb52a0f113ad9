"""Duplicate-check blocking keys: for each patient, the keys the duplicate check at registration
looks them up by (app/domain/duplicates.py `blocking_keys`: name sound keys, phone tail,
identifiers, birth date), so a check scores the few patients sharing a key with the draft
instead of every patient on the device.

Each key row carries the patient's birth date: most patients sharing a common name's sound key
("md" of Mohamed, Mamadou, Muhammad) can be dropped on it before their rows are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import singledispatch
from typing import Any

from sqlalchemy import Column, Connection, String, Table, Text, select

from app.domain import events as ev
from app.domain.duplicates import Person, blocking_keys, worth_scoring
from app.projections import patient_index
from app.projections.base import Writes, metadata, patient_of
from app.store.event_log import RecordedEvent

duplicate_keys = Table(
    "dup_blocking_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("patient_id", String, primary_key=True),
    Column("birth_date", String, nullable=False),
)

_CHUNK = 500  # keys or ids per statement


def _identifiers(found: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(i["system"]), str(i["value"])) for i in found)


def _rows(pid: str, person: Person) -> list[dict[str, Any]]:
    return [
        {"key": k, "patient_id": pid, "birth_date": person.birth_date}
        for k in sorted(blocking_keys(person))
    ]


@singledispatch
def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    """Events that change no demographics."""


@apply.register
def _(event: ev.PatientRegistered, w: Writes, record: RecordedEvent) -> None:
    pid = patient_of(record) or event.patient_id
    person = Person(
        event.given,
        event.family,
        event.birth_date,
        event.sex,
        event.phone,
        _identifiers(event.identifiers),
    )
    w.insert_many(duplicate_keys, _rows(pid, person))


@apply.register
def _(event: ev.DemographicsUpdated, w: Writes, record: RecordedEvent) -> None:
    # The patient index (applied before this one) holds the demographics after the change.
    pid = patient_of(record) or ""
    columns = ("given", "family", "birth_date", "sex", "phone", "identifiers")
    row = w.get(patient_index.patients, {"patient_id": pid}, columns)
    if row is None:
        return
    person = Person(row[0], row[1], row[2], row[3], row[4], _identifiers(json.loads(row[5])))
    w.replace(duplicate_keys, {"patient_id": pid}, _rows(pid, person))


@apply.register
def _(event: ev.PatientVersionReceived, w: Writes, record: RecordedEvent) -> None:
    pid = patient_of(record) or ""
    d = event.demographics
    person = Person(
        d.get("given") or "",
        d.get("family") or "",
        d.get("birth_date") or "",
        d.get("sex") or "",
        d.get("phone"),
        _identifiers(event.identifiers),
    )
    w.replace(duplicate_keys, {"patient_id": pid}, _rows(pid, person))


def blocked_patients(conn: Connection, draft: Person) -> list[Any]:
    """The patient-index rows of patients sharing a blocking key with `draft` that can be
    shown at all (a name-key match also needs the birth dates alike)."""
    keys = sorted(blocking_keys(draft))
    ids: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = conn.execute(
            select(
                duplicate_keys.c.key, duplicate_keys.c.patient_id, duplicate_keys.c.birth_date
            ).where(duplicate_keys.c.key.in_(chunk))
        )
        for key, pid, birth in rows:
            if not key.startswith("n:") or worth_scoring(draft.birth_date, birth):
                ids.add(pid)
    found: list[Any] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        chunk_ids = ordered[start : start + _CHUNK]
        found += conn.execute(
            select(patient_index.patients).where(patient_index.patients.c.patient_id.in_(chunk_ids))
        ).all()
    return found


def person_of(row: Any) -> Person:
    """A patient-index row as the duplicate check compares it."""
    return Person(
        given=row.given,
        family=row.family,
        birth_date=row.birth_date,
        sex=row.sex,
        phone=row.phone,
        identifiers=_identifiers(json.loads(row.identifiers)),
        patient_id=row.patient_id,
    )
