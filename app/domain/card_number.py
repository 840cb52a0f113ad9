"""A patient card's short number: what a person reads off the card (or types) when its QR code
will not scan. Ten digits derived from the patient id and a Luhn check digit, so a mistyped
digit is caught instead of opening someone else's chart.

Ten digits leave about one chance in 50 that two of 20,000 patients share a number; the search
then lists both and opens neither (it opens a chart only when exactly one patient matches).
Pure: the number is a hash of the id, nothing is stored.
"""

from __future__ import annotations

import hashlib
import re

DIGITS = 10  # before the check digit
MODULUS = 10_000_000_000  # 10**DIGITS
#: "4821 7730 15-6" or the same digits typed without spaces/dashes.
SHORT_NUMBER = re.compile(r"^\s*(\d{4})[\s-]?(\d{4})[\s-]?(\d{2})[\s-]?(\d)\s*$")


def luhn_digit(digits: str) -> str:
    """The Luhn check digit of `digits` (catches every single-digit typo and most swaps)."""
    total = 0
    for n, ch in enumerate(reversed(digits)):
        d = int(ch)
        if n % 2 == 0:  # doubled: these sit right before the check digit
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def short_body(patient_id: str) -> int:
    """The ten digits of a patient's short number, as a number (before the check digit)."""
    digest = hashlib.sha256(patient_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % MODULUS


def short_digits(patient_id: str) -> str:
    """The eleven digits of a patient's short number (ten from the id's hash, one check)."""
    body = str(short_body(patient_id)).zfill(DIGITS)
    return body + luhn_digit(body)


def short_number(patient_id: str) -> str:
    """The short number as printed: "4821 7730 15-6"."""
    d = short_digits(patient_id)
    return f"{d[:4]} {d[4:8]} {d[8:10]}-{d[10]}"


def parse_short_number(text: str) -> str | None:
    """The eleven digits of a typed short number whose check digit is right, else None."""
    m = SHORT_NUMBER.match(text)
    if m is None:
        return None
    digits = "".join(m.groups())
    return digits if luhn_digit(digits[:-1]) == digits[-1] else None
