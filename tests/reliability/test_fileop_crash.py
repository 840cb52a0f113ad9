"""Experiment 15.2 / 15.11: a crash after every file operation, then the next run."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.store import fileops, rekey
from tests.reliability import fileop_crash


def test_a_crash_after_any_file_operation_loses_nothing_and_leaves_nothing(work: Path) -> None:
    f = fileop_crash.run(
        work / "fileop-crash",
        events=5,
        recovery_samples=1,
        power_cuts=("rotate-key", "restore --force"),
    )
    print(f)
    assert set(f["crash_points"]) == set(fileop_crash.FLOWS)  # 9 operations
    assert all(n >= 3 for n in f["crash_points"].values()), f["crash_points"]
    assert f["recovery_crash_points"].get("rotate-key", 0) >= 3
    assert f["recovery_crash_points"].get("restore --force", 0) >= 3
    assert set(f["power_cut_points"]) == {"rotate-key", "restore --force"}
    assert {"write", "fsync", "replace", "unlink", "mkdir"} <= set(f["operation_kinds"])
    assert (f["unopenable"], f["lost_events"], f["verify_failures"]) == (0, 0, 0), f[
        "unopenable_examples"
    ]
    assert f["leftovers"] == 0, f["leftover_examples"]
    assert f["rerun_failures"] == 0, f["rerun_examples"]
    assert all(row.ok is not False for row in fileop_crash.rows(f))


def _recovery_deciding_from_files(data_dir: Path) -> str | None:
    """Rotation recovery as it was before the commit record: it decided from which `.next`
    files happened to exist."""
    db, next_db = data_dir / rekey.DB_FILE, data_dir / rekey.NEXT_DB
    next_slots = data_dir / rekey.NEXT_SLOTS
    fileops.unlink(data_dir / rekey.COMMIT_RECORD)
    if next_slots.exists() and not next_db.exists() and db.exists():
        fileops.replace(next_slots, data_dir / rekey.SLOTS_FILE)
        return "completed"
    if next_slots.exists() or next_db.exists():
        fileops.unlink(next_db)
        fileops.unlink(next_slots)
        return "rolled back"
    return None


def test_the_experiment_finds_the_old_rotation_recovery_bug(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash before the commit rename, then a crash during the next open's roll-back, made
    the open after that install slots for a database never swapped in (issue 15, item 2)."""
    monkeypatch.setattr(rekey, "_finish_interrupted", _recovery_deciding_from_files)
    monkeypatch.setattr(fileop_crash, "FLOWS", ("rotate-key",))
    f = fileop_crash.run(work / "fileop-crash-old-recovery", events=2, recovery_samples=1)
    assert f["unopenable"] > 0, f


def test_the_power_cut_model_finds_a_missing_fsync(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the slot file renamed into place without its content fsynced, a power cut could
    leave an empty keyslots.json: the model must lose that content, and the check notice."""
    durable = fileops._durable
    monkeypatch.setattr(
        fileops, "_durable", lambda key: None if isinstance(key, tuple) else durable(key)
    )
    monkeypatch.setattr(fileop_crash, "FLOWS", ("passwd",))
    f = fileop_crash.run(
        work / "fileop-crash-no-fsync", events=1, recovery_samples=0, power_cuts=("passwd",)
    )
    assert f["unopenable"] > 0, f
