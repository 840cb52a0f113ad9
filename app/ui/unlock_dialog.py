"""Unlock: user name and passphrase. Unlocking runs off the GUI thread (Argon2id, and the
store's growing delay after wrong passphrases), so the window stays responsive meanwhile.

"Forgot passphrase?" resets a user's passphrase with the vault's recovery secret."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _
from app.i18n.formatting import count
from app.services.clinic import Clinic
from app.ui.backend import Backend
from app.ui.errors import error_field, plain_message
from app.ui.operation import OperationRunner
from app.ui.preferences import Preferences
from app.ui.style import icon
from app.ui.user_dialogs import PassphraseFormDialog
from app.ui.widgets import ErrorLabelWidget, hint_label, make_primary

# Marked here, translated where shown.
WRONG_HINT = N_(
    "{error} Each wrong attempt makes the next one wait a little longer (after three, 1 s, "
    "2 s, 4 s … up to 30 s)."
)
RESET_DONE = N_("The passphrase of {user} was reset. Sign in with the new passphrase.")


class RecoveryResetDialog(PassphraseFormDialog):
    """Forgotten passphrase: the recovery secret (from the first run's printed page) sets a
    new passphrase for one user. Nothing else can be done with it here."""

    def __init__(self, backend: Backend, ops: OperationRunner, user: str, parent: QWidget) -> None:
        super().__init__(
            _("Reset a passphrase"),
            _(
                "Type the recovery secret printed when this device was set up (upper or lower "
                "case; hyphens and spaces do not matter; 0/O and 1/I/L are read alike), the "
                "user who forgot their passphrase, and a new passphrase for them, twice."
            ),
            [
                ("secret", _("Recovery secret"), True),
                ("user", _("User"), False),
                ("new", _("New passphrase"), True),
                ("repeat", _("Repeat new passphrase"), True),
            ],
            _("Reset passphrase"),
            ops.run,
            parent,
        )
        self.backend = backend
        self.inputs["user"].setText(user)
        self.inputs["secret"].setFocus()

    def work(self, values: dict[str, str]) -> str:
        recover = self.backend.recover
        if recover is None:
            raise RuntimeError("this app cannot reset passphrases")
        user = values["user"].strip()
        recover(values["secret"], user, values["new"])
        return user

    def _refused(self, exc: BaseException) -> None:
        super()._refused(exc)
        if error_field(exc) == "secret":
            self.inputs["secret"].clear()
            self.show_error(_(WRONG_HINT).format(error=plain_message(exc)), "secret")


REBUILD_NOTE = N_(
    "Updating this device's records for the new version of FieldChart: {percent} % "
    "(this happens once after an update; nothing is lost if it is interrupted)."
)


class UnlockDialog(QDialog):
    unlocked = Signal(object)  # Clinic
    # From the unlocking thread (queued to the GUI thread): events applied, events in all.
    rebuild_progressed = Signal(int, int)

    def __init__(
        self,
        backend: Backend,
        ops: OperationRunner,
        prefs: Preferences,
        parent: QWidget | None = None,
        notice: str = "",
    ) -> None:
        super().__init__(parent)
        self.backend, self.ops, self.prefs = backend, ops, prefs
        self.setWindowTitle(_("FieldChart — Unlock"))
        self.setWindowIcon(icon("fieldchart"))
        self.setMinimumWidth(440)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(12)
        top = QHBoxLayout()
        logo = QLabel(self)
        logo.setPixmap(icon("fieldchart").pixmap(56, 56))
        top.addWidget(logo)
        # i18n: ignore (the product's name)
        heading = QLabel("FieldChart", self)
        heading.setObjectName("pageTitle")
        top.addWidget(heading)
        top.addStretch(1)
        layout.addLayout(top)
        self.notice = hint_label(notice or _("Sign in to unlock this device's records."), self)
        layout.addWidget(self.notice)
        form = QFormLayout()
        self.user = QLineEdit(prefs.text("unlock/last_user"), self)
        self.user.setAccessibleName(_("User name"))
        self.passphrase = QLineEdit(self)
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName(_("Passphrase"))
        form.addRow(_("User:"), self.user)
        form.addRow(_("Passphrase:"), self.passphrase)
        layout.addLayout(form)
        self.error = ErrorLabelWidget(self, "formError")
        layout.addWidget(self.error)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setFormat("")
        self.progress.setMaximumHeight(8)
        self.progress.setAccessibleName(_("Unlocking"))
        self.progress.hide()
        layout.addWidget(self.progress)
        self.rebuild_note = hint_label("", self)
        self.rebuild_note.hide()
        layout.addWidget(self.rebuild_note)
        self.rebuild_progressed.connect(self._show_rebuild)
        self.forgot_button = QPushButton(
            _("Forgot passphrase? Reset with the recovery secret…"), self
        )
        self.forgot_button.setFlat(True)
        self.forgot_button.setObjectName("link")
        self.forgot_button.setAccessibleName(_("Forgot passphrase? Reset with the recovery secret"))
        self.forgot_button.setEnabled(backend.recover is not None)
        self.forgot_button.clicked.connect(self.forgot)
        layout.addWidget(self.forgot_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.reset_dialog: RecoveryResetDialog | None = None
        buttons = QHBoxLayout()
        self.data_dir = QLabel(self)
        self.data_dir.setObjectName("muted")
        self.data_dir.setToolTip(
            _("Records are kept encrypted in {folder}").format(folder=backend.data_dir)
        )
        self.data_dir.setText(
            self.data_dir.fontMetrics().elidedText(
                _("Vault: {folder}").format(folder=backend.data_dir),
                Qt.TextElideMode.ElideMiddle,
                380,
            )
        )
        buttons.addStretch(1)
        self.quit_button = QPushButton(_("Quit"), self)
        self.unlock_button = QPushButton(_("Unlock"), self)
        make_primary(self.unlock_button)
        self.unlock_button.setDefault(True)
        buttons.addWidget(self.quit_button)
        buttons.addWidget(self.unlock_button)
        layout.addLayout(buttons)
        layout.addWidget(self.data_dir)
        self.unlock_button.clicked.connect(self.submit)
        self.quit_button.clicked.connect(self.reject)
        self.setTabOrder(self.user, self.passphrase)
        self.setTabOrder(self.passphrase, self.unlock_button)
        self.setTabOrder(self.unlock_button, self.forgot_button)
        (self.passphrase if self.user.text() else self.user).setFocus()

    def submit(self) -> None:
        user, passphrase = self.user.text().strip(), self.passphrase.text()
        if not user or not passphrase:
            self.error.show_message(_("Enter your user name and passphrase."))
            return
        self.error.clear_message()
        self._busy(True)
        unlock, progressed = self.backend.unlock, self.rebuild_progressed.emit
        self.ops.run(
            lambda: unlock(user, passphrase, progressed),
            success=self._unlocked,
            failure=self._refused,
            owner=self,
            label=_("Unlocking…"),
        )

    def forgot(self) -> None:
        dialog = RecoveryResetDialog(self.backend, self.ops, self.user.text().strip(), self)
        dialog.accepted.connect(lambda: self._reset_done(dialog.result_value))
        self.reset_dialog = dialog
        dialog.open()

    def _reset_done(self, user: object) -> None:
        self.reset_dialog = None
        self.user.setText(str(user))
        self.passphrase.clear()
        self.error.clear_message()
        self.notice.setText(_(RESET_DONE).format(user=user))
        QTimer.singleShot(0, self._focus_passphrase)  # once the reset dialog has closed

    def _focus_passphrase(self) -> None:
        self.activateWindow()
        self.passphrase.setFocus(Qt.FocusReason.OtherFocusReason)

    def _show_rebuild(self, applied: int, total: int) -> None:
        """A rebuild of the read models after an upgrade: minutes on a big vault."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(applied)
        percent = 100 * applied // total if total else 100
        self.rebuild_note.setText(_(REBUILD_NOTE).format(percent=count(percent)))
        self.rebuild_note.show()

    def _busy(self, busy: bool) -> None:
        for widget in (self.user, self.passphrase, self.unlock_button):
            widget.setEnabled(not busy)
        self.progress.setVisible(busy)
        if not busy:
            self.progress.setRange(0, 0)
            self.rebuild_note.hide()
        self.unlock_button.setText(_("Unlocking…") if busy else _("Unlock"))

    def _unlocked(self, clinic: Clinic) -> None:
        self.passphrase.clear()
        self.unlocked.emit(clinic)
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self._busy(False)
        message = plain_message(exc)
        # By the store error's type (ui may not import the store), not its possibly
        # translated wording; the wording is kept for backends that raise no such cause.
        wrong = type(exc.__cause__).__name__ == "WrongPassphraseError"
        if wrong or "wrong passphrase" in message.lower():
            message = _(WRONG_HINT).format(error=message)
        self.error.show_message(message)
        self.passphrase.clear()
        self.passphrase.setFocus(Qt.FocusReason.OtherFocusReason)
