"""Writing a printout to a PDF without a window (the CLI's `fieldchart print`): Qt lays text
out only inside a QGuiApplication, here on the "offscreen" platform so no display is needed."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from app.services.printouts.service import Printout
from app.ui.printing.render import write_pdf


def write_pdf_headless(printout: Printout, path: Path) -> None:
    app = QGuiApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication(["fieldchart-print"])
    write_pdf(printout, path)
