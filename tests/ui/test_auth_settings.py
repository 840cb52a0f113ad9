"""Authentication in the first-run wizard and in Settings: every mode is offered, each shows
exactly the settings it needs, and a person types them in (focus, key by key)."""

from __future__ import annotations

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit, QWidget, QWizard
from pytestqt.qtbot import QtBot

from app.services.settings import AUTH_MODES, FIELDS_OF_MODE
from app.services.sync_status import SyncState
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.first_run import FirstRunDialog, ServerPage
from app.ui.main_window import MainView
from app.ui.settings_view import SECRET_KEPT, SettingsView
from app.ui.sync_panel import STATES, describe_state
from sync.fhir.auth import EXPIRED_TOKEN_MESSAGE, BearerAuth
from sync.fhir.client import FhirClient
from sync.worker import SyncWorker
from tests.clock import suite_now
from tests.ui.conftest import ADMIN, ADMIN_PASS, ControllerFactory, open_as
from tests.ui.helpers import TIMEOUT, type_into
from tests.ui.layout_checks import clipped_labels, out_of_reach
from tests.ui.scope_server import STUB_STRATEGY, with_stub_check

SERVER = "https://fhir.example.org/fhir"
TOKEN_URL = "https://auth.example.org/oauth2/token"
SMALL = (910, 480)  # 1366x768 at 150 %, less a title bar


def choose(qtbot: QtBot, combo: QComboBox, value: str) -> None:
    """Pick an entry from the keyboard: focus, Home, then Down until it is chosen."""
    combo.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(combo.hasFocus, timeout=TIMEOUT)
    QTest.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(combo.count()):
        if combo.currentData() == value:
            return
        QTest.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == value


def shown_fields(form: QFormLayout, fields: dict[str, QLineEdit], root: QWidget) -> set[str]:
    """The settings whose line and caption a person can see."""
    shown = set()
    for name, line in fields.items():
        box = line.parentWidget()  # Settings puts each line in a box with its error
        caption = form.labelForField(line) or (form.labelForField(box) if box else None)
        if line.isVisibleTo(root):
            assert caption is not None and caption.isVisibleTo(root)
            shown.add(name)
    return shown


def server_page(qtbot: QtBot, controller: AppController) -> tuple[FirstRunDialog, ServerPage]:
    controller.start()
    wizard = controller.dialog
    assert isinstance(wizard, FirstRunDialog)
    type_into(qtbot, wizard.admin_page.passphrase, "admin passphrase")
    type_into(qtbot, wizard.admin_page.repeat, "admin passphrase")
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=TIMEOUT)
    wizard.recovery_page.saved.click()
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.server_page, timeout=TIMEOUT)
    return wizard, wizard.server_page


def settings_page(
    qtbot: QtBot, controller: AppController, user: str = ADMIN, passphrase: str = ADMIN_PASS
) -> tuple[MainView, SettingsView]:
    """Signed in as `user`, on the Settings page, its settings loaded."""
    window = open_as(controller, qtbot, user, passphrase)
    window.show()
    window.show_page(3)
    view = window.settings
    assert isinstance(view, SettingsView)
    qtbot.waitUntil(lambda: view.current is not None, timeout=TIMEOUT)
    return window, view


def test_the_wizard_shows_exactly_the_fields_of_each_mode_and_fits_a_small_screen(
    qtbot: QtBot, controller: AppController
) -> None:
    wizard, page = server_page(qtbot, controller)
    assert [page.auth.itemData(i) for i in range(page.auth.count())] == list(AUTH_MODES)
    for size in (wizard.minimumSize().toTuple(), SMALL):
        wizard.resize(*size)
        qtbot.waitExposed(wizard)
        for mode in AUTH_MODES:
            choose(qtbot, page.auth, mode)
            assert shown_fields(page.form, page.inputs, wizard) == set(FIELDS_OF_MODE[mode])
            assert page.smart_hint.isVisibleTo(wizard) == (mode == "smart-backend")
            assert out_of_reach(wizard) == [], (mode, size)
            assert clipped_labels(wizard) == [], (mode, size)


