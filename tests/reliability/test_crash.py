"""Experiment 1 (small size): kill -9 during `fieldchart exec` and during `fieldchart sync`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from tests.peer.harness import PeerServer
from tests.reliability import crash
from tests.reliability.common import Size

pytestmark = pytest.mark.peer


def test_commands_acknowledged_before_kill_9_survive_it(size: Size, work: Path) -> None:
    f = crash.exec_trials(size.crash_exec_trials, size.crash_exec_commands, 1, work / "crash")
    print(asdict(f))
    assert f.trials == size.crash_exec_trials
    assert f.acknowledged > 0, "some kills must land after acknowledgements"
    assert (
        f.acknowledged_missing,
        f.duplicates_after_resubmit,
        f.vaults_failing_verify,
        f.vaults_failing_open,
        f.read_models_differing_from_rebuild,
        f.tracebacks,
    ) == (0, 0, 0, 0, 0, 0), f.problems


def test_a_sync_killed_at_any_instant_resumes_without_loss_or_duplicates(
    size: Size, work: Path, fhir_peer: PeerServer
) -> None:
    f = crash.sync_trials(
        size.crash_sync_trials, size.crash_sync_commands, 1, fhir_peer, work / "crash"
    )
    print(asdict(f))
    assert f.trials == size.crash_sync_trials
    assert (
        f.vaults_failing_verify,
        f.vaults_failing_open,
        f.next_sync_failed,
        f.pending_after_next_sync,
        f.needs_attention_after_next_sync,
        f.missing_on_server,
        f.duplicates_on_server,
        f.content_differs_from_clean_sync,
        f.tracebacks,
    ) == (0, 0, 0, 0, 0, 0, 0, 0, 0), f.problems
