"""The unlock throttle counts parallel attempts: each attempt is counted when it starts and
reserves its start after the attempt before it (issue 15, item 1: sixteen parallel guesses
used to cost 38 s instead of the delays sixteen guesses in a row wait)."""

from __future__ import annotations

import json
from pathlib import Path

from app.store.throttle import MAX_DELAY_S, Throttle, delay_for

NOW = 1_800_000_000.0


class Recorder:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def throttle(tmp_path: Path, sleep: Recorder, now: float = NOW) -> Throttle:
    return Throttle(tmp_path / "unlock-failures.json", sleep, clock=lambda: now)


def test_attempts_under_way_at_once_start_one_after_another(tmp_path: Path) -> None:
    sleep = Recorder()
    guesses = throttle(tmp_path, sleep)
    for _ in range(6):  # six processes asked before any finished
        guesses.wait_before_attempt("admin")
    # Each waits its own delay after the one before: 1, then 1 + 2, then 1 + 2 + 4.
    assert sleep.slept == [1.0, 3.0, 7.0]
    assert sleep.slept[-1] == sum(delay_for(n) for n in range(6))
    assert guesses.failures("admin") == 6  # counted when they started


def test_attempts_in_a_row_each_wait_the_delay_their_count_earned(tmp_path: Path) -> None:
    sleep = Recorder()
    guesses = throttle(tmp_path, sleep)
    for _ in range(6):
        guesses.wait_before_attempt("admin")
        assert guesses.record_failure("admin")
    assert sleep.slept == [1.0, 2.0, 4.0]
    guesses.wait_before_attempt("admin")
    guesses.record_success("admin")
    assert guesses.failures("admin") == 0
    assert not (tmp_path / "unlock-failures.json").exists()


def test_an_attempt_killed_while_waiting_still_counts(tmp_path: Path) -> None:
    sleep = Recorder()
    throttle(tmp_path, sleep).wait_before_attempt("admin")  # then the process died
    assert throttle(tmp_path, sleep).failures("admin") == 1


def test_a_clock_stepped_back_does_not_lock_the_user_out(tmp_path: Path) -> None:
    sleep = Recorder()
    ahead = throttle(tmp_path, sleep, now=NOW + 10 * 365 * 86_400)
    for _ in range(4):
        ahead.wait_before_attempt("admin")  # reserved ten years ahead, never finished
    sleep.slept.clear()
    throttle(tmp_path, sleep, now=NOW).wait_before_attempt("admin")
    # No longer than every attempt under way waiting the longest delay, plus its own.
    assert sleep.slept and sleep.slept[0] <= 5 * MAX_DELAY_S + delay_for(4)


def test_the_count_of_the_format_before_reservations_is_read(tmp_path: Path) -> None:
    (tmp_path / "unlock-failures.json").write_text(json.dumps({"admin": 5}))
    sleep = Recorder()
    guesses = throttle(tmp_path, sleep)
    assert guesses.failures("admin") == 5
    guesses.wait_before_attempt("admin")
    assert sleep.slept == [delay_for(5)]
