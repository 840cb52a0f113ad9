"""Users of this vault (admins): list, add with a role, disable, enable again; and every
user's own passphrase change (File menu)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


Run = Callable[..., Any]  # OperationRunner.run / ClinicSession.run


class PassphraseFormDialog(QDialog):
    """A small form of named fields (a new passphrase is asked twice: "new" and "repeat"),
    each with its own error line; the work runs off the GUI thread through `run`."""

    def __init__(
        self,
        title: str,
        intro: str,
        fields: list[tuple[str, str, bool]],  # (key, label, hidden like a password)
        submit_text: str,
        run: Run,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.run = run
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        layout.addWidget(hint_label(intro, self))
        form = QFormLayout()
        self.inputs: dict[str, QLineEdit] = {}
        self.errors: dict[str, ErrorLabelWidget] = {}
        for key, label, hidden in fields:
            box = QWidget(self)
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            edit = QLineEdit(box)
            if hidden:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setAccessibleName(label)
            column.addWidget(edit)
            self.errors[key] = ErrorLabelWidget(box)
            column.addWidget(self.errors[key])
            form.addRow(f"{label}:", box)
            self.inputs[key] = edit
        layout.addLayout(form)
        self.form_error = ErrorLabelWidget(self, "formError")
        layout.addWidget(self.form_error)
        buttons = QDialogButtonBox(self)
        self.submit_button = buttons.addButton(submit_text, QDialogButtonBox.ButtonRole.AcceptRole)
        make_primary(self.submit_button)
        self.submit_button.setDefault(True)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.result_value: Any = None
        first = next(iter(self.inputs.values()), None)
        if first is not None:
            first.setFocus()

    def values(self) -> dict[str, str]:
        return {key: edit.text() for key, edit in self.inputs.items()}

    def show_error(self, message: str, field: str | None) -> None:
        if field in self.errors:
            self.errors[field].show_message(message)
            mark_invalid(self.inputs[field], True)
            self.inputs[field].setFocus()
        else:
            self.form_error.show_message(message)

    def clear_errors(self) -> None:
        for key, error in self.errors.items():
            error.clear_message()
            mark_invalid(self.inputs[key], False)
        self.form_error.clear_message()

    def submit(self) -> None:
        self.clear_errors()
        values = self.values()
        for key, label, _hidden in self.fields_required():
            if not values.get(key, "").strip():
                self.show_error(f"Enter the {label.lower()}.", key)
                return
        if "repeat" in values and values["new"] != values["repeat"]:
            self.show_error("The two new passphrases differ.", "repeat")
            return
        self.submit_button.setEnabled(False)
        self.run(
            lambda: self.work(values),
            success=self._done,
            failure=self._refused,
            owner=self,
            label=self.windowTitle() + "…",
        )

    def fields_required(self) -> list[tuple[str, str, bool]]:
        return [
            (key, self._label_of(key), edit.echoMode() == QLineEdit.EchoMode.Password)
            for key, edit in self.inputs.items()
        ]

    def _label_of(self, key: str) -> str:
        return self.inputs[key].accessibleName()

    def work(self, values: dict[str, str]) -> Any:
        raise NotImplementedError

    def _done(self, result: Any) -> None:
        self.result_value = result
        for edit in self.inputs.values():
            edit.clear()
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self.submit_button.setEnabled(True)
        for key in ("current", "new", "repeat"):  # passphrases are typed again, never kept
            if key in self.inputs:
                self.inputs[key].clear()
        self.show_error(plain_message(exc), error_field(exc))


class ChangePassphraseDialog(PassphraseFormDialog):
    """The signed-in user changes their own passphrase (File ▸ Change my passphrase…)."""

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(
            "Change my passphrase",
            f"Signed in as {session.actor.user}. Enter your current passphrase, then the new one "
            "twice (at least 8 characters). Other users are not affected.",
            [
                ("current", "Current passphrase", True),
                ("new", "New passphrase", True),
                ("repeat", "Repeat new passphrase", True),
            ],
            "Change passphrase",
            session.run,
            parent,
        )
        self.session = session

    def work(self, values: dict[str, str]) -> None:
        self.session.users().change_passphrase(values["current"], values["new"])

    def _done(self, result: Any) -> None:
        self.session.users_changed.emit()  # the audit has a new entry
        super()._done(result)


class EnableUserDialog(PassphraseFormDialog):
    """An admin lets a disabled user sign in again, with a new passphrase."""

    def __init__(self, session: ClinicSession, name: str, parent: QWidget | None = None) -> None:
        super().__init__(
            f"Enable {name}",
            f"{name} was disabled, which removed their passphrase. Give them a new one (at least "
            "8 characters) and tell it to them in person; they can change it after signing in.",
            [("new", "New passphrase", True), ("repeat", "Repeat new passphrase", True)],
            "Enable user",
            session.run,
            parent,
        )
        self.session, self.name = session, name

    def work(self, values: dict[str, str]) -> None:
        self.session.users().enable_user(self.name, values["new"])

    def _done(self, result: Any) -> None:
        self.session.users_changed.emit()
        super()._done(result)


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
        self.enable_button = QPushButton("Enable…", self)
        self.enable_button.setAccessibleName("Enable the selected user again")
        top.addWidget(self.add_button)
        top.addWidget(self.disable_button)
        top.addWidget(self.enable_button)
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
        self.enable_button.clicked.connect(self.enable_selected)
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
        enable = admin or (None if user else "Select a user first.")
        if enable is None and user is not None and not user.disabled:
            enable = "This user is active."
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

    def enable_selected(self) -> None:
        user = self._selected()
        if user is None or not self.enable_button.isEnabled():
            return
        self.last_dialog = EnableUserDialog(self.session, user.name, self)
        self.last_dialog.open()
