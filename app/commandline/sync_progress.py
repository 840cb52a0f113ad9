"""`fieldchart sync` shows its progress on stderr: one line per page received (and per request
of changes sent), e.g. "Downloading records: 1,200 of 8,000 — about 2 min left". Counts only,
never patient data; stdout (and `--json`) stays what scripts read."""

from __future__ import annotations

import sys
from typing import TextIO

from app.services.sync_status import SyncProgress


class ProgressPrinter:
    """A sync progress callback that prints each report as one line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def __call__(self, progress: SyncProgress) -> None:
        if not progress.done and not progress.total:
            return  # nothing to do in this phase: no line
        print(progress.text(), file=self._stream or sys.stderr, flush=True)
