"""Re-emits the sync worker's callbacks (called on its own threads) as Qt signals.

Widgets connect to `status_changed` and so are only ever touched on the GUI thread.
Calls into the worker (sync now, resolve) run through the operation runner: they may block.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app.i18n import _
from app.services.sync_status import NOT_CONFIGURED, Resolution, SyncControl, SyncStatus
from app.ui.operation import OperationRunner


class SyncBridge(QObject):
    status_changed = Signal(object)  # SyncStatus, always delivered on the GUI thread
    _incoming = Signal(object)

    def __init__(
        self, control: SyncControl, ops: OperationRunner, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.control = control
        self.status: SyncStatus = NOT_CONFIGURED
        self._ops = ops
        self._closed = False
        self._incoming.connect(self._on_status)
        control.subscribe(self._from_worker)

    def _from_worker(self, status: SyncStatus) -> None:
        # Any thread. Emitting to an object living on the GUI thread queues the call there.
        if self._closed or not shiboken6.isValid(self):
            return
        with suppress(RuntimeError):  # deleted between the check and the emit (after a lock)
            self._incoming.emit(status)

    def _on_status(self, status: SyncStatus) -> None:
        self.status = status
        self.status_changed.emit(status)

    def close(self) -> None:
        """Stop relaying (on lock); the worker may still call back, and is ignored."""
        self._closed = True

    def reconfigure(self, owner: QWidget | None = None) -> None:
        """Settings changed: the worker restarts off the GUI thread (it may wait for a cycle)."""
        control = self.control
        self._ops.run(control.reconfigure, owner=owner, label=_("Applying sync settings…"))

    def sync_now(self, owner: QWidget | None = None) -> None:
        control = self.control
        self._ops.run(control.sync_now, owner=owner, label=_("Starting sync…"))

    def resolve(
        self,
        command_id: str,
        resolution: Resolution,
        edited_value: str | None = None,
        *,
        owner: QWidget | None = None,
        success: Callable[[object], None] | None = None,
    ) -> None:
        control = self.control
        self._ops.run(
            lambda: control.resolve(command_id, resolution, edited_value),
            success=success,
            owner=owner,
            label=_("Resolving…"),
        )
