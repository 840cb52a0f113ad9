"""A growing delay after repeated wrong passphrases, remembered across processes.

Argon2id already makes each guess expensive; this adds a delay for the person or script at the
keyboard so that guessing through the app or CLI gets slower with every failure.

Parallel guesses pay in full. Each attempt, under a lock file, is counted as a failure when it
*starts* (and forgiven if it succeeds), so a guess killed mid-way still counts; and it reserves
its start time in the file: no earlier than the start reserved by the attempt before it still
under way, plus the delay its count has earned. Sixteen guesses started at once therefore
start one after another, spread over at least what sixteen guesses in a row would wait
(before, each read the same count, and sixteen cost 38 s instead of minutes). When no attempt
is under way the next one waits its delay from when it asks, as a sequential guesser does.

File format (unlock-failures.json): {"<user>": {"failures": n, "in_flight": k, "busy_until":
epoch seconds}}; the format before (a bare count per user) is still read.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.i18n import _
from app.store.file_lock import BusyError, exclusive_lock
from app.store.keyslots import write_atomically

FREE_ATTEMPTS = 3
MAX_DELAY_S = 30.0
# Held only to read and rewrite a small file, never while waiting or deriving a key.
LOCK_WAIT_S = 10.0


def delay_for(failures: int) -> float:
    """Seconds to wait before the next attempt after `failures` consecutive failures."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return float(min(2 ** (failures - FREE_ATTEMPTS), MAX_DELAY_S))


@dataclass
class _Entry:
    failures: int = 0  # attempts started and not (yet) succeeded
    in_flight: int = 0  # attempts started and not finished
    busy_until: float = 0.0  # the latest start reserved by an attempt still in flight

    def to_json(self) -> dict[str, float | int]:
        return {
            "failures": self.failures,
            "in_flight": self.in_flight,
            "busy_until": self.busy_until,
        }

    @classmethod
    def from_json(cls, value: object) -> _Entry:
        if isinstance(value, int):  # the format before reservations: a count
            return cls(failures=value)
        if not isinstance(value, dict):
            raise ValueError(_("not a throttle entry"))
        return cls(int(value["failures"]), int(value["in_flight"]), float(value["busy_until"]))


class Throttle:
    def __init__(
        self,
        path: Path,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = path
        self._lock_path = path.with_suffix(".lock")  # unlock-failures.lock
        self._sleep = sleep
        self._clock = clock  # wall-clock seconds: reservations are shared between processes
        self._uncounted: set[str] = set()  # attempts whose count could not be written

    def _read(self) -> dict[str, _Entry]:
        try:
            data = json.loads(self._path.read_bytes())
            return {str(k): _Entry.from_json(v) for k, v in data.items()}
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            return {}

    def _write(self, entries: dict[str, _Entry]) -> None:
        data = {user: entry.to_json() for user, entry in entries.items()}
        write_atomically(self._path, json.dumps(data).encode())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        busy = BusyError(
            _("other FieldChart processes keep the unlock-failure counter busy; try again")
        )
        with contextlib.ExitStack() as held:
            # A read-only or full disk cannot hold the lock file: count without it rather than
            # not at all.
            with contextlib.suppress(OSError):
                held.enter_context(
                    exclusive_lock(self._lock_path, wait_s=LOCK_WAIT_S, busy=lambda: busy)
                )
            yield

    def failures(self, user: str) -> int:
        entry = self._read().get(user)
        return entry.failures if entry else 0

    def wait_before_attempt(self, user: str) -> float:
        """Count this attempt, reserve its start and sleep until then; returns the seconds
        slept. Every call must be followed by record_failure or record_success."""
        with self._locked():
            entries = self._read()
            entry = entries.setdefault(user, _Entry())
            now = self._clock()
            if entry.in_flight == 0:
                entry.busy_until = 0.0
            # A clock stepped back must not lock the user out: no reservation is ever further
            # ahead than every attempt under way waiting the longest delay.
            horizon = now + (entry.in_flight + 1) * MAX_DELAY_S
            start = max(now, min(entry.busy_until, horizon)) + delay_for(entry.failures)
            entry.failures += 1
            entry.in_flight += 1
            entry.busy_until = start
            try:
                self._write(entries)
                self._uncounted.discard(user)
            except OSError:  # a full or read-only disk: record_failure waits instead
                self._uncounted.add(user)
        delay = start - now
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)

    def record_failure(self, user: str) -> bool:
        """The attempt failed: it stays counted. False if it could not be counted (the disk
        is full or read-only); then this waits the delay the count would have cost, so a
        failing disk does not make guessing cheaper."""
        if user in self._uncounted:
            self._uncounted.discard(user)
            self._sleep(delay_for(self.failures(user) + 1))
            return False
        with self._locked():
            entries = self._read()
            entry = entries.setdefault(user, _Entry(failures=1))
            entry.in_flight = max(entry.in_flight - 1, 0)
            with contextlib.suppress(OSError):  # counted already: only in_flight is stale
                self._write(entries)
        return True

    def record_success(self, user: str) -> None:
        """The right passphrase: the count starts again from zero."""
        self._uncounted.discard(user)
        with self._locked():
            entries = self._read()
            if entries.pop(user, None) is None:
                return
            # A full disk must not refuse the right passphrase; the count stays.
            with contextlib.suppress(OSError):
                if entries:
                    self._write(entries)
                else:  # nobody has failed: no file, as before anybody did
                    self._path.unlink(missing_ok=True)
