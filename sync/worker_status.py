"""The sync worker's state on disk, for `fieldchart diagnose` to read from another process.

The desktop app subscribes a `WorkerStatusFile` to its sync worker; every status the worker
publishes rewrites ``sync-worker.json`` in the vault directory (atomically, mode 0600). It holds
no patient data: state, phase, counts, times, and the last error with every id removed.
`read_worker_status` tells whether that process is still alive and the file fresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.services.clock import Clock
from app.services.redaction import redact_error
from app.services.sync_status import SyncStatus

log = logging.getLogger("fieldchart.worker_status")
STATUS_FILE = "sync-worker.json"
# A UUID, or any long run of hex/base64-ish characters, could be a patient or resource id.
_IDS = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\b[A-Za-z0-9_-]{24,}\b"
)
MAX_ERROR = 200


def redact(text: str | None) -> str | None:
    """An error line without ids (patient ids are UUIDs; server ids are long tokens)."""
    if text is None:
        return None
    # Request paths (`Patient/<id>`) and query values too: clients choose their ids.
    return redact_error(_IDS.sub("<id>", text))


class WorkerStatusFile:
    """A SyncWorker listener: `worker.subscribe(WorkerStatusFile(data_dir))`."""

    def __init__(
        self, data_dir: Path, *, clock: Clock, interval_minutes: int | None = None
    ) -> None:
        self.path = Path(data_dir) / STATUS_FILE
        self._interval = interval_minutes
        self._lock = threading.Lock()
        self._clock = clock
        self._started = self._now()

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    def __call__(self, status: SyncStatus) -> None:
        data: dict[str, Any] = {
            "pid": os.getpid(),
            "started_at": self._started,
            "updated_at": self._now(),
            "state": str(status.state),
            "phase": status.progress.phase if status.progress else None,
            "progress": (
                {"done": status.progress.done, "total": status.progress.total}
                if status.progress
                else None
            ),
            "interval_minutes": self._interval,
            "last_success_at": status.last_success_at,
            "next_attempt_at": status.next_attempt_at,
            "pending": status.pending,
            "needs_attention": status.needs_attention,
            "last_error": redact(status.last_error),
            "waiting_for": status.waiting_for,  # "rate-limited", "busy" or ""
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        with self._lock:
            try:  # diagnostics must never break sync
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, sort_keys=True)
                os.replace(tmp, self.path)
            except OSError:
                log.debug("cannot write %s", STATUS_FILE)

    def remove(self) -> None:
        """The worker stopped (app quit or locked)."""
        with contextlib.suppress(OSError):
            self.path.unlink()


def _alive(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # cannot probe cheaply; freshness of the file decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class WorkerReport:
    running: bool
    detail: dict[str, Any]


def read_worker_status(data_dir: Path) -> WorkerReport:
    path = Path(data_dir) / STATUS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return WorkerReport(False, {"reason": "no sync worker has reported for this vault"})
    except (OSError, ValueError):
        return WorkerReport(False, {"reason": f"{STATUS_FILE} is unreadable"})
    if not isinstance(data, dict):
        return WorkerReport(False, {"reason": f"{STATUS_FILE} is unreadable"})
    pid = data.get("pid")
    running = isinstance(pid, int) and _alive(pid)
    if not running:
        data["reason"] = "the process that ran the worker has ended"
    data["last_error"] = redact(data.get("last_error"))
    return WorkerReport(running, data)
