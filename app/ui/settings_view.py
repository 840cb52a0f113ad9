"""Device settings (sync server, authentication, interval, auto-lock), kept in the vault.
Everyone may read them; only an admin may change them. Secrets are never shown back."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import DomainError
from app.services.settings import FIELDS_OF_MODE, SECRETS, DeviceSettings
from app.ui.errors import UserFacingError, error_field, plain_message
from app.ui.permissions import gate
from app.ui.session import ClinicSession
from app.ui.widgets import ErrorLabelWidget, hint_label, make_primary, mark_invalid, title_label

AUTH = (
    ("none", "None (open server)"),
    ("bearer", "Static bearer token"),
    ("client-secret-basic", "Client id and secret (HTTP Basic)"),
    ("client-secret-post", "Client id and secret (form post)"),
    ("smart-backend", "SMART Backend Services (device key)"),
)
#: The caption of each authentication setting a person types (FIELDS_OF_MODE says which mode
#: needs which).
AUTH_FIELD_LABELS = {
    "bearer_token": "Bearer token",
    "token_url": "Token URL",
    "client_id": "Client id",
    "client_secret": "Client secret",
}
SMART_KEY_HINT = (
    "The device key is created by fieldchart enroll --auth smart-backend, which prints the "
    "public key for IT to register."
)
SECRET_KEPT = "set — leave empty to keep"
ONLY_ADMIN = "Only an admin may change device settings."


class SettingsView(QWidget):
    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.current: DeviceSettings | None = None
        self.inputs: dict[str, QWidget] = {}
        self.errors: dict[str, ErrorLabelWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(title_label("Settings", self))
        if not session.is_admin:
            layout.addWidget(hint_label(f"{ONLY_ADMIN} You can read them here.", self))
        layout.addWidget(self._build_device())
        layout.addWidget(self._build_local())
        layout.addStretch(1)
        session.settings_changed.connect(self._loaded)

    def _field(self, form: QFormLayout, name: str, label: str, widget: QWidget) -> QWidget:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        error = ErrorLabelWidget(box)
        column.addWidget(error)
        widget.setAccessibleName(label)
        caption = QLabel(f"{label}:", self)
        caption.setBuddy(widget)
        form.addRow(caption, box)
        self.inputs[name], self.errors[name] = widget, error
        return box

    def _build_device(self) -> QGroupBox:
        box = QGroupBox("This device (stored encrypted in the vault)", self)
        outer = QVBoxLayout(box)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.server = QLineEdit(box)
        self.server.setPlaceholderText("https://fhir.example.org/fhir  (empty: work offline)")
        self._field(form, "server_url", "FHIR server address", self.server)
        self.auth = QComboBox(box)
        for value, text in AUTH:
            self.auth.addItem(text, value)
        self._field(form, "auth_mode", "Authentication", self.auth)
        self.token = QLineEdit(box)
        self.token_url = QLineEdit(box)
        self.token_url.setPlaceholderText("https://auth.example.org/oauth2/token")
        self.client_id = QLineEdit(box)
        self.client_secret = QLineEdit(box)
        self.auth_inputs: dict[str, QLineEdit] = {
            "bearer_token": self.token,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        self.auth_rows: dict[str, QWidget] = {}
        for name, line in self.auth_inputs.items():
            if name in SECRETS:
                line.setEchoMode(QLineEdit.EchoMode.Password)
            self.auth_rows[name] = self._field(form, name, AUTH_FIELD_LABELS[name], line)
        self.smart_hint = hint_label(SMART_KEY_HINT, box)
        form.addRow(self.smart_hint)
        self.device_form = form
        self.interval = QSpinBox(box)
        self.interval.setRange(1, 1440)
        self.interval.setSuffix(" min")
        self._field(form, "sync_interval_minutes", "Sync every", self.interval)
        self.auto_lock = QSpinBox(box)
        self.auto_lock.setRange(1, 240)
        self.auto_lock.setSuffix(" min")
        self._field(form, "auto_lock_minutes", "Lock after idle", self.auto_lock)
        outer.addLayout(form)
        self.form_error = ErrorLabelWidget(box, "formError")
        outer.addWidget(self.form_error)
        row = QHBoxLayout()
        self.save_button = QPushButton("Save settings", box)
        make_primary(self.save_button)
        self.save_button.clicked.connect(self.save)
        self.saved_label = QLabel(box)
        self.saved_label.setObjectName("muted")
        row.addWidget(self.save_button)
        row.addWidget(self.saved_label, 1)
        outer.addLayout(row)
        self.auth.currentIndexChanged.connect(lambda _i: self._auth_fields())
        admin = self.session.is_admin
        for widget in self.inputs.values():
            gate(widget, None if admin else ONLY_ADMIN)
        gate(self.save_button, None if admin else ONLY_ADMIN)
        return box

    def _build_local(self) -> QGroupBox:
        box = QGroupBox("This computer (not encrypted; never patient data)", self)
        column = QVBoxLayout(box)
        column.addWidget(
            hint_label(
                "FieldChart remembers the window size and layout, the chart tab and schedule view "
                "last used, which vitals the plot hides, and the last user name. Nothing about "
                "patients is stored here.",
                box,
            )
        )
        reset = QPushButton("Forget window layout", box)
        reset.setToolTip("Start with the default window size and layout next time")
        reset.clicked.connect(self._forget_layout)
        row = QHBoxLayout()
        row.addWidget(reset)
        row.addStretch(1)
        column.addLayout(row)
        return box

    def _forget_layout(self) -> None:
        for key in ("window/geometry", "patients/splitter"):
            self.session.prefs.remove(key)
        self.saved_label.setText("The window layout will be reset next time.")

    # -- load and save ---------------------------------------------------------------------

    def refresh(self) -> None:
        settings = self.session.clinic.settings
        self.session.run(settings.get, success=self._loaded, owner=self, label="Reading settings…")

    def _loaded(self, s: DeviceSettings) -> None:
        self.current = s
        self.server.setText(s.server_url or "")
        self.auth.setCurrentIndex(max(self.auth.findData(s.auth_mode), 0))
        for name, line in self.auth_inputs.items():
            if name in SECRETS:  # never shown back; typing a new one replaces it
                line.clear()
                line.setPlaceholderText(SECRET_KEPT if getattr(s, name) else "")
            else:
                line.setText(getattr(s, name) or "")
        self.interval.setValue(s.sync_interval_minutes)
        self.auto_lock.setValue(s.auto_lock_minutes)
        self._auth_fields()

    def _auth_fields(self) -> None:
        """Show exactly the settings the chosen authentication needs."""
        needed = FIELDS_OF_MODE.get(self.auth.currentData(), ())
        for name, row in self.auth_rows.items():
            self.device_form.setRowVisible(row, name in needed)
        self.device_form.setRowVisible(self.smart_hint, self.auth.currentData() == "smart-backend")

    def changes(self) -> dict[str, Any]:
        changes: dict[str, Any] = {
            "server_url": self.server.text().strip() or None,
            "auth_mode": self.auth.currentData(),
            "sync_interval_minutes": self.interval.value(),
            "auto_lock_minutes": self.auto_lock.value(),
        }
        needed = FIELDS_OF_MODE.get(self.auth.currentData(), ())
        for name, line in self.auth_inputs.items():
            if name in SECRETS:
                if line.text().strip() and name in needed:
                    changes[name] = line.text().strip()
            else:
                changes[name] = line.text().strip() or None
        return changes

    def save(self) -> None:
        if not self.save_button.isEnabled():
            return
        self._clear_errors()
        self.save_button.setEnabled(False)
        self.session.update_settings(
            self.changes(), owner=self, success=self._saved, failure=self._refused
        )

    def _saved(self, s: DeviceSettings) -> None:
        self.save_button.setEnabled(True)
        self.saved_label.setText("Saved.")

    def _refused(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        if not isinstance(exc, DomainError | UserFacingError):
            self.session.ops.show_error(self, exc)
            return
        name = error_field(exc)
        if name in self.errors:
            self.errors[name].show_message(plain_message(exc))
            mark_invalid(self.inputs[name], True)
        else:
            self.form_error.show_message(plain_message(exc))

    def _clear_errors(self) -> None:
        self.saved_label.clear()
        self.form_error.clear_message()
        for name, error in self.errors.items():
            error.clear_message()
            mark_invalid(self.inputs[name], False)
