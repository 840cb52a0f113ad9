"""Experiment 15.2 / 15.11: a crash after every file operation, then the next run."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import fileop_crash


def test_a_crash_after_any_file_operation_loses_nothing_and_leaves_nothing(work: Path) -> None:
    f = fileop_crash.run(work / "fileop-crash", events=5, recovery_samples=1)
    print(f)
    assert set(f["crash_points"]) == set(fileop_crash.FLOWS)
    assert all(n >= 3 for n in f["crash_points"].values()), f["crash_points"]
    assert sum(f["recovery_crash_points"].values()) > 0
    assert {"write", "fsync", "replace", "unlink", "mkdir"} <= set(f["operation_kinds"])
    assert (f["unopenable"], f["lost_events"], f["verify_failures"]) == (0, 0, 0), f[
        "unopenable_examples"
    ]
    assert f["leftovers"] == 0, f["leftover_examples"]
    assert f["rerun_failures"] == 0, f["rerun_examples"]
    assert all(row.ok is not False for row in fileop_crash.rows(f))
