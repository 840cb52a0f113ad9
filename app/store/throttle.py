"""A growing delay after repeated wrong passphrases, remembered across processes.

Argon2id already makes each guess expensive; this adds a delay for the person or script at the
keyboard so that guessing through the app or CLI gets slower with every failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from app.store.keyslots import write_atomically

FREE_ATTEMPTS = 3
MAX_DELAY_S = 30.0


def delay_for(failures: int) -> float:
    """Seconds to wait before the next attempt after `failures` consecutive failures."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return float(min(2 ** (failures - FREE_ATTEMPTS), MAX_DELAY_S))


class Throttle:
    def __init__(self, path: Path, sleep: Callable[[float], None] = time.sleep) -> None:
        self._path = path
        self._sleep = sleep

    def _read(self) -> dict[str, int]:
        try:
            data = json.loads(self._path.read_bytes())
            return {str(k): int(v) for k, v in data.items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def failures(self, user: str) -> int:
        return self._read().get(user, 0)

    def wait_before_attempt(self, user: str) -> float:
        """Sleep for the delay this user has earned; returns the seconds slept."""
        delay = delay_for(self.failures(user))
        if delay:
            self._sleep(delay)
        return delay

    def record_failure(self, user: str) -> None:
        counts = self._read()
        counts[user] = counts.get(user, 0) + 1
        write_atomically(self._path, json.dumps(counts).encode())

    def record_success(self, user: str) -> None:
        counts = self._read()
        if counts.pop(user, None) is not None:
            write_atomically(self._path, json.dumps(counts).encode())
