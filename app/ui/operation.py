"""Run work off the GUI thread; deliver its result or error back on the GUI thread.

    ops.run(lambda: clinic.queries.search_patients(text), success=self._show, owner=self)

Like anki's CollectionOp: one line per operation, errors shown by default (a DomainError's
message, or a plain "could not complete"), progress reported through `busy_changed`.
Results of work started before a lock are dropped (`invalidate`), and so are results whose
owner widget has been deleted meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.i18n import _
from app.ui.errors import plain_message

ErrorPresenter = Callable[[QWidget | None, str], None]


def message_box_presenter(owner: QWidget | None, message: str) -> None:
    """Default: a window-modal message box that does not block the event loop."""
    parent = owner.window() if owner is not None else None
    title = "FieldChart"  # the product's name: not translated
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, parent=parent)
    box.setObjectName("errorMessage")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


class _Job(QRunnable):
    def __init__(self, op: Operation) -> None:
        super().__init__()
        self._op = op

    def run(self) -> None:
        try:
            result = self._op.work()
        except BaseException as exc:  # delivered to the GUI thread, shown there
            self._op.finished.emit(None, exc)
        else:
            self._op.finished.emit(result, None)


class Operation(QObject):
    """One piece of background work; lives on the GUI thread, its job on a pool thread."""

    finished = Signal(object, object)  # result, exception

    def __init__(
        self,
        runner: OperationRunner,
        work: Callable[[], Any],
        success: Callable[[Any], None] | None,
        failure: Callable[[BaseException], None] | None,
        owner: QWidget | None,
        label: str,
    ) -> None:
        super().__init__()
        self.work = work
        self.label = label
        self._runner = runner
        self._success = success
        self._failure = failure
        self._owner = owner
        self._generation = runner.generation
        self.finished.connect(self._deliver)

    def _deliver(self, result: Any, error: BaseException | None) -> None:
        self._runner._forget(self)
        if self._generation != self._runner.generation:
            return  # the session ended (locked) while this ran: drop everything
        if self._owner is not None and not shiboken6.isValid(self._owner):
            return
        if error is None:
            if self._success is not None:
                self._success(result)
        elif self._failure is not None:
            self._failure(error)
        else:
            self._runner.show_error(self._owner, error)


class OperationRunner(QObject):
    """Owns the worker pool and the operations in flight; one per application."""

    busy_changed = Signal(int, str)  # operations in flight, label of the newest
    error_shown = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        present_error: ErrorPresenter = message_box_presenter,
        max_threads: int = 4,
    ) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._live: list[Operation] = []
        self._present = present_error
        self.generation = 0
        self.last_error: str | None = None

    def run(
        self,
        work: Callable[[], Any],
        *,
        success: Callable[[Any], None] | None = None,
        failure: Callable[[BaseException], None] | None = None,
        owner: QWidget | None = None,
        label: str | None = None,
    ) -> Operation:
        """Start `work` on a pool thread; `success`/`failure` run later on the GUI thread.
        `label` (translated) is shown while it runs; None: "Working…"."""
        if label is None:
            label = _("Working…")
        op = Operation(self, work, success, failure, owner, label)
        self._live.append(op)
        self.busy_changed.emit(len(self._live), label)
        self._pool.start(_Job(op))
        return op

    def show_error(self, owner: QWidget | None, error: BaseException) -> None:
        """The default failure behaviour: one plain sentence in a message box."""
        message = plain_message(error)
        self.last_error = message
        self.error_shown.emit(message)
        self._present(owner if owner is not None and shiboken6.isValid(owner) else None, message)

    def invalidate(self) -> None:
        """Forget every operation in flight: their results will not be delivered (on lock)."""
        self.generation += 1

    @property
    def busy(self) -> int:
        return len(self._live)

    @property
    def idle(self) -> bool:
        return not self._live

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the pool is idle (application exit only)."""
        return bool(self._pool.waitForDone(msecs))

    def _forget(self, op: Operation) -> None:
        if op in self._live:
            self._live.remove(op)
        newest = self._live[-1].label if self._live else ""
        self.busy_changed.emit(len(self._live), newest)
