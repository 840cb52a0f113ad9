"""Removing patients' rows from every read model, when their events leave the log (a purge).

Afterwards the read models equal a rebuild from the purged log: every row a patient's stream
produced goes (by patient for the tables keyed by patient, by log position for the audit
entries); rows other streams wrote about the patient (a ChartViewed in the device's audit
stream) stay in both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Table

from app.projections import (
    audit_log,
    chart_items,
    duplicate_keys,
    patient_index,
    schedule,
    timeline,
    vitals_series,
)

CHUNK = 500  # patients per statement (SQLite's parameter limit is far above)
BY_PATIENT: tuple[Table, ...] = (
    patient_index.patients,
    patient_index.name_tokens,
    patient_index.identifiers,
    duplicate_keys.duplicate_keys,
    chart_items.items,
    timeline.entries,
    vitals_series.points,
    schedule.appointments,
)


def forget_patients(
    conn: Connection, patient_ids: Iterable[str], positions: Sequence[tuple[int, int]]
) -> None:
    """Delete what these patients' streams put in the read models; `positions` are the
    removed events' log positions as inclusive ranges."""
    ids = list(patient_ids)
    for start in range(0, len(ids), CHUNK):
        # One statement per table and chunk: the name-token, identifier and schedule tables
        # are not keyed by patient first, so each statement is one scan of the table.
        chunk = tuple(ids[start : start + CHUNK])
        marks = ", ".join("?" * len(chunk))
        for table in BY_PATIENT:
            conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE patient_id IN ({marks})", chunk)
    if positions:
        conn.exec_driver_sql(
            f"DELETE FROM {audit_log.entries.name} WHERE position BETWEEN ? AND ?",
            list(positions),
        )
