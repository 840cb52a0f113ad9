"""The app's one clock. Every "now" — the domain's context, the services, the UI, sync — is read
from the `Clock` that the composition root (app/main.py, app/cli.py) hands to `open_clinic`;
nothing else reads the wall clock, so tests (and a training device) can run at any instant.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

# The composition root may start the clock at a given instant (ISO 8601 with an offset), for
# tests of late-evening and date-line behaviour and for training devices. It then ticks from
# there at real speed, so durations and ordering still behave.
START_AT_VARIABLE = "FIELDCHART_NOW"


def system_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with an offset (or Z); ValueError otherwise."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return moment.astimezone(UTC)


def clock_starting_at(start: datetime, timer: Callable[[], float] = time.monotonic) -> Clock:
    """A clock that reads `start` now and ticks at real speed from there."""
    began = timer()

    def now() -> datetime:
        return start + timedelta(seconds=timer() - began)

    return now


def configured_clock(environ: dict[str, str] | None = None) -> Clock:
    """The system clock, or one started at FIELDCHART_NOW when that is set."""
    value = (os.environ if environ is None else environ).get(START_AT_VARIABLE, "").strip()
    if not value:
        return system_clock
    try:
        return clock_starting_at(parse_instant(value))
    except ValueError as exc:
        raise ValueError(
            f"{START_AT_VARIABLE} must be an ISO 8601 instant with an offset, "
            f"e.g. 2026-12-02T23:59:30Z ({exc})"
        ) from None


def local_now(clock: Clock) -> datetime:
    """The clock's instant in this machine's time zone."""
    return clock().astimezone()
