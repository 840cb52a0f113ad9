"""Python's cyclic garbage collector, run only in the GUI thread.

Python starts a collection in whichever thread happens to allocate when a generation's
threshold is passed. The app allocates in other threads all the time (the operation pool's
workers, the sync worker, the database's checkpoint thread), so a cycle holding Qt objects (a
dialog and a lambda connected to its signal, a closed form and its validator) could be freed
there: the C++ destructor of a widget then runs outside the GUI thread, which Qt does not
allow and which can crash the process at any later moment. Here automatic collection is
switched off and the same thresholds are checked from a timer in the GUI thread, so every
collection, and every Qt destructor it triggers, runs where Qt expects it.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 250


def collect_due() -> int | None:
    """Collect the oldest generation whose threshold is exceeded, as the automatic collector
    would; returns that generation, or None if none was due."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    due = None
    for generation in range(3):
        if thresholds[generation] and counts[generation] > thresholds[generation]:
            due = generation
        else:
            break
    if due is not None:
        gc.collect(due)
    return due


class GuiThreadCollector(QObject):
    """Owned by the QApplication: while it lives, collections run from its timer."""

    def __init__(self, parent: QObject, interval_ms: int = CHECK_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(collect_due)
        self._timer.start()
        gc.disable()
        self.destroyed.connect(lambda *_: gc.enable())


def install(app: QObject) -> GuiThreadCollector:
    """Move garbage collection into `app`'s thread (once per application)."""
    existing = app.findChild(GuiThreadCollector)
    return existing if existing is not None else GuiThreadCollector(app)
