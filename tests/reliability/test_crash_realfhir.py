"""Experiment 1 on the real FHIR server (small size): kill -9 during `fieldchart sync`, just after
the server committed a transaction, then a new sync; no duplicate and nothing missing among the
trial's own patients on the server."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from tests.realfhir.harness import RealFhirServer
from tests.reliability.common import Size
from tests.reliability.crash_realfhir import real_sync_trials

pytestmark = pytest.mark.realfhir
TRIALS = 3  # each a new vault and new patients on a server that keeps them


def test_a_sync_killed_at_any_instant_leaves_no_duplicate_on_the_real_server(
    size: Size, work: Path, real_fhir_server: RealFhirServer
) -> None:
    f = real_sync_trials(TRIALS, size.crash_sync_commands, 1, real_fhir_server, work / "real")
    print(asdict(f))
    assert f.trials == f.killed_mid_push == TRIALS, "each sync died after a transaction landed"
    assert (
        f.next_sync_failed,
        f.pending_after_next_sync,
        f.needs_attention_after_next_sync,
        f.patients_missing,
        f.duplicates_on_server,
        f.missing_on_server,
        f.without_our_identifier,
        f.tracebacks,
    ) == (0, 0, 0, 0, 0, 0, 0, 0), f.problems
