"""Device settings (sync server, authentication, interval, auto-lock), kept in the vault.
Everyone may read them; only an admin may change them. Secrets are never shown back."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFontDatabase, QFontMetricsF, QGuiApplication, QTextOption
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import DomainError
from app.i18n import LAUNCH_LANGUAGES, N_, _, current_language
from app.services.settings import FIELDS_OF_MODE, SECRETS, DeviceSettings, current_names, validate
from app.ui import confirm
from app.ui.backend import PublicJwk
from app.ui.errors import UserFacingError, error_field, plain_message
from app.ui.operation import OperationRunner
from app.ui.permissions import gate
from app.ui.session import ClinicSession
from app.ui.settings_scope import ScopeCheck, ScopeForm, scope_changed, unscoped_enrolment
from app.ui.widgets import ErrorLabelWidget, hint_label, make_primary, mark_invalid, title_label

# The texts below are N_-marked: shown as `_(TEXT)` (translated where shown).
AUTH = (
    # Translators: an authentication choice: the server asks for none
    ("none", N_("None (open server)")),
    ("bearer", N_("Static bearer token")),
    ("client-secret-basic", N_("Client id and secret (HTTP Basic)")),
    ("client-secret-post", N_("Client id and secret (form post)")),
    ("smart-backend", N_("SMART Backend Services (device key)")),
)
#: The caption of each authentication setting a person types (FIELDS_OF_MODE says which mode
#: needs which).
AUTH_FIELD_LABELS = {
    "bearer_token": N_("Bearer token"),
    "token_url": N_("Token URL"),
    "client_id": N_("Client id"),
    "client_secret": N_("Client secret"),
}
SMART_KEY_HINT = N_(
    "This device signs in with its own key. Give IT the public key above to register with the "
    "server; the private key never leaves the encrypted vault."
)
KEY_NOT_READY = N_("The device key is still being prepared: try again in a moment.")
NO_KEY_YET = N_("This device has no key yet: an admin creates it by choosing this authentication.")
NEW_KEY_QUESTION = confirm.Question(
    N_("Create a new device key?"),
    (("keep", N_("Keep the current key")), ("new", N_("Create a new key"))),
    escape="keep",
    detail=N_(
        "The current key stops working at once: the server refuses this device until IT "
        "registers the new public key."
    ),
)
# Translators: the placeholder of a secret that is stored but never shown back
SECRET_KEPT = N_("set — leave empty to keep")
ONLY_ADMIN = N_("Only an admin may change device settings.")


def translated(question: confirm.Question) -> confirm.Question:
    """A question of N_-marked texts (NEW_KEY_QUESTION), in the current language."""
    return replace(
        question,
        text=_(question.text),
        choices=tuple((key, _(label)) for key, label in question.choices),
        detail=_(question.detail) if question.detail else "",
    )


def jwk_text(jwk: PublicJwk) -> str:
    """The public JWK as IT registers it: compact JSON (the members `fieldchart enroll` prints)."""
    return json.dumps(jwk, separators=(",", ":"))


class KeyText(QPlainTextEdit):
    """A text box four lines high in whatever font the style sheet gives it (the key is
    about seven lines at the wizard's narrowest; the rest scrolls)."""

    LINES = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        line = QFontMetricsF(self.document().defaultFont()).lineSpacing()
        # The style sheet's padding and (focus) border take 4 + 2 px a side.
        margins = 2 * (self.document().documentMargin() + 4 + 2)
        return QSize(super().sizeHint().width(), math.ceil(line * self.LINES + margins))

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self.sizeHint().height())


