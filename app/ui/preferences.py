"""Non-PHI preferences kept in QSettings: window geometry, layout, the last user name.

Only the keys listed here can be written, so nothing about a patient (id, name, search text)
can end up in QSettings by accident.

Preferences are per user, not per computer: `for_user(name)` keeps every key but the unlock
dialog's last user name under `users/<hash of the name>/`, so two people sharing a device
each find their own layout, and the plain-text settings file holds no user names beyond the
last one to sign in (which the unlock dialog shows anyway).
"""

from __future__ import annotations

import hashlib
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
        "unlock/language",  # the last user's language: what the unlock dialog speaks
    }
)
PER_COMPUTER = frozenset({"unlock/last_user", "unlock/language"})


def user_key(user: str) -> str:
    """The QSettings group of one user's preferences: a hash, not the name."""
    return hashlib.sha256(f"fieldchart-preferences/{user}".encode()).hexdigest()[:16]


class Preferences:
    def __init__(self, settings: QSettings, user: str | None = None) -> None:
        self._settings = settings
        self.user = user
        self._prefix = f"users/{user_key(user)}/" if user is not None else ""

    def for_user(self, user: str) -> Preferences:
        """The same settings seen as `user`'s own preferences."""
        return Preferences(self._settings, user)

    def _check(self, key: str) -> str:
        if key not in KEYS:
            raise KeyError(f"{key!r} is not a known preference")
        return key if key in PER_COMPUTER else self._prefix + key

    def text(self, key: str, default: str = "") -> str:
        value = self._settings.value(self._check(key), default)
        return str(value) if value is not None else default

    def integer(self, key: str, default: int = 0) -> int:
        value = self._settings.value(self._check(key), default)
        try:
            return int(str(value))
        except (TypeError, ValueError):
            return default

    def blob(self, key: str) -> QByteArray | None:
        value = self._settings.value(self._check(key))
        return value if isinstance(value, QByteArray) else None

    def set(self, key: str, value: Any) -> None:
        self._settings.setValue(self._check(key), value)

    def remove(self, key: str) -> None:
        self._settings.remove(self._check(key))

    def sync(self) -> None:
        self._settings.sync()

    def keys(self) -> list[str]:
        return list(self._settings.allKeys())
