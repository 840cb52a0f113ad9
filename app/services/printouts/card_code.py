"""What a patient card carries to find its chart again: the QR payload and code, and the short
number (app/domain/card_number.py).

The QR code holds the patient's FieldChart id (the business identifier every copy of the
patient carries, here and on the central server): a USB scanner types it into the patient
search, which finds exactly that patient. A full QR code, not Micro QR (few scanners read it),
error correction level M (a worn card still reads).
"""

from __future__ import annotations

import segno

from app.domain.card_number import (
    luhn_digit,
    parse_short_number,
    short_body,
    short_digits,
    short_number,
)

__all__ = [
    "luhn_digit",
    "parse_short_number",
    "qr_matrix",
    "qr_payload",
    "short_body",
    "short_digits",
    "short_number",
]


def qr_payload(patient_id: str) -> str:
    """What the card's QR code holds (and a scanner types): the patient id itself."""
    return patient_id


def qr_matrix(payload: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code's modules (True = dark), row by row, without the quiet zone."""
    code = segno.make_qr(payload, error="m", boost_error=False)
    return tuple(tuple(bool(v) for v in row) for row in code.matrix)
