"""Start the desktop app: the QApplication, the style, the preferences and the controller."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from app.i18n import _
from app.services.clinic import Clinic
from app.ui import gui_thread_gc, style
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.main_window import MainView
from app.ui.operation import OperationRunner
from app.ui.preferences import Preferences
from app.ui.session import ClinicSession


def run(make_backend: Callable[[], Backend], argv: Sequence[str]) -> int:
    """Show the first-run wizard or the unlock dialog, then run until the user quits."""
    existing = QApplication.instance()
    if existing is None:
        # Fractional scale factors (150 %) as they are, not rounded: crisp on high-DPI screens.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv))
    app.setOrganizationName("FieldChart")
    app.setApplicationName("FieldChart")
    gui_thread_gc.install(app)
    style.apply(app)
    prefs = Preferences(QSettings("FieldChart", "FieldChart"))
    try:
        backend = make_backend()
    except Exception as exc:  # e.g. the bundled code lists are missing: say so, plainly
        QMessageBox.critical(
            None,
            _("FieldChart cannot start"),
            _("FieldChart cannot start ({error}); reinstall it or tell IT.").format(
                error=type(exc).__name__
            ),
        )
        return 1
    controller = AppController(app, backend, prefs)
    controller.start()
    code = int(app.exec())
    controller.ops.wait(10_000)
    return code


def render_main_window(
    clinic: Clinic, backend: Backend, png: Path, *, patient_id: str | None = None
) -> None:
    """Build the main window as after unlock, open a chart, save a screenshot and close it
    again, leaving the clinic unlocked (the self-test's proof that the app renders)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    gui_thread_gc.install(app)
    style.apply(app)
    prefs = Preferences(QSettings(str(png.with_suffix(".ini")), QSettings.Format.IniFormat))
    ops = OperationRunner(present_error=lambda _owner, _message: None)
    session = ClinicSession(clinic, backend, ops, prefs)
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
        session.sync.close()
        session.deleteLater()
        ops.deleteLater()
        app.processEvents()
