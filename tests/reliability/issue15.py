"""The experiments of issue 15 (reliability beyond the append path), run by the same runner.

Each lives in its own module with a `run` that returns its figures and a `rows` that turns them
into the table's rows; this module only chooses each one's size and calls them in order.
`python -m tests.reliability --only issue15` runs them all; `--only 15.3,15.8` a subset.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.peer.harness import PeerServer
from tests.realfhir.plugin import peer_server
from tests.reliability import (
    clocks,
    fileop_crash,
    forged_roles,
    hostile_server,
    identity_changes,
    it_messages,
    slot_races,
    smaller,
)
from tests.reliability.report import Row

#: key -> (what it is, how to run it at full or small size, its rows)
Runner = Callable[[PeerServer, Path, bool], dict[str, Any]]


def _slots(peer: PeerServer, work: Path, full: bool) -> dict[str, Any]:
    return slot_races.run(slot_races.FULL if full else slot_races.SMALL, work, peer)


def _fileops(_peer: PeerServer, work: Path, full: bool) -> dict[str, Any]:
    if full:
        return fileop_crash.run(work, events=50, recovery_samples=-1)
    return fileop_crash.run(
        work, events=5, recovery_samples=1, power_cuts=("rotate-key", "restore --force")
    )


def _identity(peer: PeerServer, work: Path, full: bool) -> dict[str, Any]:
    size = identity_changes.FULL if full else identity_changes.SMALL
    return dict(identity_changes.run(peer_server(peer), work, size))


def _hostile(_peer: PeerServer, _work: Path, full: bool) -> dict[str, Any]:
    return hostile_server.run(hostile_server.FULL if full else hostile_server.SMALL)


def _clocks(peer: PeerServer, work: Path, full: bool) -> dict[str, Any]:
    return clocks.run(peer.base_url, None, work, patients=20 if full else 2, idle=5 if full else 3)


def _forged(_peer: PeerServer, work: Path, full: bool) -> dict[str, Any]:
    return forged_roles.run(work, forged_roles.FULL if full else forged_roles.SMALL)


def _messages(_peer: PeerServer, work: Path, _full: bool) -> dict[str, Any]:
    return it_messages.run(work)


def _smaller(_peer: PeerServer, work: Path, full: bool) -> dict[str, Any]:
    return smaller.run(work, 100_000 if full else 300, cycles=3)


EXPERIMENTS: dict[str, tuple[str, Runner, Callable[[dict[str, Any]], list[Row]]]] = {
    "15.1": ("key slots and sync: concurrent processes", _slots, slot_races.rows),
    "15.2": ("crash after every file operation", _fileops, fileop_crash.rows),
    "15.3": ("server rewrites who a patient is", _identity, identity_changes.rows),
    "15.4": ("hostile server", _hostile, hostile_server.rows),
    "15.8": ("wrong clocks", _clocks, clocks.rows),
    "15.9": ("forged roles", _forged, forged_roles.rows),
    "15.10": ("messages that mislead IT", _messages, it_messages.rows),
    "15.12": ("smaller items", _smaller, smaller.rows),
}


def run(
    peer: PeerServer, work: Path, full: bool, only: list[str], seconds: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """The figures of each chosen experiment, keyed "issue15:<key>"."""
    results: dict[str, dict[str, Any]] = {}
    for key, (what, runner, _rows) in EXPERIMENTS.items():
        if "issue15" not in only and key not in only:
            continue
        print(f"{key}: {what} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        results[f"issue15:{key}"] = runner(peer, work / key.replace(".", "_"), full)
        seconds[key] = time.monotonic() - started
    return results


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    for key, (_what, _runner, to_rows) in EXPERIMENTS.items():
        if f"issue15:{key}" in results:
            out += to_rows(results[f"issue15:{key}"])
    return out
