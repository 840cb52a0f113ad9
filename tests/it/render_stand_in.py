"""A stand-in for `app.main.render_main_window`, the self-test's hook into the desktop app.

app/main.py (the UI engineer's) is to provide exactly this function; until it does, the
self-test tests install this one, which builds the main window the way AppController does
after unlock. Once app.main has its own, the tests use that one instead.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.main import build_backend
from app.services.clinic import Clinic
from app.ui import style
from app.ui.main_window import MainView
from app.ui.operation import OperationRunner
from app.ui.preferences import Preferences
from app.ui.session import ClinicSession


def render_main_window(
    clinic: Clinic, data_dir: Path, png: Path, *, patient_id: str | None = None
) -> None:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    style.apply(app)
    prefs = Preferences(QSettings(str(png.with_suffix(".ini")), QSettings.Format.IniFormat))
    ops = OperationRunner(present_error=lambda _owner, message: None)
    session = ClinicSession(clinic, build_backend(data_dir), ops, prefs)
    window = MainView(session)
    try:
        window.resize(1280, 800)
        window.show()
        if patient_id is not None:
            window.open_patient(patient_id)  # the chart, with its QtCharts vitals plot
        for _ in range(20):
            app.processEvents()
            ops.wait(5_000)
        app.processEvents()
        if not window.grab().save(str(png), "PNG"):
            raise RuntimeError("the screenshot could not be saved")
    finally:
        window.close()
        window.deleteLater()
        ops.wait(5_000)
        session.deleteLater()
        ops.deleteLater()
        app.processEvents()
