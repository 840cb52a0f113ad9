"""The test suite's clock: one fixed instant that every test about "now", "today", due or
overdue reads, so the suite passes at any hour.

`FIELDCHART_TEST_NOW` (an ISO 8601 instant) moves it: CI runs the suite once at 23:59:30 UTC
and once at 00:00:30 UTC to prove nothing depends on the hour. The same instant is handed to
every CLI process the tests start (FIELDCHART_NOW, read by the app's composition root).
"""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta

from app.services.clock import START_AT_VARIABLE, parse_instant

TEST_NOW_VARIABLE = "FIELDCHART_TEST_NOW"
DEFAULT_NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def suite_now() -> datetime:
    """The instant the suite runs at (UTC)."""
    value = os.environ.get(TEST_NOW_VARIABLE, "").strip()
    return parse_instant(value) if value else DEFAULT_NOW


def pin_cli_clock() -> None:
    """Start every CLI process the tests run at the suite's instant."""
    os.environ[START_AT_VARIABLE] = suite_now().isoformat()


class SettableClock:
    """A clock tests set and move by hand; called like `datetime.now(UTC)`."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start if start is not None else suite_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# Each CLI process the tests start begins this much later than the one before, as processes
# run one after another on a real device: what one records is never later than what the next
# records (a process finishes well within the step).
CLI_STEP = timedelta(seconds=10)
_cli_processes = itertools.count()


def next_cli_instant() -> datetime:
    """The instant the next CLI process starts at: the suite's instant, stepped per process."""
    return suite_now() + next(_cli_processes) * CLI_STEP


def cli_environment() -> dict[str, str]:
    """This process's environment without any FIELDCHART_ setting, with the next CLI
    process's clock (FIELDCHART_NOW) set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FIELDCHART_")}
    return clean | {START_AT_VARIABLE: next_cli_instant().isoformat()}
