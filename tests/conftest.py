"""Test-wide setup: Qt renders offscreen, and fixtures every package's tests share."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["tests.peer.plugin"]
