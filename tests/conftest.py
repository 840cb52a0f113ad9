"""Test-wide setup: Qt renders offscreen, and fixtures every package's tests share."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# CLI processes started by tests log here, not into the CI user's real log directory.
os.environ.setdefault("FIELDCHART_LOG_DIR", tempfile.mkdtemp(prefix="fieldchart-test-logs-"))

from tests.clock import pin_cli_clock

pin_cli_clock()

pytest_plugins = ["tests.peer.plugin", "tests.realfhir.plugin"]