class DeviceKeyBox(QWidget):
    """The public half of the SMART device key, for IT to register: read-only, selectable,
    with Copy, and "New key…" (asked first: IT must register the new one). The key is created
    when it is first needed and kept. This widget gets the public JWK only, through the
    backend's hooks: the private key never reaches the UI."""

    def __init__(self, ops: OperationRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops = ops
        # Set by the owner: read the stored key's public JWK; create one (None: may not).
        self.read_key: Callable[[], PublicJwk | None] | None = None
        self.make_key: Callable[[], PublicJwk] | None = None
        self.jwk: PublicJwk | None = None
        self.busy = False
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        row = QHBoxLayout()
        self.text = KeyText(self)
        self.text.setObjectName("devicePublicKey")
        self.text.setReadOnly(True)
        self.text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.text.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setAccessibleName(_("Device public key (JWK)"))
        self.text.setTabChangesFocus(True)
        row.addWidget(self.text, 1)
        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        self.copy_button = QPushButton(_("Copy"), self)
        self.copy_button.setToolTip(_("Copy the public key to the clipboard, to send it to IT"))
        self.copy_button.clicked.connect(self.copy)
        self.new_button = QPushButton(_("New key…"), self)
        self.new_button.setToolTip(_("Replace this device's key (IT must register the new one)"))
        self.new_button.clicked.connect(self.ask_new)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.new_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        column.addLayout(row)
        self.kid = QLabel(self)
        self.kid.setObjectName("muted")
        self.kid.setWordWrap(True)
        self.kid.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kid.setAccessibleName(_("Key id (thumbprint)"))
        column.addWidget(self.kid)
        self.error = ErrorLabelWidget(self)
        column.addWidget(self.error)
        self._show(None)

    def forget(self) -> None:
        """Read the stored key again next time (the settings were reloaded)."""
        if not self.busy:
            self.jwk = None

    def ensure(self) -> None:
        """Show the stored key's public JWK, creating the key first when there is none (and
        creating is allowed)."""
        if self.busy or self.jwk is not None:
            return
        read, create = self.read_key, self.make_key
        if read is None:
            self._show(None)
            return

        def work() -> PublicJwk | None:
            jwk = read()
            if jwk is None and create is not None:
                jwk = create()
            return jwk

        self._run(work, _("Preparing the device key…"))

    def ask_new(self) -> None:
        create = self.make_key
        if create is None or self.busy:
            return

        def answered(key: str) -> None:
            if key == "new":
                self._run(create, _("Creating a new device key…"))

        confirm.ask(self, translated(NEW_KEY_QUESTION), answered)

    def copy(self) -> None:
        if self.jwk is not None:
            QGuiApplication.clipboard().setText(jwk_text(self.jwk))

    def _run(self, work: Callable[[], PublicJwk | None], label: str) -> None:
        self.busy = True
        self.kid.setText(label)
        self.error.clear_message()
        self.copy_button.setEnabled(False)
        self.new_button.setEnabled(False)
        self.ops.run(work, success=self._done, failure=self._failed, owner=self, label=label)

    def _done(self, jwk: PublicJwk | None) -> None:
        self.busy = False
        self._show(jwk)

    def _failed(self, exc: BaseException) -> None:
        self.busy = False
        self._show(self.jwk)
        if isinstance(exc, DomainError | UserFacingError):
            self.error.show_message(plain_message(exc))
        else:
            self.ops.show_error(self, exc)

    def _show(self, jwk: PublicJwk | None) -> None:
        self.jwk = jwk
        self.text.setPlainText(jwk_text(jwk) if jwk else "")
        self.kid.setText(
            _("Key id (thumbprint): {kid}").format(kid=jwk["kid"]) if jwk else _(NO_KEY_YET)
        )
        self.copy_button.setEnabled(jwk is not None)
        self.new_button.setEnabled(jwk is not None and self.make_key is not None)


class SettingsView(QWidget):
    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.current: DeviceSettings | None = None
        self.inputs: dict[str, QWidget] = {}
        self.errors: dict[str, ErrorLabelWidget] = {}
        # Checks a changed scope with the server before it is saved (as enroll does); None:
        # the backend offers no check, and only the settings' own validation applies.
        self.check_scope: ScopeCheck | None = session.backend.check_scope
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(title_label(_("Settings"), self))
        if not session.is_admin:
            layout.addWidget(
                hint_label(
                    _("Only an admin may change device settings. You can read them here."), self
                )
            )
        layout.addWidget(self._build_personal())
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
        # Translators: a setting's caption before its input ("Sync every:")
        caption = QLabel(_("{label}:").format(label=label), self)
        caption.setBuddy(widget)
        form.addRow(caption, box)
        self.inputs[name], self.errors[name] = widget, error
        return box

    def _build_device(self) -> QGroupBox:
        box = QGroupBox(_("This device (stored encrypted in the vault)"), self)
        outer = QVBoxLayout(box)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.server = QLineEdit(box)
        self.server.setPlaceholderText(_("https://fhir.example.org/fhir  (empty: work offline)"))
        self._field(form, "server_url", _("FHIR server address"), self.server)
        self.auth = QComboBox(box)
        for value, text in AUTH:
            self.auth.addItem(_(text), value)  # AUTH is N_-marked
        self._field(form, "auth_mode", _("Authentication"), self.auth)
        self.token = QLineEdit(box)
        self.token_url = QLineEdit(box)
        self.token_url.setPlaceholderText("https://auth.example.org/oauth2/token")  # i18n: ignore
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
            self.auth_rows[name] = self._field(form, name, _(AUTH_FIELD_LABELS[name]), line)
        self.device_key = DeviceKeyBox(self.session.ops, box)
        backend, clinic = self.session.backend, self.session.clinic
        read, create = backend.device_public_key, backend.new_device_key
        if read is not None:
            self.device_key.read_key = lambda: read(clinic)
        if create is not None and self.session.is_admin:
            self.device_key.make_key = lambda: create(clinic)
        self.device_key_caption = QLabel(_("Device key:"), box)
        self.device_key_caption.setBuddy(self.device_key.text)
        form.addRow(self.device_key_caption, self.device_key)
        self.smart_hint = hint_label(_(SMART_KEY_HINT), box)
        form.addRow(self.smart_hint)
        self.device_form = form
        self.interval = QSpinBox(box)
        self.interval.setRange(1, 1440)
        # Translators: after a number of minutes (keep the space before it)
        self.interval.setSuffix(_(" min"))
        self._field(form, "sync_interval_minutes", _("Sync every"), self.interval)
        self.auto_lock = QSpinBox(box)
        self.auto_lock.setRange(1, 240)
        self.auto_lock.setSuffix(_(" min"))
        self._field(form, "auto_lock_minutes", _("Lock after idle"), self.auto_lock)
        outer.addLayout(form)
        scope_box = QGroupBox(_("Sync scope (the facility this device serves)"), box)
        self.scope = ScopeForm(self._field, scope_box)
        QVBoxLayout(scope_box).addWidget(self.scope)
        outer.addWidget(scope_box)
        self.form_error = ErrorLabelWidget(box, "formError")
        outer.addWidget(self.form_error)
        row = QHBoxLayout()
        self.save_button = QPushButton(_("Save settings"), box)
        make_primary(self.save_button)
        self.save_button.clicked.connect(self.save)
        self.saved_label = QLabel(box)
        self.saved_label.setObjectName("muted")
        row.addWidget(self.save_button)
        row.addWidget(self.saved_label, 1)
        outer.addLayout(row)
        self.auth.currentIndexChanged.connect(lambda _i: self._auth_fields())
        refused = None if self.session.is_admin else _(ONLY_ADMIN)
        for widget in self.inputs.values():
            gate(widget, refused)
        gate(self.save_button, refused)
        return box

    def _build_personal(self) -> QGroupBox:
        """The user's own settings: any user may change them (kept in the vault, per user)."""
        box = QGroupBox(_("Your settings (kept in the vault; they follow you)"), self)
        row = QHBoxLayout(box)
        caption = QLabel(_("&Language:"), box)
        caption.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        self.language = QComboBox(box)
        self.language.setObjectName("language")
        for code, name in LAUNCH_LANGUAGES.items():
            self.language.addItem(name, code)  # each language in its own words  # i18n: ignore
        self.language.setCurrentIndex(max(self.language.findData(current_language()), 0))
        self.language.setAccessibleName(_("Language"))
        caption.setBuddy(self.language)
        self.use_language = QPushButton(_("Use this language"), box)
        self.use_language.setToolTip(
            _("Every screen changes at once; open forms keep what you typed")
        )
        self.use_language.clicked.connect(self._choose_language)
        row.addWidget(caption)
        row.addWidget(self.language)
        row.addWidget(self.use_language)
        row.addStretch(1)
        return box

    def _choose_language(self) -> None:
        code = self.language.currentData()
        if isinstance(code, str):
            self.session.language_requested.emit(code)

    def _build_local(self) -> QGroupBox:
        box = QGroupBox(_("This computer (not encrypted; never patient data)"), self)
        column = QVBoxLayout(box)
        column.addWidget(
            hint_label(
                _(
                    "FieldChart remembers the window size and layout, the chart tab and schedule "
                    "view last used, which vitals the plot hides, and the last user name. Nothing "
                    "about patients is stored here."
                ),
                box,
            )
        )
        reset = QPushButton(_("Forget window layout"), box)
        reset.setToolTip(_("Start with the default window size and layout next time"))
        reset.clicked.connect(self._forget_layout)
        row = QHBoxLayout()
        row.addWidget(reset)
        row.addStretch(1)
        column.addLayout(row)
        return box

    def _forget_layout(self) -> None:
        for key in ("window/geometry", "patients/splitter"):
            self.session.prefs.remove(key)
        self.saved_label.setText(_("The window layout will be reset next time."))

    # -- load and save ---------------------------------------------------------------------

    def refresh(self) -> None:
        settings = self.session.clinic.settings
        self.session.run(
            settings.get, success=self._loaded, owner=self, label=_("Reading settings…")
        )

    def _loaded(self, s: DeviceSettings) -> None:
        self.current = s
        self.server.setText(s.server_url or "")
        self.auth.setCurrentIndex(max(self.auth.findData(s.auth_mode), 0))
        for name, line in self.auth_inputs.items():
            if name in SECRETS:  # never shown back; typing a new one replaces it
                line.clear()
                line.setPlaceholderText(_(SECRET_KEPT) if getattr(s, name) else "")
            else:
                line.setText(getattr(s, name) or "")
        self.interval.setValue(s.sync_interval_minutes)
        self.auto_lock.setValue(s.auto_lock_minutes)
        self.scope.load(s)
        self.device_key.forget()  # shown again as stored (another window may have made one)
        self._auth_fields()

    def _auth_fields(self) -> None:
        """Show exactly the settings the chosen authentication needs."""
        needed = FIELDS_OF_MODE.get(self.auth.currentData(), ())
        for name, row in self.auth_rows.items():
            self.device_form.setRowVisible(row, name in needed)
        smart = self.auth.currentData() == "smart-backend"
        self.device_form.setRowVisible(self.device_key, smart)
        self.device_form.setRowVisible(self.smart_hint, smart)
        if smart and self.current is not None:
            self.device_key.ensure()  # created the first time SMART is chosen, then kept

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
        return {**changes, **self.scope.changes()}

    def save(self) -> None:
        if not self.save_button.isEnabled():
            return
        self._clear_errors()
        if self.auth.currentData() == "smart-backend" and self.device_key.busy:
            self.form_error.show_message(_(KEY_NOT_READY))
            return
        self.save_button.setEnabled(False)
        changes, current, check = self.changes(), self.current, self.check_scope
        if current is None or not scope_changed(current, changes):
            self._update(changes, None)
            return
        clinic = self.session.clinic

        def work() -> str | None:  # as enroll: validated, scoped, checked with the server
            stored = clinic.settings.get()  # with what was kept meanwhile (a new device key)
            candidate = validate(replace(stored, **current_names(changes)))
            unscoped = unscoped_enrolment(current, changes)
            if unscoped is not None:
                raise unscoped
            return check(clinic, candidate) if check is not None else None

        self.session.run(
            work,
            success=lambda strategy: self._update(changes, strategy),
            failure=self._refused,
            owner=self,
            label=_("Checking the scope with the server…"),
        )

    def _update(self, changes: dict[str, Any], strategy: str | None) -> None:
        self.session.update_settings(
            changes,
            owner=self,
            success=lambda s: self._saved(s, strategy),
            failure=self._refused,
        )

    def _saved(self, s: DeviceSettings, strategy: str | None = None) -> None:
        self.save_button.setEnabled(True)
        self.saved_label.setText(
            # Translators: {strategy} says how sync pulls this facility's patients
            _("Saved. Sync pulls {strategy}.").format(strategy=strategy)
            if strategy
            else _("Saved.")
        )

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
