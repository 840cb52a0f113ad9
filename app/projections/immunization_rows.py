"""Reads over the patient index and chart items for the clinic-wide immunization lists: the
children the schedule still tracks, and their immunizations, without folding any chart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from app.projections.chart_items import items
from app.projections.patient_index import patients
from app.store.database import fetch_rows

# SQLite's default limit of bound parameters is 999 (older builds); stay well below it.
_CHUNK = 500

_PEOPLE_SQL = (
    f"SELECT patient_id, given, family, birth_date, sex FROM {patients.name}"
    " WHERE birth_date >= ? ORDER BY birth_date DESC, patient_id"
)


def born_since(conn: Connection, earliest_birth: str) -> list[tuple[str, str, str, str, str]]:
    """(patient id, given, family, birth date, sex) of everyone born on or after the day
    (the birth-date index makes this a range read)."""
    rows = fetch_rows(conn, _PEOPLE_SQL, (earliest_birth,))
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


# What the schedule needs of an immunization's data, read by SQLite rather than by decoding
# each item's whole JSON in Python (a third of the list's time with 20,000 patients).
SCHEDULE_KEYS = ("vaccine_id", "cvx", "given_on", "given_at")


def immunizations_of(
    conn: Connection, patient_ids: Sequence[str]
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """patient id -> [(item id, {SCHEDULE_KEYS})] of the immunizations not entered in error
    (each patient's rows are one range of the items' primary key)."""
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    columns = ", ".join(f"json_extract(data, '$.{key}')" for key in SCHEDULE_KEYS)
    for start in range(0, len(patient_ids), _CHUNK):
        chunk = list(patient_ids[start : start + _CHUNK])
        marks = ",".join("?" * len(chunk))
        sql = (
            f"SELECT patient_id, item_id, {columns} FROM {items.name}"
            f" WHERE patient_id IN ({marks}) AND kind = 'immunization' AND NOT entered_in_error"
        )
        for patient_id, item_id, *values in fetch_rows(conn, sql, chunk):
            data = dict(zip(SCHEDULE_KEYS, values, strict=True))
            found.setdefault(patient_id, []).append((item_id, data))
    return found
