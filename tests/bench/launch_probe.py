"""Child process of the benchmark: start the desktop app offscreen on a vault and time it.

    QT_QPA_PLATFORM=offscreen python -m tests.bench.launch_probe DATA_DIR USER [PATIENT_ID]

Milestones, in ms since the parent spawned this interpreter (FIELDCHART_LAUNCH_T0):
* ``unlock_screen_ms``: QApplication, style, backend (app.main.build_backend) and the
  AppController up, the unlock dialog shown and painted;
* ``unlock_ms``: the backend's unlock (Argon2id + SQLCipher open + tail verify + open_clinic),
  what happens after the person presses Enter;
* ``window_ms``: AppController.open_session builds and shows the main window;
* ``usable_ms``: the window's first loads (patient list, settings; run on worker threads) have
  finished and their results are painted.
``launch_to_usable_ms`` leaves out the time a person spends typing: process start to unlock
screen, plus Enter to usable window. ``idle_rss_mb`` is the process RSS two seconds later with
the main window open (and, if a patient id was given, a 1,000-event chart shown).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path

T0 = float(os.environ.get("FIELDCHART_LAUNCH_T0", time.time()))


def since_start() -> float:
    return round((time.time() - T0) * 1000, 1)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return -1.0


def main() -> int:
    data_dir, user = Path(sys.argv[1]), sys.argv[2]
    chart_ids = sys.argv[3:]
    out: dict[str, object] = {}
    try:
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from app.main import build_backend
        from app.ui import style
        from app.ui.app_controller import AppController
        from app.ui.preferences import Preferences
    except Exception as exc:  # the UI is still being written
        print(json.dumps({"status": f"not yet measurable: {type(exc).__name__}: {exc}"}))
        return 0
    from tests.bench.generator import PASSPHRASE

    out["imports_ms"] = since_start()
    app = QApplication([])
    style.apply(app)
    settings = QSettings(
        str(Path(os.environ.get("HOME", ".")) / "prefs.ini"), QSettings.Format.IniFormat
    )
    backend = build_backend(data_dir)
    controller = AppController(app, backend, Preferences(settings))
    controller.start()

    def settle(deadline_s: float = 120.0) -> bool:
        end = time.time() + deadline_s
        while time.time() < end:
            app.processEvents()
            if controller.ops.idle:
                app.processEvents()
                return True
            time.sleep(0.002)
        return False

    settle()
    out["unlock_screen_ms"] = since_start()
    t = time.perf_counter()
    clinic = backend.unlock(user, PASSPHRASE)
    out["unlock_ms"] = round((time.perf_counter() - t) * 1000, 1)
    t2 = time.perf_counter()
    controller.open_session(clinic)
    app.processEvents()
    out["window_ms"] = round((time.perf_counter() - t2) * 1000, 1)
    ok = settle()
    out["usable_ms"] = round((time.perf_counter() - t2) * 1000, 1)
    out["settled"] = ok
    out["window_visible"] = bool(controller.window is not None and controller.window.isVisible())
    out["launch_to_usable_ms"] = round(
        float(str(out["unlock_screen_ms"]))
        + float(str(out["unlock_ms"]))
        + float(str(out["usable_ms"])),
        1,
    )
    if chart_ids and controller.window is not None:
        t3 = time.perf_counter()
        controller.window.chart.show_patient(chart_ids[0])
        settle()
        out["ui_chart_open_ms"] = round((time.perf_counter() - t3) * 1000, 1)
    end = time.time() + 2.0
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)
    gc.collect()
    out["idle_rss_mb"] = rss_mb()
    out["status"] = "measured"
    print(json.dumps(out))
    sys.stdout.flush()
    controller.quit()
    os._exit(0)  # skip Qt teardown: not part of what we measure


if __name__ == "__main__":
    sys.exit(main())
