"""Parsing and checking of the values people type, with messages a clinician understands."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta

from app.domain.errors import ValidationError

# Clocks of offline devices drift; a few minutes ahead is still "now", not the future.
CLOCK_SKEW = timedelta(minutes=5)
MAX_TEXT = 10_000
SEXES = ("female", "male", "other", "unknown")
# Instants outside these years are typing errors (and year 1 or 9999 with an offset cannot
# even be converted to UTC).
FIRST_YEAR, LAST_YEAR = 1900, 2199
# Lone UTF-16 surrogates: Python strings may hold them (JSON "\ud800", badly decoded input),
# but they are not text and cannot be stored or sent as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def text(
    value: str | None, field: str, label: str, *, required: bool = True, max_len: int = 200
) -> str | None:
    """Trimmed text; None/blank is refused when required."""
    if value is None or not str(value).strip():
        if required:
            raise ValidationError(f"{label} is required", field)
        return None
    cleaned = str(value).strip()
    if len(cleaned) > max_len:
        raise ValidationError(f"{label} is too long (at most {max_len} characters)", field)
    if any(ord(c) < 32 and c not in "\n\t" for c in cleaned):
        raise ValidationError(f"{label} contains control characters", field)
    refuse_non_text(cleaned, field, label)
    return cleaned


def refuse_non_text(value: str, field: str, label: str) -> None:
    """Refuse lone surrogates anywhere a string is taken in (ids included)."""
    if _SURROGATE.search(value):
        raise ValidationError(f"{label} contains characters that are not valid text", field)


def required_text(value: str | None, field: str, label: str, *, max_len: int = 200) -> str:
    result = text(value, field, label, max_len=max_len)
    assert result is not None
    return result


def birth_date(value: str | None, field: str, today: date) -> str:
    raw = required_text(value, field, "Birth date")
    try:
        parsed = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError("Birth date must be a date like 1980-04-23", field) from None
    if parsed > today:
        raise ValidationError("Birth date cannot be in the future", field)
    if parsed < date(today.year - 130, 1, 1):
        raise ValidationError("Birth date is more than 130 years ago", field)
    return parsed.isoformat()


def instant(value: str | None, field: str, label: str) -> datetime:
    raw = required_text(value, field, label)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{label} must be a date and time like 2026-11-21T09:30:00+01:00", field
        ) from None
    if parsed.tzinfo is None:
        raise ValidationError(
            f"{label} needs a time zone, e.g. 2026-11-21T09:30:00+01:00 or ...Z", field
        )
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        # Also keeps every later conversion (to UTC, plus a duration) inside datetime's range.
        raise ValidationError(
            f"{label} must be between the years {FIRST_YEAR} and {LAST_YEAR}", field
        )
    return parsed


def past_instant(value: str | None, field: str, label: str, now: datetime) -> str:
    """A clinical time: may be in the past, never in the future. Defaults to now."""
    if value is None or not str(value).strip():
        return iso(now)
    parsed = instant(value, field, label)
    if parsed > now + CLOCK_SKEW:
        raise ValidationError(f"{label} cannot be in the future", field)
    return iso(parsed)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def number(value: object, field: str, label: str, low: float, high: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{label} must be a number", field)
    result = float(value)
    if math.isnan(result) or math.isinf(result):
        raise ValidationError(f"{label} must be a number", field)
    if not low <= result <= high:
        raise ValidationError(
            f"{label} of {_fmt(result)} {unit} is outside the plausible range "
            f"{_fmt(low)}–{_fmt(high)} {unit}",
            field,
        )
    return result


def _fmt(x: float) -> str:
    return f"{x:g}"


def choice(
    value: str | None,
    field: str,
    label: str,
    options: tuple[str, ...] | frozenset[str],
    *,
    required: bool = True,
) -> str | None:
    cleaned = text(value, field, label, required=required)
    if cleaned is None:
        return None
    folded = cleaned.lower()
    if folded not in options:
        raise ValidationError(f"{label} must be one of: {', '.join(sorted(options))}", field)
    return folded


PHONE = re.compile(r"^\+?[0-9 ()./-]{5,24}$")


def phone(value: str | None, field: str) -> str | None:
    cleaned = text(value, field, "Phone", required=False, max_len=32)
    if cleaned is not None and not 5 <= len(cleaned) <= 24:
        raise ValidationError("Phone must have between 5 and 24 characters", field)
    if cleaned is not None and not PHONE.match(cleaned):
        raise ValidationError("Phone may contain only digits, spaces, + ( ) . / -", field)
    return cleaned


ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def item_id(value: str | None, field: str) -> str:
    """Ids become FHIR resource ids, so they follow FHIR's id rule."""
    raw = required_text(value, field, "Id", max_len=64)
    if not ID.match(raw):
        raise ValidationError("Id may contain only letters, digits and '-' (at most 64)", field)
    return raw
