"""Lock after a configurable idle time: any keyboard, mouse or touch input anywhere in the
application counts as activity (an event filter on the QApplication)."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal

INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
    }
)


class IdleLockFilter(QObject):
    idle = Signal()

    def __init__(self, app: QCoreApplication, timeout_ms: int) -> None:
        super().__init__(app)
        self._timeout_ms = timeout_ms
        self._last = time.monotonic()
        self._armed = False
        # Checking a timestamp on a timer keeps the filter itself trivial (it sees every event).
        self._check = QTimer(self)
        self._check.timeout.connect(self._tick)
        self._set_check_interval()
        app.installEventFilter(self)

    def _set_check_interval(self) -> None:
        self._check.setInterval(max(50, min(5000, self._timeout_ms // 4)))

    def set_minutes(self, minutes: float) -> None:
        self.set_timeout_ms(int(minutes * 60_000))

    def set_timeout_ms(self, timeout_ms: int) -> None:
        self._timeout_ms = timeout_ms
        self._set_check_interval()

    @property
    def timeout_ms(self) -> int:
        return self._timeout_ms

    def start(self) -> None:
        """Arm the lock (after unlocking); the idle time starts now."""
        self._last = time.monotonic()
        self._armed = True
        self._check.start()

    def stop(self) -> None:
        self._armed = False
        self._check.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS:
            self._last = time.monotonic()
        return False

    def _tick(self) -> None:
        if self._armed and (time.monotonic() - self._last) * 1000 >= self._timeout_ms:
            self.stop()
            self.idle.emit()
