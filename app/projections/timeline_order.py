"""The order a chart's timeline is shown in, newest first, when the device clock may have
stepped back (docs/clocks.md).

An entry's clinical time (``occurred_at``) decides where the user gave one (vitals taken an
hour ago, a note about yesterday) and where the server did (a pulled record). Where it is only
the device's reading when the entry was stored — it equals ``recorded_at`` to the second — it
does not decide: after a clock step back such an entry would sink below older ones. It is
placed at the latest time recorded for the chart up to its log position instead, so entries
without a clinical time of their own keep their log order, and ties go by log position.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["in_display_order"]

# occurred_at is written to the second, recorded_at to the millisecond, from one reading.
_SAME_READING = timedelta(seconds=1)
_UNREADABLE = datetime.min.replace(tzinfo=UTC)


def in_display_order(
    rows: Sequence[Sequence[Any]],
    *,
    position: int = 0,
    occurred: int = 1,
    recorded: int = 2,
) -> list[Sequence[Any]]:
    """The timeline rows (any order; the indexes say where each value is), newest first."""
    by_position = sorted(rows, key=lambda row: int(row[position]))
    latest = _UNREADABLE
    keyed: list[tuple[datetime, int, Sequence[Any]]] = []
    for row in by_position:
        recorded_at = _instant(row[recorded])
        occurred_at = _instant(row[occurred])
        latest = max(latest, recorded_at)
        own_time = abs(recorded_at - occurred_at) >= _SAME_READING
        if own_time and occurred_at is not _UNREADABLE:
            when = occurred_at
        else:
            when = latest.replace(microsecond=0)  # as occurred_at would read, to the second
        keyed.append((when, int(row[position]), row))
    keyed.sort(key=lambda k: (k[0], k[1]), reverse=True)
    return [row for _, _, row in keyed]


def _instant(value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return _UNREADABLE
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
