"""The bundled style sheet and icons (resources/ui)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "ui"


def _dir() -> Path:
    # Prefer the installed package data; fall back to the source tree next to app/.
    try:
        found = Path(str(resources.files("resources").joinpath("ui")))
        if found.is_dir():
            return found
    except (ModuleNotFoundError, TypeError):
        pass
    return RESOURCES


@cache
def style_sheet() -> str:
    base = _dir()
    path = base / "fieldchart.qss"
    if not path.exists():
        return ""
    # QSS resolves url() against the working directory: point it at the bundled icons.
    icons = (base / "icons").as_posix()
    return path.read_text(encoding="utf-8").replace("@ICONS@", icons)


def icon(name: str) -> QIcon:
    """An icon from resources/ui/icons (SVG), or the app icon for 'fieldchart'."""
    base = _dir()
    path = base / "fieldchart.svg" if name == "fieldchart" else base / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def apply(app: QApplication) -> None:
    """Style the whole application once, at start (a second call changes nothing)."""
    if app.property("fieldchartStyled"):
        return
    app.setStyle("Fusion")
    app.setStyleSheet(style_sheet())
    app.setWindowIcon(icon("fieldchart"))
    app.setProperty("fieldchartStyled", True)
