"""`fieldchart --self-test`: exit 0 when everything works, else 1 and the failing step."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import app.main
from app import selftest
from tests.it.conftest import REPO_ROOT


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("fieldchart-selftest-*")}


def test_the_self_test_passes_and_leaves_nothing_behind() -> None:
    before = _leftovers()
    out: list[str] = []
    err: list[str] = []
    assert selftest.run(out=out.append, err=err.append) == 0, err
    assert err == []
    assert len(out) == 1 and out[0].startswith("self-test passed: 10 steps")
    assert _leftovers() == before


def test_a_failing_step_is_one_line_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_t: selftest.SelfTest) -> None:
        raise OSError("disk full")

    steps = [(n, broken if n == "reopen" else f) for n, f in selftest.STEPS]
    monkeypatch.setattr(selftest, "STEPS", steps)
    before = _leftovers()
    err: list[str] = []
    assert selftest.run(out=lambda _l: None, err=err.append) == 1
    assert err == ["fieldchart: self-test failed at reopen: OSError: disk full"]
    assert _leftovers() == before


def test_without_the_render_hook_the_reason_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(app.main, "render_main_window", raising=False)
    err: list[str] = []
    assert selftest.run(out=lambda _l: None, err=err.append) == 1
    assert err == [
        "fieldchart: self-test failed at render main window: "
        "app.main has no render_main_window(clinic, data_dir, png, *, patient_id)"
    ]


def test_fieldchart_self_test_as_a_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "--self-test"],
        cwd=REPO_ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("self-test passed")
    assert "Traceback" not in result.stderr
