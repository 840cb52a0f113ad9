"""The log's order against the device's clock: ``recorded_at`` is the device clock's reading
when an event was stored, and that clock can step back (an NTP correction, a dead RTC battery,
someone fixing the date by hand). The log position never does, so it is what decides "before"
and "after" whenever the clock is in doubt (docs/clocks.md):

- "as of T" means every event up to the last log position whose ``recorded_at`` is at or
  before T, in log order (`position_as_of`): an event stored before a step back is included
  once anything stored after it claims a time at or before T, so a patient who exists is
  never hidden by a later, earlier-looking stamp;
- a step back is detected when it is written (`warn_if_stepped_back`, a log line without
  patient data) and can be listed afterwards (`steps_back`, for IT).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

__all__ = ["ClockStep", "position_as_of", "steps_back", "warn_if_stepped_back"]

log = logging.getLogger(__name__)

# SQLite's strftime normalises any UTC offset to UTC with milliseconds kept, so instants
# written with different offsets compare correctly as text (app/projections/base.py does
# the same for the projections).
_RECORDED = "strftime('%Y-%m-%d %H:%M:%f', json_extract(metadata, '$.recorded_at'))"
# Scanned from the end of the log by its primary key: an "as of" near now reads few rows.
_LAST_AT_OR_BEFORE = (
    f"SELECT position FROM events WHERE {_RECORDED} <= ? ORDER BY position DESC LIMIT 1"
)
_RECORDED_AT = "SELECT json_extract(metadata, '$.recorded_at') FROM events WHERE position = ?"
_STEPS = (
    "SELECT position, previous, recorded FROM ("
    f" SELECT position, {_RECORDED} AS recorded,"
    f" lag({_RECORDED}) OVER (ORDER BY position) AS previous FROM events"
    ") WHERE recorded < previous ORDER BY position LIMIT ?"
)


@dataclass(frozen=True)
class ClockStep:
    """The device clock read earlier at ``position`` than at the event stored before it."""

    position: int
    before: str  # the previous event's recorded_at (UTC, "YYYY-MM-DD HH:MM:SS.mmm")
    after: str  # this event's

    @property
    def seconds(self) -> float:
        return (_parse(self.before) - _parse(self.after)).total_seconds()


def sortable(moment: datetime) -> str:
    """An aware instant in the text form `_RECORDED` compares."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


def position_as_of(conn: Connection, as_of: datetime) -> int:
    """The last log position whose event was recorded at or before ``as_of`` (0: none)."""
    found = conn.exec_driver_sql(_LAST_AT_OR_BEFORE, (sortable(as_of),)).scalar()
    return int(found or 0)


def steps_back(conn: Connection, limit: int = 100) -> list[ClockStep]:
    """Where the log's recorded_at went backwards, in log order (the first ``limit``)."""
    rows = conn.exec_driver_sql(_STEPS, (limit,)).fetchall()
    return [ClockStep(int(p), str(b), str(a)) for p, b, a in rows]


def warn_if_stepped_back(conn: Connection, head: int, recorded_at: str) -> bool:
    """Called as events are appended after log position ``head``: says (in the log, without
    patient data) when the device clock reads earlier than it did for the event at ``head``.
    The events are stored all the same, in log order."""
    if head <= 0:
        return False
    previous = conn.exec_driver_sql(_RECORDED_AT, (head,)).scalar()
    try:
        earlier = datetime.fromisoformat(str(previous)) > datetime.fromisoformat(recorded_at)
    except (TypeError, ValueError):
        return False
    if earlier:
        step = datetime.fromisoformat(str(previous)) - datetime.fromisoformat(recorded_at)
        log.warning(
            "the device clock stepped back %.0f s after log position %d: times recorded from"
            " here on look earlier than the events before them; log order decides (docs/clocks.md)",
            step.total_seconds(),
            head,
        )
    return earlier


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
