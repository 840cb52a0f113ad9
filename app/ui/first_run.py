"""First run: create the vault and its first admin, show the recovery secret once (the user
must confirm it was saved; they may print it), and optionally enrol a sync server.

The secret goes to the screen, the clipboard if asked, and the printer if asked: never to a
file FieldChart writes (a person may still choose "print to file" in the print dialog)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.domain.errors import DomainError
from app.i18n import N_, _
from app.services.settings import FIELDS_OF_MODE, SECRETS, DeviceSettings, validate
from app.ui.backend import Backend, CreatedVault
from app.ui.errors import UserFacingError, error_field, plain_message
from app.ui.operation import OperationRunner
from app.ui.settings_scope import unscoped_enrolment
from app.ui.settings_view import (
    AUTH,
    AUTH_FIELD_LABELS,
    KEY_NOT_READY,
    SMART_KEY_HINT,
    DeviceKeyBox,
)
from app.ui.style import icon
from app.ui.widgets import ErrorLabelWidget, hint_label, make_primary


class AdminPage(QWizardPage):
    """Name and passphrase of the first admin; creating the vault happens on Next."""

    def __init__(self, wizard: FirstRunDialog) -> None:
        super().__init__(wizard)
        self.dialog = wizard
        self.setTitle(_("Create this device's vault"))
        self.setSubTitle(
            _(
                "Everything FieldChart records is kept encrypted in this folder. "
                "The first user is an admin, who then adds clinicians and staff."
            )
        )
        self.setCommitPage(True)  # no way back once the vault exists
        self.setButtonText(QWizard.WizardButton.CommitButton, _("Create vault"))
        form = QFormLayout(self)
        folder = QLabel(str(wizard.backend.data_dir), self)
        folder.setObjectName("muted")
        folder.setWordWrap(True)
        form.addRow(_("Folder:"), folder)
        self.user = QLineEdit("admin", self)
        self.user.setAccessibleName(_("Admin user name"))
        self.passphrase = QLineEdit(self)
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName(_("Admin passphrase"))
        self.repeat = QLineEdit(self)
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setAccessibleName(_("Repeat passphrase"))
        form.addRow(_("Admin user name:"), self.user)
        form.addRow(_("Passphrase:"), self.passphrase)
        form.addRow(
            "", hint_label(_("At least 8 characters; a few unrelated words work well."), self)
        )
        form.addRow(_("Repeat passphrase:"), self.repeat)
        self.error = ErrorLabelWidget(self, "formError")
        form.addRow(self.error)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        form.addRow(self.progress)

    def validatePage(self) -> bool:
        if self.dialog.created is not None:
            return True
        if self.passphrase.text() != self.repeat.text():
            self.error.show_message(_("The two passphrases differ."))
            return False
        self.error.clear_message()
        self._busy(True)
        create, user, passphrase = (
            self.dialog.backend.create_vault,
            self.user.text().strip(),
            self.passphrase.text(),
        )
        self.dialog.ops.run(
            lambda: create(user, passphrase),
            success=self._created,
            failure=self._refused,
            owner=self,
            label=_("Creating the vault…"),
        )
        return False  # the wizard moves on when the vault exists

    def _busy(self, busy: bool) -> None:
        for widget in (self.user, self.passphrase, self.repeat):
            widget.setEnabled(not busy)
        self.progress.setVisible(busy)
        button = self.dialog.button(QWizard.WizardButton.CommitButton)
        if button is not None:
            button.setEnabled(not busy)

    def _created(self, created: CreatedVault) -> None:
        self._busy(False)
        self.passphrase.clear()
        self.repeat.clear()
        self.dialog.vault_created(created)

    def _refused(self, exc: BaseException) -> None:
        self._busy(False)
        self.error.show_message(plain_message(exc))


def ask_for_printer(printer: QPrinter, parent: QWidget) -> bool:
    """The system's print dialog; True if the person chose to print."""
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle(_("Print the recovery secret"))
    return dialog.exec() == QPrintDialog.DialogCode.Accepted


def recovery_sheet(secret: str, folder: str) -> QTextDocument:
    """One page: the secret, large and spaced, and what it is for."""
    document = QTextDocument()
    document.setHtml(
        "<h2>"
        + escape(_("FieldChart — recovery secret"))
        + "</h2><p>"
        + escape(_("Vault folder: {folder}").format(folder=folder))
        # i18n: ignore (markup around the secret)
        + "</p>"
        "<p style='font-family: monospace; font-size: 20pt; letter-spacing: 2px'>"
        f"{escape(secret)}</p><p>"
        + _(
            "This secret resets the passphrase of any user of this vault: on the unlock "
            "screen, choose <i>Forgot passphrase? Reset with the recovery secret</i>. Keep this "
            "page locked away from the computer. Letters may be typed in either case; 0 and O, "
            "and 1, I and L, are read alike."
        )
        + "</p>"
    )
    return document


