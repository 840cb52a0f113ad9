"""The dialogs about users: an admin adds a user or enables one again, and every user
changes their own passphrase (File menu). The unlock screen's recovery reset builds on the
same passphrase form."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import DomainError
from app.domain.roles import Role
from app.i18n import N_, _
from app.ui.errors import UserFacingError, error_field, plain_message
from app.ui.session import ClinicSession
from app.ui.widgets import ErrorLabelWidget, hint_label, make_primary, mark_invalid

# Marked here, translated in the role combo.
ROLES = (
    (Role.CLINICIAN, N_("Clinician — records and reads charts")),
    (Role.STAFF, N_("Staff — registers patients, books follow-ups")),
    (Role.ADMIN, N_("Admin — users, devices, sync; no charts")),
)
# What an empty passphrase-form field says, by field key (translated where shown).
MISSING = {
    "secret": N_("Enter the recovery secret."),
    "user": N_("Enter the user."),
    "current": N_("Enter the current passphrase."),
    "new": N_("Enter the new passphrase."),
    "repeat": N_("Enter the repeat new passphrase."),
}

Run = Callable[..., Any]  # OperationRunner.run / ClinicSession.run


class FieldsDialog(QDialog):
    """A small dialog of named inputs, each with its own error line, and one submit button.

    A subclass adds its rows (`add_row`, keeping the input in `inputs`), then the buttons."""

    inputs: Mapping[str, QWidget]

    def __init__(self, title: str, intro: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(460)
        self.outer = QVBoxLayout(self)
        self.outer.addWidget(hint_label(intro, self))
        self.form = QFormLayout()
        self.errors: dict[str, ErrorLabelWidget] = {}

    def add_row(self, key: str, label: str, widget: QWidget) -> None:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(widget)
        self.errors[key] = ErrorLabelWidget(box)
        column.addWidget(self.errors[key])
        widget.setAccessibleName(label)
        # Translators: a form field's caption, e.g. "Reason:"
        self.form.addRow(_("{label}:").format(label=label), box)

    def add_buttons(self, submit_text: str) -> QPushButton:
        """The form, the error line above the buttons, and Submit / Cancel; returns Submit."""
        self.outer.addLayout(self.form)
        self.form_error = ErrorLabelWidget(self, "formError")
        self.outer.addWidget(self.form_error)
        buttons = QDialogButtonBox(self)
        submit = buttons.addButton(submit_text, QDialogButtonBox.ButtonRole.AcceptRole)
        make_primary(submit)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        self.outer.addWidget(buttons)
        return submit

    def submit(self) -> None:
        raise NotImplementedError

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


class AddUserDialog(FieldsDialog):
    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(
            _("Add user"),
            _(
                "The new user signs in with this name and passphrase. Tell them the passphrase "
                "in person; they can change it later."
            ),
            parent,
        )
        self.session = session
        self.inputs: dict[str, QWidget] = {}
        self.name = QLineEdit(self)
        self.name.setPlaceholderText(_("lower-case, e.g. amani.k"))
        self.role = QComboBox(self)
        for role, text in ROLES:
            self.role.addItem(_(text), role.value)  # a ROLES msgid
        self.passphrase = QLineEdit(self)
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit(self)
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        for key, label, widget in (
            ("name", _("User name"), self.name),
            ("role", _("Role"), self.role),
            ("passphrase", _("Passphrase"), self.passphrase),
            ("repeat", _("Repeat passphrase"), self.repeat),
        ):
            self.add_row(key, label, widget)
            self.inputs[key] = widget
        self.add_button = self.add_buttons(_("Add user"))

    def submit(self) -> None:
        self.clear_errors()
        if self.passphrase.text() != self.repeat.text():
            self.show_error(_("The two passphrases differ."), "repeat")
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
            label=_("Adding user…"),
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


class PassphraseFormDialog(FieldsDialog):
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
        super().__init__(title, intro, parent)
        self.run = run
        self.inputs: dict[str, QLineEdit] = {}
        for key, label, hidden in fields:
            edit = QLineEdit(self)
            if hidden:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            self.add_row(key, label, edit)
            self.inputs[key] = edit
        self.submit_button = self.add_buttons(submit_text)
        self.submit_button.setDefault(True)
        self.result_value: Any = None
        first = next(iter(self.inputs.values()), None)
        if first is not None:
            first.setFocus()

    def values(self) -> dict[str, str]:
        return {key: edit.text() for key, edit in self.inputs.items()}

    def submit(self) -> None:
        self.clear_errors()
        values = self.values()
        for key, label, _hidden in self.fields_required():
            if not values.get(key, "").strip():
                missing = MISSING.get(key)
                self.show_error(
                    _(missing)  # a MISSING msgid
                    if missing
                    # Translators: {field} is a field's label, in lower case
                    else _("Enter the {field}.").format(field=label.lower()),
                    key,
                )
                return
        if "repeat" in values and values["new"] != values["repeat"]:
            self.show_error(_("The two new passphrases differ."), "repeat")
            return
        self.submit_button.setEnabled(False)
        self.run(
            lambda: self.work(values),
            success=self._done,
            failure=self._refused,
            owner=self,
            # Translators: a task under way, named by its window ("Reset a passphrase…")
            label=_("{task}…").format(task=self.windowTitle()),
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


class UserPassphraseDialog(PassphraseFormDialog):
    """A passphrase form run in a signed-in session; once done, the users list and the audit
    (which has a new entry) are told through `users_changed`."""

    def __init__(
        self,
        session: ClinicSession,
        title: str,
        intro: str,
        fields: list[tuple[str, str, bool]],
        submit_text: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(title, intro, fields, submit_text, session.run, parent)
        self.session = session

    def _done(self, result: Any) -> None:
        self.session.users_changed.emit()
        super()._done(result)


class ChangePassphraseDialog(UserPassphraseDialog):
    """The signed-in user changes their own passphrase (File ▸ Change my passphrase…)."""

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(
            session,
            _("Change my passphrase"),
            _(
                "Signed in as {user}. Enter your current passphrase, then the new one "
                "twice (at least 8 characters). Other users are not affected."
            ).format(user=session.actor.user),
            [
                ("current", _("Current passphrase"), True),
                ("new", _("New passphrase"), True),
                ("repeat", _("Repeat new passphrase"), True),
            ],
            _("Change passphrase"),
            parent,
        )

    def work(self, values: dict[str, str]) -> None:
        self.session.users().change_passphrase(values["current"], values["new"])


class EnableUserDialog(UserPassphraseDialog):
    """An admin lets a disabled user sign in again, with a new passphrase."""

    def __init__(self, session: ClinicSession, name: str, parent: QWidget | None = None) -> None:
        super().__init__(
            session,
            _("Enable {user}").format(user=name),
            _(
                "{user} was disabled, which removed their passphrase. Give them a new one (at "
                "least 8 characters) and tell it to them in person; they can change it after "
                "signing in."
            ).format(user=name),
            [("new", _("New passphrase"), True), ("repeat", _("Repeat new passphrase"), True)],
            _("Enable user"),
            parent,
        )
        self.name = name

    def work(self, values: dict[str, str]) -> None:
        self.session.users().enable_user(self.name, values["new"])
