"""FHIR dates and times: reading them, the domain's spelling, and comparing two spellings."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


def parse_instant(value: str) -> datetime | None:
    """A FHIR dateTime/instant with a time and offset, or None if it is not one."""
    found = _DATE_TIME.fullmatch(value)
    if found is None:
        return None
    whole, fraction, zone = found.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    try:
        return datetime.fromisoformat(f"{whole}.{micro}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None


def domain_instant(moment: datetime) -> str:
    """The domain's form of an instant (app.domain.values.iso): seconds, with its offset."""
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


def instant_key(value: Any) -> Any:
    """What two spellings of a time have in common: the UTC second, or the text itself."""
    if not isinstance(value, str):
        return value
    parsed = parse_instant(value)
    if parsed is None:
        return value
    return parsed.astimezone(UTC).replace(microsecond=0).isoformat()


def is_partial_date(value: str) -> bool:
    """A FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) naming a real calendar date."""
    if _DATE.fullmatch(value) is None:
        return False
    year, month, day = [*map(int, value.split("-")), 1, 1][:3]
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
