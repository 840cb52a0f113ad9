"""Users of this vault (admins): list, add with a role, disable, enable again. The dialogs
are in user_dialogs.py."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _, ngettext, pgettext
from app.i18n.formatting import count
from app.ui.backend import UserRow
from app.ui.formatting import when
from app.ui.permissions import ADMIN_ONLY, gate, role_name
from app.ui.session import ClinicSession
from app.ui.tables import read_only_table
from app.ui.user_dialogs import AddUserDialog, EnableUserDialog
from app.ui.widgets import make_primary, title_label

# N_-marked column titles, shown as `_(title)`.
COLUMNS = (
    N_("User"),
    N_("Role"),
    # Translators: the column with the day a user was added
    N_("Added"),
    N_("Status"),
)


class UsersView(QWidget):
    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.users: list[UserRow] = []
        self.last_dialog: QDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        top.addWidget(title_label(_("Users"), self))
        top.addStretch(1)
        self.add_button = QPushButton(_("Add user…"), self)
        make_primary(self.add_button)
        self.disable_button = QPushButton(_("Disable…"), self)
        self.disable_button.setProperty("danger", True)
        self.enable_button = QPushButton(_("Enable…"), self)
        self.enable_button.setAccessibleName(_("Enable the selected user again"))
        top.addWidget(self.add_button)
        top.addWidget(self.disable_button)
        top.addWidget(self.enable_button)
        layout.addLayout(top)
        columns = [_(title) for title in COLUMNS]
        self.table = read_only_table(self, columns, _("Users"), single=True, grid=False)
        # Here every column shares the width, rather than one taking what is left.
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.note = QLabel(self)
        self.note.setObjectName("muted")
        layout.addWidget(self.note)
        self.add_button.clicked.connect(self.add_user)
        self.disable_button.clicked.connect(self.disable_selected)
        self.enable_button.clicked.connect(self.enable_selected)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        session.users_changed.connect(self.refresh)
        self._update_buttons()

    def refresh(self) -> None:
        if not self.session.is_admin:
            return
        directory = self.session.users()
        self.session.run(
            directory.list_users, success=self._show, owner=self, label=_("Reading users…")
        )

    def _show(self, users: list[UserRow]) -> None:
        self.users = users
        self.table.setRowCount(len(users))
        for r, u in enumerate(users):
            for col, value in enumerate(
                (
                    u.name,
                    role_name(u.role),
                    when(u.created_at),
                    # Translators: a user's status
                    pgettext("user", "Disabled") if u.disabled else pgettext("user", "Active"),
                )
            ):
                self.table.setItem(r, col, QTableWidgetItem(value))
        active = sum(not u.disabled for u in users)
        self.note.setText(
            ngettext("{count} active user", "{count} active users", active).format(
                count=count(active)
            )
        )
        self._update_buttons()

    def _selected(self) -> UserRow | None:
        row = self.table.currentRow()
        return (
            self.users[row] if self.table.selectedItems() and 0 <= row < len(self.users) else None
        )

    def _update_buttons(self) -> None:
        admin = None if self.session.is_admin else _(ADMIN_ONLY)
        gate(self.add_button, admin)
        user = self._selected()
        reason = admin or (None if user else _("Select a user first."))
        if reason is None and user is not None:
            if user.disabled:
                reason = _("This user is already disabled.")
            elif user.name == self.session.actor.user:
                reason = _("You cannot disable the user you are signed in as.")
        gate(self.disable_button, reason)
        enable = admin or (None if user else _("Select a user first."))
        if enable is None and user is not None and not user.disabled:
            enable = _("This user is active.")
        gate(self.enable_button, enable)

    def add_user(self) -> None:
        if self.add_button.isEnabled():
            self.last_dialog = AddUserDialog(self.session, self)
            self.last_dialog.open()

    def disable_selected(self) -> None:
        user = self._selected()
        if user is None or not self.disable_button.isEnabled():
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            _("Disable user"),
            _("Disable {user}? Their passphrase stops working at once.").format(user=user.name),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda b: (
                self._disable(user.name)
                if box.standardButton(b) == QMessageBox.StandardButton.Yes
                else None
            )
        )
        self.last_dialog = box
        box.open()

    def _disable(self, name: str) -> None:
        directory = self.session.users()
        self.session.run(
            lambda: directory.disable_user(name),
            success=lambda _r: self.session.users_changed.emit(),
            owner=self,
            label=_("Disabling user…"),
        )

    def enable_selected(self) -> None:
        user = self._selected()
        if user is None or not self.enable_button.isEnabled():
            return
        self.last_dialog = EnableUserDialog(self.session, user.name, self)
        self.last_dialog.open()
