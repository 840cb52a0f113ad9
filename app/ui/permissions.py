"""Which actions a role may run, and the tooltip that says why one is disabled."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.domain.commands import Command
from app.domain.roles import Role
from app.i18n import N_, _, pgettext

# Shown as `_(ADMIN_ONLY)` / `_(ADMINS_NO_CHARTS)` (translated where shown).
ADMIN_ONLY = N_("Only an admin may do this; sign in as an admin.")
ADMINS_NO_CHARTS = N_(
    "Admins manage users, devices and sync; they do not open charts or schedules."
)


def role_name(role: Role | str) -> str:
    """A role as a person reads it, in the current language ('clinician', 'staff', 'admin');
    a value this version does not know is shown as it is."""
    value = role.value if isinstance(role, Role) else role
    if value == Role.CLINICIAN.value:
        # Translators: a user's role
        return pgettext("role", "clinician")
    if value == Role.STAFF.value:
        # Translators: a user's role (front desk and nursing staff)
        return pgettext("role", "staff")
    if value == Role.ADMIN.value:
        # Translators: a user's role (manages users, devices and sync)
        return pgettext("role", "admin")
    return value


def why_not(command: type[Command], role: Role) -> str | None:
    """None if `role` may run `command`, else a sentence saying who may."""
    if role in command.ALLOWED_ROLES:
        return None
    names = [role_name(r) for r in sorted(command.ALLOWED_ROLES, key=lambda r: r.value)]
    allowed = names[0]
    for name in names[1:]:
        # Translators: two roles that may do something ("clinician or staff")
        allowed = _("{first} or {second}").format(first=allowed, second=name)
    # command.LABEL is an N_-marked constant of app/domain/commands.py ("register patients").
    return _("Your role ({role}) may not {action}; this needs a {allowed}.").format(
        role=role_name(role), action=_(command.LABEL), allowed=allowed
    )


def gate(target: QAction | QWidget, reason: str | None, tip: str = "") -> None:
    """Enable `target` when there is no reason against it; otherwise disable and explain.
    `reason` and `tip` come translated."""
    target.setEnabled(reason is None)
    target.setToolTip(reason if reason is not None else tip)
    if isinstance(target, QAction):
        target.setStatusTip(reason or tip)
