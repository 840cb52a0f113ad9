"""Users of this vault (admins): list, add with a role, disable."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import DomainError
from app.domain.roles import Role
from app.ui.backend import UserRow
from app.ui.errors import UserFacingError, error_field, plain_message
from app.ui.formatting import when
from app.ui.permissions import ADMIN_ONLY, gate
from app.ui.session import ClinicSession
from app.ui.widgets import ErrorLabelWidget, hint_label, make_primary, mark_invalid, title_label

ROLES = (
    (Role.CLINICIAN, "Clinician — records and reads charts"),
    (Role.STAFF, "Staff — registers patients, books follow-ups"),
    (Role.ADMIN, "Admin — users, devices, sync; no charts"),
)


class AddUserDialog(QDialog):
    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Add user")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        layout.addWidget(
            hint_label(
                "The new user signs in with this name and passphrase. Tell them the passphrase in "
                "person; they can change it later.",
                self,
            )
        )
        form = QFormLayout()
        self.inputs: dict[str, QWidget] = {}
        self.errors: dict[str, ErrorLabelWidget] = {}
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("lower-case, e.g. amani.k")
        self.role = QComboBox(self)
        for role, text in ROLES:
            self.role.addItem(text, role.value)
        self.passphrase = QLineEdit(self)
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit(self)
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        for key, label, widget in (
            ("name", "User name", self.name),
            ("role", "Role", self.role),
            ("passphrase", "Passphrase", self.passphrase),
            ("repeat", "Repeat passphrase", self.repeat),
        ):
            box = QWidget(self)
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            column.addWidget(widget)
            self.errors[key] = ErrorLabelWidget(box)
            column.addWidget(self.errors[key])
            widget.setAccessibleName(label)
            form.addRow(f"{label}:", box)
            self.inputs[key] = widget
        layout.addLayout(form)
        self.form_error = ErrorLabelWidget(self, "formError")
        layout.addWidget(self.form_error)
        buttons = QDialogButtonBox(self)
        self.add_button = buttons.addButton("Add user", QDialogButtonBox.ButtonRole.AcceptRole)
        make_primary(self.add_button)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def show_error(self, message: str, field: str | None) -> None:
        if field in self.errors:
            self.errors[field].show_message(message)
            mark_invalid(self.inputs[field], True)
            self.inputs[field].setFocus()
        else:
            self.form_error.show_message(message)

    def submit(self) -> None:
        for key, error in self.errors.items():
            error.clear_message()
            mark_invalid(self.inputs[key], False)
        self.form_error.clear_message()
        if self.passphrase.text() != self.repeat.text():
            self.show_error("The two passphrases differ.", "repeat")
            return
        name, role, passphrase = (
            self.name.text().strip(),
            Role(self.role.currentData()),
            self.passphrase.text(),
        )
        directory = self.session.users()
        self.add_button.setEnabled(False)
        self.session.run(
            lambda: directory.add_user(name, role, passphrase),
            success=lambda _r: self._added(),
            failure=self._refused,
            owner=self,
            label="Adding user…",
        )

    def _added(self) -> None:
        self.session.users_changed.emit()
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self.add_button.setEnabled(True)
        if isinstance(exc, DomainError | UserFacingError):
            self.show_error(plain_message(exc), error_field(exc))
        else:
            self.session.ops.show_error(self, exc)


class UsersView(QWidget):
    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.users: list[UserRow] = []
        self.last_dialog: QDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        top.addWidget(title_label("Users", self))
        top.addStretch(1)
        self.add_button = QPushButton("Add user…", self)
        make_primary(self.add_button)
        self.disable_button = QPushButton("Disable…", self)
        self.disable_button.setProperty("danger", True)
        top.addWidget(self.add_button)
        top.addWidget(self.disable_button)
        layout.addLayout(top)
        self.table = QTableWidget(0, 4, self)
        self.table.setHorizontalHeaderLabels(["User", "Role", "Added", "Status"])
        self.table.setAccessibleName("Users")
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.note = QLabel(self)
        self.note.setObjectName("muted")
        layout.addWidget(self.note)
        self.add_button.clicked.connect(self.add_user)
        self.disable_button.clicked.connect(self.disable_selected)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        session.users_changed.connect(self.refresh)
        self._update_buttons()

    def refresh(self) -> None:
        if not self.session.is_admin:
            return
        directory = self.session.users()
        self.session.run(
            directory.list_users, success=self._show, owner=self, label="Reading users…"
        )

    def _show(self, users: list[UserRow]) -> None:
        self.users = users
        self.table.setRowCount(len(users))
        for r, u in enumerate(users):
            for col, value in enumerate(
                (u.name, u.role.value, when(u.created_at), "Disabled" if u.disabled else "Active")
            ):
                self.table.setItem(r, col, QTableWidgetItem(value))
        self.note.setText(f"{sum(not u.disabled for u in users)} active users")
        self._update_buttons()

    def _selected(self) -> UserRow | None:
        row = self.table.currentRow()
        return (
            self.users[row] if self.table.selectedItems() and 0 <= row < len(self.users) else None
        )

    def _update_buttons(self) -> None:
        admin = None if self.session.is_admin else ADMIN_ONLY
        gate(self.add_button, admin)
        user = self._selected()
        reason = admin or (None if user else "Select a user first.")
        if reason is None and user is not None:
            if user.disabled:
                reason = "This user is already disabled."
            elif user.name == self.session.actor.user:
                reason = "You cannot disable the user you are signed in as."
        gate(self.disable_button, reason)

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
            "Disable user",
            f"Disable {user.name}? Their passphrase stops working at once.",
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
            label="Disabling user…",
        )
