"""Experiment 15.1 at the small size: concurrent key-slot writers and parallel wrong guesses,
as real processes (the two syncs at once: test_sync_races.py)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from tests.reliability import slot_races

SMALL = slot_races.SMALL


def test_concurrent_slot_writers_lose_nothing_and_never_lock_the_vault(work: Path) -> None:
    f = slot_races.slot_races(SMALL, work / "slot-races")
    print(asdict(f))
    assert f.rotations_done == f.rotation_timings == SMALL.timings
    assert f.users_added > 0 and f.passwd_changes > 0
    assert (
        f.unopenable_vaults,
        f.credentials_not_as_reported,
        f.users_lost,
        f.passwd_changes_lost,
        f.disabled_users_revived,
        f.unexpected_failures,
        f.tracebacks,
    ) == (0, 0, 0, 0, 0, 0, 0), f.problems


def test_parallel_wrong_guesses_wait_as_long_as_guesses_in_a_row(work: Path) -> None:
    g = slot_races.parallel_guesses(SMALL.guesses, work / "guesses")
    print(asdict(g))
    assert g.refused == g.failures_counted == SMALL.guesses
    assert g.spread_s >= g.required_s == 7.0  # 0 + 0 + 0 + 1 + 2 + 4
