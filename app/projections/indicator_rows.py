"""Reads over the patient index, chart items and schedule for the monthly indicators
(app/services/indicators): one scan of each table with only the columns the indicators need,
so a facility of 20,000 patients is read once for all of them and for twelve months of plots.
No chart is folded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from app.projections.chart_items import items
from app.projections.patient_index import patients
from app.projections.schedule import appointments
from app.store.database import fetch_rows
from app.store.outbox import NEEDS_ATTENTION, PENDING
from app.store.schema import outbox


@dataclass(frozen=True)
class ItemFact:
    """What an indicator needs of one chart item not entered in error. `day` is the local
    calendar day of its clinical time (the first ten characters, as it was written with its
    own UTC offset)."""

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
    " json_extract(data, '$.code'),"
    " json_extract(data, '$.measurements.systolic'),"
    " json_extract(data, '$.measurements.diastolic'),"
    " json_extract(data, '$.vaccine_id'), json_extract(data, '$.cvx'),"
    " json_extract(data, '$.given_on')"
    f" FROM {items.name}"
    " WHERE kind IN ('encounter', 'vitals', 'diagnosis', 'immunization')"
    " AND NOT entered_in_error"
    " ORDER BY patient_id, item_id"
)


def item_facts(conn: Connection) -> list[ItemFact]:
    """Encounters, vitals, diagnoses and immunizations of every chart, in a stable order."""
    return [
        ItemFact(
            patient_id=r[0],
            kind=r[1],
            status=r[2],
            day=r[3],
            time=r[4],
            code=r[5] if isinstance(r[5], str) else None,
            systolic=float(r[6]) if isinstance(r[6], int | float) else None,
            diastolic=float(r[7]) if isinstance(r[7], int | float) else None,
            vaccine_id=r[8] if isinstance(r[8], str) else None,
            cvx=r[9] if isinstance(r[9], str) else None,
            given_on=r[10] if isinstance(r[10], str) else None,
        )
        for r in fetch_rows(conn, _ITEMS_SQL, ())
    ]


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
    f"SELECT count(*) FROM {outbox.name} WHERE status IN (?, ?) AND substr(recorded_at, 1, 10) >= ?"
)


def unsynced_since(conn: Connection, first_day: str) -> int:
    """Commands recorded on or after `first_day` that the server has not accepted yet
    (pending or needing attention)."""
    rows = fetch_rows(conn, _UNSYNCED_SQL, (str(PENDING), str(NEEDS_ATTENTION), first_day))
    return int(rows[0][0])
