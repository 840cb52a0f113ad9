"""Test-wide setup: Qt renders offscreen, and fixtures every package's tests share."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# CLI processes started by tests log here, not into the CI user's real log directory.
os.environ.setdefault("FIELDCHART_LOG_DIR", tempfile.mkdtemp(prefix="fieldchart-test-logs-"))

# The tests speak English whatever this machine's language; a test that wants another one
# chooses it (Settings, set_language, FIELDCHART_LANG), and it ends with the test.
os.environ["LC_ALL"] = "C.UTF-8"
os.environ["LANGUAGE"] = "en"

import sys
from collections.abc import Iterator

import pytest

from app import i18n
from tests.clock import pin_cli_clock

pin_cli_clock()


@pytest.fixture(autouse=True)
def english_after_each_test() -> Iterator[None]:
    yield
    i18n.set_language(None)
    language = sys.modules.get("app.ui.language")
    widgets = sys.modules.get("PySide6.QtWidgets")
    if language is not None and widgets is not None:
        app = widgets.QApplication.instance()
        if app is not None:
            language.reset(app)


pytest_plugins = ["tests.peer.plugin", "tests.realfhir.plugin"]