@pytest.mark.parametrize("mode", ["client-secret-basic", "client-secret-post"])
def test_the_wizard_enrols_with_a_client_id_and_secret(
    qtbot: QtBot, make_controller: ControllerFactory, backend: Backend, mode: str
) -> None:
    # The scope check authenticates even its first request (the metadata read): with a client
    # secret it needs the token endpoint typed here, which no test server offers at that
    # address. The subject is the client-secret fields, so the check is a recording stand-in
    # (the scope itself: tests/ui/test_scope_settings.py and test_forms.py, on the peer).
    stubbed, check = with_stub_check(backend)
    controller = make_controller(stubbed)
    wizard, page = server_page(qtbot, controller)
    type_into(qtbot, page.server, SERVER)
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    finish.click()  # a new enrolment names the facility
    qtbot.waitUntil(lambda: not page.error.isHidden(), timeout=TIMEOUT)
    assert page.error.text().startswith("Facility: Name the facility this device serves")
    type_into(qtbot, page.organization, "mbeya-hc")
    choose(qtbot, page.auth, mode)
    type_into(qtbot, page.token_url, TOKEN_URL)
    type_into(qtbot, page.client_id, "mbeya-clinic")
    finish.click()
    qtbot.waitUntil(lambda: not page.error.isHidden(), timeout=TIMEOUT)
    assert page.error.text() == "Client secret: Enter the client secret."
    type_into(qtbot, page.client_secret, "s3cret-value")
    assert page.client_secret.echoMode() is QLineEdit.EchoMode.Password
    finish.click()
    qtbot.waitUntil(lambda: controller.session is not None, timeout=TIMEOUT)
    assert controller.session is not None
    settings = controller.session.clinic.settings.get()
    assert (settings.server_url, settings.auth_mode) == (SERVER, mode)
    assert settings.scope_organization == "Organization/mbeya-hc"
    assert (settings.token_url, settings.client_id) == (TOKEN_URL, "mbeya-clinic")
    assert settings.client_secret == "s3cret-value" and settings.bearer_token is None
    assert check.scopes() == [(SERVER, "Organization/mbeya-hc", False)]  # checked once, typed


def test_settings_offer_each_mode_with_its_fields_and_never_show_the_secret(
    qtbot: QtBot, make_controller: ControllerFactory, seeded: Backend
) -> None:
    # As in the wizard's test above: the scope check would first need the token endpoint of
    # the client secret typed here, and the subject is the auth fields, so it is stood in for.
    stubbed, check = with_stub_check(seeded)
    window, view = settings_page(qtbot, make_controller(stubbed))
    for mode in AUTH_MODES:
        choose(qtbot, view.auth, mode)
        assert shown_fields(view.device_form, view.auth_inputs, view) == set(FIELDS_OF_MODE[mode])

    type_into(qtbot, view.server, SERVER)
    type_into(qtbot, view.scope.organization, "Organization/mbeya")  # a new enrolment's scope
    choose(qtbot, view.auth, "client-secret-basic")
    type_into(qtbot, view.token_url, TOKEN_URL)
    type_into(qtbot, view.client_id, "mbeya-clinic")
    view.save_button.click()
    error = view.errors["client_secret"]
    qtbot.waitUntil(lambda: not error.isHidden(), timeout=TIMEOUT)
    assert error.text() == "Enter the client secret."
    type_into(qtbot, view.client_secret, "s3cret-value")
    view.save_button.click()
    saved_text = f"Saved. Sync pulls {STUB_STRATEGY}."
    qtbot.waitUntil(lambda: view.saved_label.text() == saved_text, timeout=TIMEOUT)
    assert check.scopes() == [(SERVER, "Organization/mbeya", False)]
    clinic = window.session.clinic
    saved = clinic.settings.get()
    assert (saved.auth_mode, saved.client_id, saved.client_secret) == (
        "client-secret-basic",
        "mbeya-clinic",
        "s3cret-value",
    )

    view.refresh()  # shown again: the secret only as "set"
    qtbot.waitUntil(lambda: view.client_secret.placeholderText() == SECRET_KEPT, timeout=TIMEOUT)
    assert view.client_secret.text() == "" and view.token_url.text() == TOKEN_URL
    type_into(qtbot, view.client_id, "mbeya-clinic-2")  # the secret left empty is kept
    view.save_button.click()
    qtbot.waitUntil(lambda: clinic.settings.get().client_id == "mbeya-clinic-2", timeout=TIMEOUT)
    assert clinic.settings.get().client_secret == "s3cret-value"
    assert len(check.checked) == 1, "the scope did not change: not checked again"


def test_the_sync_panel_says_an_expired_token_needs_a_new_one_from_it() -> None:
    """The static token is refused (401): the worker stops and the panel says what to do."""

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401)

    client = FhirClient(SERVER, BearerAuth("old-token"), transport=httpx.MockTransport(refuse))
    worker = SyncWorker(
        lambda _progress: client.search_page("Patient"),
        server_url=SERVER,
        interval_s=300,
        clock=lambda: suite_now(),
        counts=dict,
    )
    with client:
        worker._tick()
    status = worker.status()
    assert status.state is SyncState.ERROR and status.next_attempt_at is None
    shown = describe_state(status)
    assert shown.startswith(f"{STATES[SyncState.ERROR][0]}: {EXPIRED_TOKEN_MESSAGE}"), shown
    assert EXPIRED_TOKEN_MESSAGE == "the token has expired or was revoked; ask IT for a new one"
    assert "old-token" not in shown
