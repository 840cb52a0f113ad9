"""Garbage cycles holding Qt objects are collected in the GUI thread, never in a worker."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject, QThread
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.ui import gui_thread_gc


class _Cyclic(QObject):
    def __init__(self, freed_in: list[bool]) -> None:
        super().__init__()
        self.me = self  # a reference cycle: only the cyclic collector frees it
        # Not a method of self: it must still run once the wrapper is gone.
        self.destroyed.connect(lambda *_: freed_in.append(_in_gui_thread()))


def _in_gui_thread() -> bool:
    app = QApplication.instance()
    return app is not None and QThread.currentThread() is app.thread()


def test_automatic_collection_is_off_while_installed(qapp: QApplication) -> None:
    gui_thread_gc.install(qapp)
    assert not gc.isenabled()
    assert gui_thread_gc.install(qapp) is gui_thread_gc.install(qapp)  # once per app


def test_a_worker_thread_allocating_does_not_free_qt_cycles(
    qapp: QApplication, qtbot: QtBot
) -> None:
    gui_thread_gc.install(qapp)
    freed: list[bool] = []
    ref = weakref.ref(_Cyclic(freed))
    assert ref() is not None  # kept alive by its cycle

    kept: list[list[int]] = []

    def allocate() -> None:  # far past generation 0's threshold, in another thread
        kept.extend([i] for i in range(50_000))

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert ref() is not None, "a collection ran in the worker thread"
    qtbot.waitUntil(lambda: ref() is None, timeout=5_000)  # the GUI thread's timer collects
    qtbot.waitUntil(lambda: bool(freed), timeout=5_000)
    assert freed == [True]
    kept.clear()


def test_collect_due_follows_the_thresholds() -> None:
    gc.collect()
    assert gui_thread_gc.collect_due() is None  # nothing allocated since
    threshold = gc.get_threshold()[0]
    keep = [[i] for i in range(threshold + 10)]
    assert gui_thread_gc.collect_due() == 0
    del keep
