"""Finding a patient from their card: what a USB scanner types from the QR code (the patient
id) or the short number a person reads off the card (app/domain/card_number.py).

The short number is a hash of the patient id, not stored anywhere: a typed number (with a right
check digit) is compared with every patient's on this device (20,000 ids hash in about 90 ms on
a test machine, off the GUI thread), so nothing new is kept on disk and no table changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from app.domain.card_number import parse_short_number, short_body
from app.projections import patient_index


def patients_of_card(conn: Connection, text: str) -> list[str]:
    """The ids of the patients a scanned or typed card identifies (usually one; none when the
    text is neither a patient id here nor a short number with a right check digit)."""
    typed = text.strip()
    if not typed:
        return []
    table = patient_index.patients
    exact = list(
        conn.execute(select(table.c.patient_id).where(table.c.patient_id == typed)).scalars()
    )
    if exact:
        return exact
    digits = parse_short_number(typed)
    if digits is None:
        return []
    body = int(digits[:-1])
    return sorted(
        pid for pid in conn.execute(select(table.c.patient_id)).scalars() if short_body(pid) == body
    )


def card_rows(conn: Connection, text: str, leave_out: set[str]) -> list[Any]:
    """The patient index rows of `patients_of_card`, but for the ids in `leave_out`."""
    rows = (patient_index.get(conn, pid) for pid in patients_of_card(conn, text))
    return [r for r in rows if r is not None and r.patient_id not in leave_out]
