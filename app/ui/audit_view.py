"""Audit (admins): who recorded what and who viewed which chart, when, newest first; and
admin actions (users, passphrases, settings) and refused unlocks."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _
from app.services.dto import AuditEntry, Changes
from app.ui.formatting import when
from app.ui.permissions import ADMIN_ONLY, gate, role_name
from app.ui.session import ClinicSession
from app.ui.tables import read_only_table
from app.ui.widgets import title_label

# The texts here are N_-marked: shown as `_(text)`.
COLUMNS = (
    N_("When"),
    N_("User"),
    N_("Role"),
    N_("Action"),
    N_("Patient"),
    N_("Details"),
    N_("Patient id"),
    N_("Device"),
)
ACTIONS = {"ChartViewed": N_("Viewed chart"), "UnlockFailed": N_("Unlock refused")}
# Why an unlock was refused.
UNLOCK_REASONS = {
    "wrong-passphrase": N_("wrong passphrase"),
    "wrong-recovery-secret": N_("wrong recovery secret"),
    "unknown-user": N_("a user name this device does not know"),
    "disabled-user": N_("the user is disabled"),
    "passphrase-reset-required": N_("the user needs a new passphrase"),
}


def details(e: AuditEntry) -> str:
    """What an admin action was about, or why an unlock was refused (names only)."""
    if e.action == "UnlockFailed":
        return _(UNLOCK_REASONS[e.detail]) if e.detail in UNLOCK_REASONS else e.detail
    if e.action == "PassphraseReset" and e.detail == "recovery secret":
        return _("{user}, with the recovery secret").format(user=e.subject)
    if e.action == "SettingsChanged":
        return e.detail.replace("_", " ")
    return ", ".join(part for part in (e.subject, e.detail) if part)


def action_text(action: str) -> str:
    """'VitalsRecorded' -> 'Vitals recorded' (ACTIONS translated; the others in English)."""
    if action in ACTIONS:
        return _(ACTIONS[action])
    words = "".join(f" {ch.lower()}" if ch.isupper() else ch for ch in action).strip()
    return words[:1].upper() + words[1:]


class AuditView(QWidget):
    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.entries: list[AuditEntry] = []
        self._seq = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        top.addWidget(title_label(_("Audit"), self))
        top.addStretch(1)
        top.addWidget(QLabel(_("User:"), self))
        self.user = QLineEdit(self)
        self.user.setPlaceholderText(_("all users"))
        self.user.setAccessibleName(_("Filter by user"))
        self.user.setMaximumWidth(180)
        top.addWidget(self.user)
        # Translators: how many audit entries to show
        top.addWidget(QLabel(_("Show:"), self))
        self.limit = QSpinBox(self)
        self.limit.setRange(50, 5000)
        self.limit.setSingleStep(50)
        self.limit.setValue(200)
        # Translators: after a number (keep the space before it)
        self.limit.setSuffix(_(" entries"))
        self.limit.setAccessibleName(_("Number of entries"))
        top.addWidget(self.limit)
        self.refresh_button = QPushButton(_("Refresh"), self)
        top.addWidget(self.refresh_button)
        layout.addLayout(top)
        self.table = read_only_table(
            self, [_(title) for title in COLUMNS], _("Audit entries"), stretch=5, grid=False
        )
        layout.addWidget(self.table, 1)
        self.refresh_button.clicked.connect(self.refresh)
        self.user.returnPressed.connect(self.refresh)
        gate(self, None if session.is_admin else _(ADMIN_ONLY))
        session.changed.connect(self._on_changed)

    def refresh(self) -> None:
        if not self.session.is_admin:
            return
        self._seq += 1
        seq, queries = self._seq, self.session.clinic.queries
        limit, user = self.limit.value(), self.user.text().strip() or None
        self.session.run(
            lambda: queries.audit(limit=limit, user=user),
            success=lambda rows: self._show(seq, rows),
            owner=self,
            label=_("Reading audit…"),
        )

    def _show(self, seq: int, entries: list[AuditEntry]) -> None:
        if seq != self._seq:
            return
        self.entries = entries
        self.table.setRowCount(len(entries))
        for r, e in enumerate(entries):
            values = (
                when(e.at),
                e.user or (_("(not a user here)") if e.action == "UnlockFailed" else ""),
                role_name(e.role) if e.role else "",
                action_text(e.action),
                e.patient_name or (_("(not on this device)") if e.patient_id else ""),
                details(e),
                e.patient_id or "",
                e.device_id[:8],
            )
            for col, value in enumerate(values):
                self.table.setItem(r, col, QTableWidgetItem(value))

    def _on_changed(self, changes: Changes) -> None:
        if "audit" in changes.areas and self.isVisible():
            self.refresh()
