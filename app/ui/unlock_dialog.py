"""Unlock: user name and passphrase. Unlocking runs off the GUI thread (Argon2id, and the
store's growing delay after wrong passphrases), so the window stays responsive meanwhile."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
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

from app.services.clinic import Clinic
from app.ui.backend import Backend
from app.ui.errors import plain_message
from app.ui.operation import OperationRunner
from app.ui.preferences import Preferences
from app.ui.style import icon
from app.ui.widgets import ErrorLabelWidget, hint_label, make_primary

REBUILD_NOTE = (
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
        self.setWindowTitle("FieldChart — Unlock")
        self.setWindowIcon(icon("fieldchart"))
        self.setMinimumWidth(440)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 20)
        layout.setSpacing(12)
        top = QHBoxLayout()
        logo = QLabel(self)
        logo.setPixmap(icon("fieldchart").pixmap(56, 56))
        top.addWidget(logo)
        heading = QLabel("FieldChart", self)
        heading.setObjectName("pageTitle")
        top.addWidget(heading)
        top.addStretch(1)
        layout.addLayout(top)
        self.notice = hint_label(notice or "Sign in to unlock this device's records.", self)
        layout.addWidget(self.notice)
        form = QFormLayout()
        self.user = QLineEdit(prefs.text("unlock/last_user"), self)
        self.user.setAccessibleName("User name")
        self.passphrase = QLineEdit(self)
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("Passphrase")
        form.addRow("User:", self.user)
        form.addRow("Passphrase:", self.passphrase)
        layout.addLayout(form)
        self.error = ErrorLabelWidget(self, "formError")
        layout.addWidget(self.error)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setFormat("")
        self.progress.setMaximumHeight(8)
        self.progress.setAccessibleName("Unlocking")
        self.progress.hide()
        layout.addWidget(self.progress)
        self.rebuild_note = hint_label("", self)
        self.rebuild_note.hide()
        layout.addWidget(self.rebuild_note)
        self.rebuild_progressed.connect(self._show_rebuild)
        buttons = QHBoxLayout()
        self.data_dir = QLabel(self)
        self.data_dir.setObjectName("muted")
        self.data_dir.setToolTip(f"Records are kept encrypted in {backend.data_dir}")
        self.data_dir.setText(
            self.data_dir.fontMetrics().elidedText(
                f"Vault: {backend.data_dir}", Qt.TextElideMode.ElideMiddle, 380
            )
        )
        buttons.addStretch(1)
        self.quit_button = QPushButton("Quit", self)
        self.unlock_button = QPushButton("Unlock", self)
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
        (self.passphrase if self.user.text() else self.user).setFocus()

    def submit(self) -> None:
        user, passphrase = self.user.text().strip(), self.passphrase.text()
        if not user or not passphrase:
            self.error.show_message("Enter your user name and passphrase.")
            return
        self.error.clear_message()
        self._busy(True)
        unlock, progressed = self.backend.unlock, self.rebuild_progressed.emit
        self.ops.run(
            lambda: unlock(user, passphrase, progressed),
            success=self._unlocked,
            failure=self._refused,
            owner=self,
            label="Unlocking…",
        )

    def _show_rebuild(self, applied: int, total: int) -> None:
        """A rebuild of the read models after an upgrade: minutes on a big vault."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(applied)
        percent = 100 * applied // total if total else 100
        self.rebuild_note.setText(REBUILD_NOTE.format(percent=percent))
        self.rebuild_note.show()

    def _busy(self, busy: bool) -> None:
        for widget in (self.user, self.passphrase, self.unlock_button):
            widget.setEnabled(not busy)
        self.progress.setVisible(busy)
        if not busy:
            self.progress.setRange(0, 0)
            self.rebuild_note.hide()
        self.unlock_button.setText("Unlocking…" if busy else "Unlock")

    def _unlocked(self, clinic: Clinic) -> None:
        self.passphrase.clear()
        self.unlocked.emit(clinic)
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self._busy(False)
        self.error.show_message(plain_message(exc))
        self.passphrase.clear()
        self.passphrase.setFocus(Qt.FocusReason.OtherFocusReason)
