"""Parsing and checking of the values people type, with messages a clinician understands."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta

from app.domain.errors import ValidationError
from app.domain.wording import as_text, t

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
            raise ValidationError(t("{label} is required", label=as_text(label)), field)
        return None
    cleaned = str(value).strip()
    if len(cleaned) > max_len:
        raise ValidationError(
            t(
                "{label} is too long (at most {max_len} characters)",
                label=as_text(label),
                max_len=max_len,
            ),
            field,
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in cleaned):
        raise ValidationError(t("{label} contains control characters", label=as_text(label)), field)
    refuse_non_text(cleaned, field, label)
    return cleaned


def refuse_non_text(value: str, field: str, label: str) -> None:
    """Refuse lone surrogates anywhere a string is taken in (ids included)."""
    if _SURROGATE.search(value):
        raise ValidationError(
            t("{label} contains characters that are not valid text", label=as_text(label)), field
        )


def required_text(value: str | None, field: str, label: str, *, max_len: int = 200) -> str:
    result = text(value, field, label, max_len=max_len)
    assert result is not None
    return result


def birth_date(value: str | None, field: str, today: date) -> str:
    raw = required_text(value, field, "Birth date")
    try:
        parsed = date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(t("Birth date must be a date like 1980-04-23"), field) from None
    if parsed > today:
        raise ValidationError(t("Birth date cannot be in the future"), field)
    if parsed < date(today.year - 130, 1, 1):
        raise ValidationError(t("Birth date is more than 130 years ago"), field)
    return parsed.isoformat()


def instant(value: str | None, field: str, label: str) -> datetime:
    raw = required_text(value, field, label)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            t(
                "{label} must be a date and time like 2026-11-21T09:30:00+01:00",
                label=as_text(label),
            ),
            field,
        ) from None
    if parsed.tzinfo is None:
        raise ValidationError(
            t(
                "{label} needs a time zone, e.g. 2026-11-21T09:30:00+01:00 or ...Z",
                label=as_text(label),
            ),
            field,
        )
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        # Also keeps every later conversion (to UTC, plus a duration) inside datetime's range.
        raise ValidationError(
            t(
                "{label} must be between the years {first_year} and {last_year}",
                label=as_text(label),
                first_year=FIRST_YEAR,
                last_year=LAST_YEAR,
            ),
            field,
        )
    return parsed


def past_instant(value: str | None, field: str, label: str, now: datetime) -> str:
    """A clinical time: may be in the past, never in the future. Defaults to now."""
    if value is None or not str(value).strip():
        return iso(now)
    parsed = instant(value, field, label)
    if parsed > now + CLOCK_SKEW:
        raise ValidationError(t("{label} cannot be in the future", label=as_text(label)), field)
    return iso(parsed)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def number(value: object, field: str, label: str, low: float, high: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(t("{label} must be a number", label=as_text(label)), field)
    result = float(value)
    if math.isnan(result) or math.isinf(result):
        raise ValidationError(t("{label} must be a number", label=as_text(label)), field)
    if not low <= result <= high:
        raise ValidationError(
            t(
                "{label} of {result} {unit} is outside the plausible range {low}–{high} {unit}",
                label=as_text(label),
                result=_fmt(result),
                unit=unit,
                low=_fmt(low),
                high=_fmt(high),
            ),
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
        raise ValidationError(
            t(
                "{label} must be one of: {items}",
                label=as_text(label),
                items=", ".join(sorted(options)),
            ),
            field,
        )
    return folded


PHONE = re.compile(r"^\+?[0-9 ()./-]{5,24}$")


def phone(value: str | None, field: str) -> str | None:
    cleaned = text(value, field, "Phone", required=False, max_len=32)
    if cleaned is not None and not 5 <= len(cleaned) <= 24:
        raise ValidationError(t("Phone must have between 5 and 24 characters"), field)
    if cleaned is not None and not PHONE.match(cleaned):
        raise ValidationError(t("Phone may contain only digits, spaces, + ( ) . / -"), field)
    return cleaned


ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def item_id(value: str | None, field: str) -> str:
    """Ids become FHIR resource ids, so they follow FHIR's id rule."""
    raw = required_text(value, field, "Id", max_len=64)
    if not ID.match(raw):
        raise ValidationError(t("Id may contain only letters, digits and '-' (at most 64)"), field)
    return raw
