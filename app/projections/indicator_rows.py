"""Reads over the patient index, chart items and schedule for the monthly indicators
(app/services/indicators): one scan of each table with only the columns the indicators need,
so a facility of 20,000 patients is read once for all of them and for twelve months of plots.
No chart is folded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection

from app.projections.chart_items import items
from app.projections.patient_index import patients
from app.projections.schedule import appointments
from app.store.database import fetch_rows
from app.store.outbox import NEEDS_ATTENTION, PENDING
from app.store.schema import outbox


class ItemFact(NamedTuple):
    """What an indicator needs of one chart item not entered in error. `day` is the local
    calendar day of its clinical time (the first ten characters, as it was written with its
    own UTC offset). The query's rows come in this order, so a plain row reads as one (no
    object per row: a facility of 20,000 patients has half a million of them)."""

    patient_id: str
    kind: str  # encounter | vitals | diagnosis | immunization
    status: str
    day: str
    time: str  # the whole clinical time, to order a patient's readings within a day
    code: str | None = None  # diagnosis: its ICD-10 code
    systolic: float | None = None  # vitals
    diastolic: float | None = None
    vaccine_id: str | None = None  # immunization
    cvx: str | None = None
    given_on: str | None = None


_ITEMS_SQL = (
    "SELECT patient_id, kind, status, substr(clinical_time, 1, 10), clinical_time,"
    " CASE kind WHEN 'diagnosis' THEN json_extract(data, '$.code') END,"
    " CASE kind WHEN 'vitals' THEN json_extract(data, '$.measurements.systolic') END,"
    " CASE kind WHEN 'vitals' THEN json_extract(data, '$.measurements.diastolic') END,"
    " CASE kind WHEN 'immunization' THEN json_extract(data, '$.vaccine_id') END,"
    " CASE kind WHEN 'immunization' THEN json_extract(data, '$.cvx') END,"
    " CASE kind WHEN 'immunization' THEN json_extract(data, '$.given_on') END"
    f" FROM {items.name}"
    " WHERE kind IN ('encounter', 'vitals', 'diagnosis', 'immunization')"
    " AND NOT entered_in_error"
)


def item_facts(conn: Connection) -> Sequence[tuple[Any, ...]]:
    """Encounters, vitals, diagnoses and immunizations of every chart: rows in ItemFact's
    field order (the JSON fields only where the kind has them)."""
    return fetch_rows(conn, _ITEMS_SQL, ())


_PATIENTS_SQL = (
    f"SELECT patient_id, birth_date, substr(registered_at, 1, 10) FROM {patients.name}"
    " ORDER BY patient_id"
)


def patient_facts(conn: Connection) -> list[tuple[str, str, str]]:
    """(patient id, birth date, day registered on this device) of every patient."""
    return [(r[0], r[1], r[2]) for r in fetch_rows(conn, _PATIENTS_SQL, ())]


_APPOINTMENTS_SQL = (
    f"SELECT appointment_id, patient_id, day, status FROM {appointments.name}"
    " ORDER BY appointment_id"
)


def appointment_facts(conn: Connection) -> list[tuple[str, str, str, str]]:
    """(appointment id, patient id, local day, status) of every appointment."""
    return [(r[0], r[1], r[2], r[3]) for r in fetch_rows(conn, _APPOINTMENTS_SQL, ())]


_UNSYNCED_SQL = (
    f"SELECT substr(recorded_at, 1, 7), count(*) FROM {outbox.name}"
    " WHERE status IN (?, ?) GROUP BY 1"
)


def unsynced_by_month(conn: Connection) -> dict[str, int]:
    """ "2026-11" -> commands recorded in that month that the server has not accepted yet
    (pending or needing attention). One scan of the outbox serves any number of months."""
    rows = fetch_rows(conn, _UNSYNCED_SQL, (str(PENDING), str(NEEDS_ATTENTION)))
    return {str(month): int(count) for month, count in rows}