class RecoveryPage(QWizardPage):
    # How to choose the printer: the print dialog; tests print to a PDF file instead.
    choose_printer: Callable[[QPrinter, QWidget], bool] = staticmethod(ask_for_printer)

    def __init__(self, wizard: FirstRunDialog) -> None:
        super().__init__(wizard)
        self.folder = str(wizard.backend.data_dir)
        self.setTitle(_("Save the recovery secret"))
        self.setSubTitle(
            _(
                "It opens the vault if every passphrase is forgotten. It is shown only "
                "now and stored nowhere: write it down or print it, and keep it locked "
                "away from this computer."
            )
        )
        column = QVBoxLayout(self)
        self.secret = QLabel(self)
        self.secret.setObjectName("recoverySecret")
        self.secret.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.secret.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.secret.setAccessibleName(_("Recovery secret"))
        column.addWidget(self.secret)
        copy = QPushButton(_("Copy to clipboard"), self)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.secret.text()))
        self.print_button = QPushButton(_("Print…"), self)
        self.print_button.setToolTip(
            _(
                "Print the recovery secret on paper (printing to a file would leave it on this "
                "computer)"
            )
        )
        self.print_button.clicked.connect(self.print_secret)
        buttons = QHBoxLayout()
        buttons.addWidget(copy)
        buttons.addWidget(self.print_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        column.addStretch(1)
        self.saved = QCheckBox(
            _("I have written down the recovery secret and put it somewhere safe"), self
        )
        self.saved.setAccessibleName(_("Recovery secret saved"))
        column.addWidget(self.saved)
        self.registerField("recoverySaved*", self.saved)

    def initializePage(self) -> None:
        created = self.wizard().property("recovery")
        self.secret.setText(str(created or ""))

    def print_secret(self) -> bool:
        """Print the secret (True if it was sent to the printer)."""
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setDocName(_("FieldChart recovery secret"))
        if not self.choose_printer(printer, self):
            return False
        recovery_sheet(self.secret.text(), self.folder).print_(printer)
        return True


class ServerPage(QWizardPage):
    """Optional: the central FHIR server (can be done later by an admin in Settings)."""

    def __init__(self, wizard: FirstRunDialog) -> None:
        super().__init__(wizard)
        self.dialog = wizard
        self.saved = False
        self.setTitle(_("Sync server (optional)"))
        self.setSubTitle(
            _(
                "Leave the address empty to work offline; an admin can enrol this "
                "device later in Settings."
            )
        )
        form = QFormLayout(self)
        self.server = QLineEdit(self)
        self.server.setPlaceholderText(
            # i18n: ignore (an example address)
            "https://fhir.example.org/fhir"
        )
        self.server.setAccessibleName(_("FHIR server address"))
        self.auth = QComboBox(self)
        for value, text in AUTH:
            self.auth.addItem(_(text), value)  # an AUTH msgid
        self.auth.setAccessibleName(_("Authentication"))
        form.addRow(_("Server address:"), self.server)
        form.addRow(_("Authentication:"), self.auth)
        # One line per setting a mode needs; only the chosen mode's are shown.
        self.inputs: dict[str, QLineEdit] = {}
        for name, label in AUTH_FIELD_LABELS.items():
            line = QLineEdit(self)
            line.setAccessibleName(_(label))  # an AUTH_FIELD_LABELS msgid
            if name in SECRETS:
                line.setEchoMode(QLineEdit.EchoMode.Password)
            # Translators: a form field's caption, e.g. "Reason:"
            form.addRow(_("{label}:").format(label=_(label)), line)
            self.inputs[name] = line
        self.token = self.inputs["bearer_token"]
        self.token_url, self.client_id = self.inputs["token_url"], self.inputs["client_id"]
        self.client_secret = self.inputs["client_secret"]
        self.token_url.setPlaceholderText(
            # i18n: ignore (an example address)
            "https://auth.example.org/oauth2/token"
        )
        self.device_key = DeviceKeyBox(wizard.ops, self)
        self.device_key_caption = QLabel(_("Device key:"), self)
        self.device_key_caption.setBuddy(self.device_key.text)
        form.addRow(self.device_key_caption, self.device_key)
        self.smart_hint = hint_label(_(SMART_KEY_HINT), self)
        form.addRow(self.smart_hint)
        # The facility this device serves (a Group, or Locations, later in Settings).
        self.organization = QLineEdit(self)
        self.organization.setPlaceholderText(_("Organization/<id>, from IT"))
        self.organization.setAccessibleName(_("Facility (Organization)"))
        self.pull_everything = QCheckBox(_("Every patient"), self)
        self.pull_everything.setToolTip(_("IT's choice: pull every patient on the server"))
        self.pull_everything.setAccessibleName(_("Pull every patient on the server"))
        facility = QHBoxLayout()
        facility.addWidget(self.organization, 1)
        facility.addWidget(self.pull_everything)
        form.addRow(_("Facility:"), facility)
        self.error = ErrorLabelWidget(self, "formError")
        form.addRow(self.error)
        self.form = form
        self.auth.currentIndexChanged.connect(lambda _i: self._auth_fields())
        self._auth_fields()

    def _auth_fields(self) -> None:
        """Show exactly the settings the chosen authentication needs."""
        mode = self.auth.currentData()
        needed = FIELDS_OF_MODE.get(mode, ())
        for name, line in self.inputs.items():
            self.form.setRowVisible(line, name in needed)
        smart = mode == "smart-backend"
        self.form.setRowVisible(self.device_key, smart)
        self.form.setRowVisible(self.smart_hint, smart)
        if smart:
            self._device_key()

    def _device_key(self) -> None:
        """Show the device key, created the first time SMART is chosen (the vault exists
        by now: this page comes after it was created)."""
        created, backend = self.dialog.created, self.dialog.backend
        if created is None:
            return
        clinic = created.clinic
        read, create = backend.device_public_key, backend.new_device_key
        if read is not None:
            self.device_key.read_key = lambda: read(clinic)
        if create is not None:
            self.device_key.make_key = lambda: create(clinic)
        self.device_key.ensure()

    def initializePage(self) -> None:
        self._auth_fields()

    def validatePage(self) -> bool:
        created = self.dialog.created
        url = self.server.text().strip()
        if self.saved or not url or created is None:
            return True
        mode = self.auth.currentData()
        if mode == "smart-backend" and self.device_key.busy:
            self.error.show_message(_(KEY_NOT_READY))
            return False
        changes: dict[str, Any] = {"server_url": url, "auth_mode": mode}
        for name in FIELDS_OF_MODE.get(mode, ()):
            changes[name] = self.inputs[name].text().strip() or None
        changes["scope_organization"] = self.organization.text().strip() or None
        changes["pull_everything"] = self.pull_everything.isChecked()
        clinic = created.clinic
        self.error.clear_message()
        check = self.dialog.backend.check_scope  # as in Settings

        def save() -> DeviceSettings:  # as enroll: validated, scoped, checked, then saved
            candidate = validate(replace(clinic.settings.get(), **changes))
            unscoped = unscoped_enrolment(DeviceSettings(), changes)
            if unscoped is not None:
                raise unscoped
            if check is not None:
                check(clinic, candidate)
            return clinic.settings.update(clinic.actor, **changes)

        self.dialog.ops.run(
            save,
            success=self._saved,
            failure=self._refused,
            owner=self,
            label=_("Saving the server…"),
        )
        return False

    def _saved(self, _settings: object) -> None:
        self.saved = True
        self.dialog.accept()

    def _refused(self, exc: BaseException) -> None:
        field = error_field(exc) if isinstance(exc, DomainError | UserFacingError) else None
        labels = {"server_url": N_("Server address"), "scope_organization": N_("Facility")}
        prefix = {**labels, **AUTH_FIELD_LABELS}.get(field or "")
        message = plain_message(exc)
        self.error.show_message(
            # Translators: an error about one setting ("Server address: not a web address")
            _("{setting}: {error}").format(setting=_(prefix), error=message)  # marked msgids
            if prefix
            else message
        )


class FirstRunDialog(QWizard):
    finished_setup = Signal(object)  # CreatedVault, once the wizard is done

    def __init__(
        self, backend: Backend, ops: OperationRunner, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.backend, self.ops = backend, ops
        self.created: CreatedVault | None = None
        self.setWindowTitle(_("FieldChart — First run"))
        self.setWindowIcon(icon("fieldchart"))
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setPixmap(QWizard.WizardPixmap.LogoPixmap, icon("fieldchart").pixmap(48, 48))
        # Fits 1366x768 at 150 % (910x512 logical, less a title bar): the first screen a
        # clinic sees must never be cut off.
        self.setMinimumSize(600, 440)
        self.admin_page = AdminPage(self)
        self.recovery_page = RecoveryPage(self)
        self.server_page = ServerPage(self)
        for page in (self.admin_page, self.recovery_page, self.server_page):
            self.addPage(page)
        for which in (
            QWizard.WizardButton.CommitButton,
            QWizard.WizardButton.NextButton,
            QWizard.WizardButton.FinishButton,
        ):
            make_primary(self.button(which))
        self.accepted.connect(self._done)

    def vault_created(self, created: CreatedVault) -> None:
        self.created = created
        self.setProperty("recovery", created.recovery_secret)
        self.setOption(QWizard.WizardOption.NoCancelButton, True)
        self.next()

    def reject(self) -> None:
        if self.created is not None:
            return  # the vault exists: finish the wizard (the secret must be confirmed)
        super().reject()

    def _done(self) -> None:
        if self.created is not None:
            self.setProperty("recovery", None)  # do not keep the secret around
            if self.backend.confirm_created is not None:
                self.backend.confirm_created()  # the admin saved the secret: the vault is made
            self.finished_setup.emit(self.created)
