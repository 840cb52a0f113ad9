"""The worker's status file (`sync-worker.json`, read by `fieldchart status`): what the app's
sync worker is doing, for IT, with no ids or query values of patients in it."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from app.services.sync_status import SyncState, SyncStatus
from sync.worker_status import STATUS_FILE, WorkerStatusFile, read_worker_status

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
PATIENT = "0f8b2c4e-5d6a-4b7c-9e8f-1a2b3c4d5e6f"


def test_the_file_says_why_a_device_waits_and_keeps_ids_out(tmp_path: Path) -> None:
    listener = WorkerStatusFile(tmp_path, clock=lambda: T0, interval_minutes=5)
    listener(
        SyncStatus(
            SyncState.OFFLINE,
            next_attempt_at="2026-12-02T10:30:00+00:00",
            pending=3,
            last_error=f"the server refused Patient/{PATIENT}?name=Wanjiru",
            waiting_for="rate-limited",
        )
    )
    path = tmp_path / STATUS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.read_text(encoding="utf-8")
    assert PATIENT not in written and "Wanjiru" not in written
    data = json.loads(written)
    assert data["state"] == str(SyncState.OFFLINE) and data["waiting_for"] == "rate-limited"
    assert data["pending"] == 3 and data["interval_minutes"] == 5
    report = read_worker_status(tmp_path)
    assert report.running  # this process wrote it
    assert report.detail["waiting_for"] == "rate-limited"


def test_no_file_and_a_damaged_file_are_reported_plainly(tmp_path: Path) -> None:
    assert read_worker_status(tmp_path).detail["reason"].startswith("no sync worker")
    (tmp_path / STATUS_FILE).write_text("{not json", encoding="utf-8")
    assert read_worker_status(tmp_path).detail["reason"] == f"{STATUS_FILE} is unreadable"
