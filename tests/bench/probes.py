"""Figures measured in a child process: app launch (a fresh interpreter, like a double-click)
and sync (its own RSS). Each child prints one JSON line; a child that cannot run yet (the UI or
the sync engine still being written) reports why instead of failing the benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _child(module: str, args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"status": f"not measured: {module} timed out after {timeout:.0f} s"}
    wall_ms = round((time.perf_counter() - started) * 1000, 1)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return {"status": f"not measured: {module} exited {proc.returncode}", "stderr": tail}
    result: dict[str, Any] = json.loads(lines[-1])
    result["child_wall_ms"] = wall_ms
    return result


def app_launch(data_dir: Path, user: str, chart_ids: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fieldchart-launch-") as home:
        env = {
            "QT_QPA_PLATFORM": "offscreen",
            "HOME": home,
            "XDG_CONFIG_HOME": home,
            "XDG_RUNTIME_DIR": home,
            "FIELDCHART_LAUNCH_T0": repr(time.time()),
        }
        return _child(
            "tests.bench.launch_probe", [str(data_dir), user, *chart_ids], env, timeout=300
        )


def sync(
    data_dir: Path, user: str, pushes: int, pulls: int, *, skip_real: bool = False
) -> dict[str, Any]:
    """The in-memory peer and the real FHIR server side by side (tests/bench/sync_run.py)."""
    return _child(
        "tests.bench.sync_probe",
        [str(data_dir), user, str(pushes), str(pulls), *(["--skip-real"] if skip_real else [])],
        {},
        timeout=3600,
    )
