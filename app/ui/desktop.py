"""Start the desktop app: the QApplication, the style, the preferences and the controller."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from app.ui import style
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.preferences import Preferences


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
    style.apply(app)
    prefs = Preferences(QSettings("FieldChart", "FieldChart"))
    try:
        backend = make_backend()
    except Exception as exc:  # e.g. the bundled code lists are missing: say so, plainly
        QMessageBox.critical(
            None,
            "FieldChart cannot start",
            f"FieldChart cannot start ({type(exc).__name__}); reinstall it or tell IT.",
        )
        return 1
    controller = AppController(app, backend, prefs)
    controller.start()
    code = int(app.exec())
    controller.ops.wait(10_000)
    return code
