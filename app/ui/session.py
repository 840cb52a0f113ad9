"""One unlocked session: the clinic services, who is acting, and change notifications.

Views never call each other: they run commands through `execute` and refresh when
`changed` reports an area they show (Changes.areas: "patients", "chart", "schedule", "audit").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QDateTime, QObject, Signal
from PySide6.QtWidgets import QWidget

from app.domain.commands import Command
from app.domain.roles import Actor, Role
from app.i18n import _
from app.services.clinic import Clinic
from app.services.dto import Changes
from app.services.settings import DeviceSettings
from app.ui import formatting
from app.ui.backend import Backend, UserDirectory
from app.ui.operation import Operation, OperationRunner
from app.ui.permissions import why_not
from app.ui.preferences import Preferences
from app.ui.sync_bridge import SyncBridge


class ClinicSession(QObject):
    changed = Signal(object)  # Changes
    settings_changed = Signal(object)  # DeviceSettings
    users_changed = Signal()
    language_requested = Signal(str)  # Settings asks for the user's language (app_controller)

    def __init__(
        self,
        clinic: Clinic,
        backend: Backend,
        ops: OperationRunner,
        prefs: Preferences,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.backend = backend
        self.ops = ops
        self.prefs = prefs
        self.actor: Actor = clinic.actor
        self.catalog = clinic.catalog  # with the device's local medicine names
        self.sync = SyncBridge(backend.sync_for(clinic), ops, self)

    def now(self) -> datetime:
        """The clinic clock's instant in local time: the UI's only "now"."""
        return self.clinic.clock().astimezone()

    def today(self) -> date:
        return self.now().date()

    def now_q(self) -> QDateTime:
        return formatting.qdatetime_of(self.now())

    @property
    def role(self) -> Role:
        return self.actor.role

    @property
    def is_admin(self) -> bool:
        return self.actor.role is Role.ADMIN

    def why_not(self, command: type[Command]) -> str | None:
        return why_not(command, self.actor.role)

    def users(self) -> UserDirectory:
        return self.backend.users(self.clinic)

    def run(
        self,
        work: Callable[[], Any],
        *,
        success: Callable[[Any], None] | None = None,
        failure: Callable[[BaseException], None] | None = None,
        owner: QWidget | None = None,
        label: str | None = None,
    ) -> Operation:
        return self.ops.run(work, success=success, failure=failure, owner=owner, label=label)

    def execute(
        self,
        command: Command,
        *,
        owner: QWidget | None,
        success: Callable[[Changes], None] | None = None,
        failure: Callable[[BaseException], None] | None = None,
        label: str | None = None,
    ) -> Operation:
        """Record `command` off the GUI thread; on success every view hears what changed.
        `label` (translated) is shown while it runs; None: "Saving…"."""
        if label is None:
            label = _("Saving…")
        actor, commands = self.actor, self.clinic.commands

        def done(changes: Changes) -> None:
            if success is not None:
                success(changes)
            self.changed.emit(changes)

        return self.run(
            lambda: commands.execute(command, actor),
            success=done,
            failure=failure,
            owner=owner,
            label=label,
        )

    def update_settings(
        self,
        changes: dict[str, Any],
        *,
        owner: QWidget | None,
        success: Callable[[DeviceSettings], None] | None = None,
        failure: Callable[[BaseException], None] | None = None,
    ) -> Operation:
        actor, settings = self.actor, self.clinic.settings

        def done(new: DeviceSettings) -> None:
            if success is not None:
                success(new)
            self.settings_changed.emit(new)
            self.sync.reconfigure(owner)

        return self.run(
            lambda: settings.update(actor, **changes),
            success=done,
            failure=failure,
            owner=owner,
            label=_("Saving settings…"),
        )
