"""Experiment 15.1 at the small size: two `fieldchart sync` of one vault at once push nothing
twice (the sync lock)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from tests.peer.harness import PeerServer
from tests.reliability import slot_races

pytestmark = pytest.mark.peer


def test_two_syncs_at_once_push_nothing_twice(work: Path, fhir_peer: PeerServer) -> None:
    size = slot_races.SMALL
    f = slot_races.two_syncs(size.sync_pairs, size.sync_commands, fhir_peer, work / "two-syncs")
    print(asdict(f))
    assert f.pairs == size.sync_pairs
    assert f.both_done + f.second_refused_busy == f.pairs
    assert (
        f.failed_otherwise,
        f.duplicates_on_server,
        f.extra_versions_on_server,
        f.pushed_twice,
        f.differs_from_one_sync,
        f.tracebacks,
    ) == (0, 0, 0, 0, 0, 0)
