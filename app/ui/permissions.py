"""Which actions a role may run, and the tooltip that says why one is disabled."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.domain.commands import Command
from app.domain.roles import Role

ADMIN_ONLY = "Only an admin may do this; sign in as an admin."
ADMINS_NO_CHARTS = "Admins manage users, devices and sync; they do not open charts or schedules."


def why_not(command: type[Command], role: Role) -> str | None:
    """None if `role` may run `command`, else a sentence saying who may."""
    if role in command.ALLOWED_ROLES:
        return None
    allowed = " or ".join(sorted(r.value for r in command.ALLOWED_ROLES))
    return f"Your role ({role.value}) may not {command.LABEL}; this needs a {allowed}."


def gate(target: QAction | QWidget, reason: str | None, tip: str = "") -> None:
    """Enable `target` when there is no reason against it; otherwise disable and explain."""
    target.setEnabled(reason is None)
    target.setToolTip(reason if reason is not None else tip)
    if isinstance(target, QAction):
        target.setStatusTip(reason or tip)
