"""Non-PHI preferences kept in QSettings: window geometry, layout, the last user name.

Only the keys listed here can be written, so nothing about a patient (id, name, search text)
can end up in QSettings by accident.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, QSettings

KEYS = frozenset(
    {
        "window/geometry",  # QByteArray from saveGeometry
        "window/page",  # index of the navigation page last shown
        "patients/splitter",  # list/chart splitter sizes
        "chart/tab",  # index of the chart tab last shown
        "vitals/hidden",  # vital keys hidden in the plot, e.g. "height,bmi"
        "schedule/mode",  # "day" or "week"
        "unlock/last_user",  # staff user name, not a patient's
    }
)


class Preferences:
    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def _check(self, key: str) -> None:
        if key not in KEYS:
            raise KeyError(f"{key!r} is not a known preference")

    def text(self, key: str, default: str = "") -> str:
        self._check(key)
        value = self._settings.value(key, default)
        return str(value) if value is not None else default

    def integer(self, key: str, default: int = 0) -> int:
        self._check(key)
        value = self._settings.value(key, default)
        try:
            return int(str(value))
        except (TypeError, ValueError):
            return default

    def blob(self, key: str) -> QByteArray | None:
        self._check(key)
        value = self._settings.value(key)
        return value if isinstance(value, QByteArray) else None

    def set(self, key: str, value: Any) -> None:
        self._check(key)
        self._settings.setValue(key, value)

    def remove(self, key: str) -> None:
        self._check(key)
        self._settings.remove(key)

    def sync(self) -> None:
        self._settings.sync()

    def keys(self) -> list[str]:
        return list(self._settings.allKeys())
