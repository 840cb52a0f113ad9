"""SMART Backend Services in the first-run wizard and in Settings: choosing it creates the
device key (once), shows its public JWK for IT to register (read-only, selectable, Copy),
keeps the private key in the vault only, and makes a new key only when asked and confirmed."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QLineEdit, QPlainTextEdit, QWidget, QWizard
from pytestqt.qtbot import QtBot

from app.services.clinic import Clinic
from app.ui import confirm
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.settings_view import NEW_KEY_QUESTION, NO_KEY_YET, DeviceKeyBox
from sync.clinic_sync import client_for
from sync.fhir.auth import SmartBackendAuth, jwk_thumbprint, public_jwk
from sync.fhir.errors import AuthError
from tests.clock import suite_now
from tests.realfhir.harness import RealFhirServer
from tests.ui.conftest import ADMIN, ADMIN_PASS, CLINICIAN, CLINICIAN_PASS, ControllerFactory
from tests.ui.helpers import TIMEOUT, type_into
from tests.ui.layout_checks import clipped_labels, out_of_reach
from tests.ui.scope_server import STUB_STRATEGY, real_organization, with_stub_check
from tests.ui.test_auth_settings import (
    SERVER,
    SMALL,
    TOKEN_URL,
    choose,
    server_page,
    settings_page,
)
from tests.ui.test_drafts import Asked

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture
def answers() -> Iterator[Asked]:
    """The "New key…" question, answered by the test (from `answers.answers`)."""
    fake = Asked()
    previous = confirm.use(fake)
    yield fake
    confirm.use(previous)


def shown_key(qtbot: QtBot, box: DeviceKeyBox) -> dict[str, str]:
    """Wait for the public key on screen; what a person reads there, parsed."""
    qtbot.waitUntil(lambda: not box.busy and box.text.toPlainText() != "", timeout=TIMEOUT)
    jwk: dict[str, str] = json.loads(box.text.toPlainText())
    assert jwk["kty"] in ("EC", "RSA") and jwk["use"] == "sig"
    assert not PRIVATE_MEMBERS & set(jwk), "a private member is on screen"
    assert jwk["kid"] == jwk_thumbprint(jwk)
    assert box.kid.text() == f"Key id (thumbprint): {jwk['kid']}"
    assert box.text.isReadOnly()
    assert box.text.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    assert box.text.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByKeyboard
    return jwk


def stored_pem(clinic: Clinic) -> str:
    pem = clinic.settings.get().smart_private_key_pem
    assert pem is not None and pem.startswith("-----BEGIN PRIVATE KEY-----")
    return pem


def screen_text(root: QWidget) -> str:
    """Every text a person could read or copy in `root` (labels, lines, text boxes)."""
    texts = [label.text() for label in root.findChildren(QLabel)]
    texts += [line.text() for line in root.findChildren(QLineEdit)]
    texts += [box.toPlainText() for box in root.findChildren(QPlainTextEdit)]
    return "\n".join(texts)


def pem_body(pem: str) -> list[str]:
    """The base64 lines of a PEM (what would give the key away if seen anywhere)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def assert_nowhere(pem: str, text: str) -> None:
    assert "PRIVATE KEY" not in text
    assert not any(line in text for line in pem_body(pem))


def verify_assertion(assertion: str, jwk: dict[str, str]) -> dict[str, object]:
    """Check a compact JWS against the public JWK IT registered (as the server would);
    its claims."""

    def unb64(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header_b64, claims_b64, signature_b64 = assertion.split(".")
    header = json.loads(unb64(header_b64))
    assert (header["alg"], header["kid"]) == (jwk["alg"], jwk["kid"]) == ("ES384", jwk["kid"])
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(unb64(jwk["x"]), "big"),
        int.from_bytes(unb64(jwk["y"]), "big"),
        ec.SECP384R1(),
    ).public_key()
    raw = unb64(signature_b64)
    signature = encode_dss_signature(
        int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big")
    )
    signed = f"{header_b64}.{claims_b64}".encode("ascii")
    public.verify(signature, signed, ec.ECDSA(hashes.SHA384()))  # raises if it does not match
    claims: dict[str, object] = json.loads(unb64(claims_b64))
    return claims


def signed_by(pem: str, kid: str | None = None) -> str:
    """A client assertion as the sync client would send it (kid: the key's own by default)."""
    auth = SmartBackendAuth(
        TOKEN_URL, "mbeya-clinic", pem, kid, clock=lambda: suite_now().timestamp()
    )
    return auth.client_assertion()


def test_choosing_smart_in_the_wizard_creates_the_key_and_shows_only_its_public_half(
    qtbot: QtBot,
    make_controller: ControllerFactory,
    backend: Backend,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The scope check signs in before its first request (the metadata read), with SMART at the
    # token URL typed here, which no test server offers; the subject is the device key, so the
    # check is a recording stand-in (the real server signs in with this key in the last test).
    stubbed, check = with_stub_check(backend)
    controller = make_controller(stubbed)
    wizard, page = server_page(qtbot, controller)
    assert wizard.created is not None
    clinic = wizard.created.clinic
    assert clinic.settings.get().smart_private_key_pem is None
    type_into(qtbot, page.server, SERVER)
    type_into(qtbot, page.organization, "Organization/mbeya-hc")
    choose(qtbot, page.auth, "smart-backend")
    jwk = shown_key(qtbot, page.device_key)
    pem = stored_pem(clinic)  # kept in the vault at once: IT may register it before Finish
    assert public_jwk(pem) == jwk
    assert page.device_key.new_button.isEnabled()
    for size in (wizard.minimumSize().toTuple(), SMALL):
        wizard.resize(*size)
        qtbot.waitExposed(wizard)
        assert out_of_reach(wizard) == [], size
        assert clipped_labels(wizard) == [], size
    QTest.mouseClick(page.device_key.copy_button, Qt.MouseButton.LeftButton)
    assert json.loads(QGuiApplication.clipboard().text()) == jwk

    choose(qtbot, page.auth, "bearer")  # another mode and back: the same key
    assert not page.device_key.isVisibleTo(wizard)
    choose(qtbot, page.auth, "smart-backend")
    assert shown_key(qtbot, page.device_key) == jwk and stored_pem(clinic) == pem

    type_into(qtbot, page.token_url, TOKEN_URL)
    type_into(qtbot, page.client_id, "mbeya-clinic")
    assert_nowhere(pem, screen_text(wizard))
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: controller.session is not None, timeout=TIMEOUT)
    assert controller.session is not None
    settings = controller.session.clinic.settings.get()
    assert (settings.auth_mode, settings.token_url, settings.client_id) == (
        "smart-backend",
        TOKEN_URL,
        "mbeya-clinic",
    )
    assert settings.smart_private_key_pem == pem
    assert check.scopes() == [(SERVER, "Organization/mbeya-hc", False)]
    assert check.checked[0].smart_private_key_pem == pem  # checked with the key shown
    assert settings.public()["smart_private_key_pem"] == "set"
    assert pem not in json.dumps(settings.public())

    # The key works: an assertion signed with the stored key checks out against the shown JWK.
    claims = verify_assertion(signed_by(pem), jwk)
    assert claims["iss"] == claims["sub"] == "mbeya-clinic" and claims["aud"] == TOKEN_URL

    # The private key is in no log and in no file outside the vault (whose files are
    # encrypted, so no file under the test's folder holds it in the clear).
    assert_nowhere(pem, caplog.text)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_nowhere(pem, path.read_bytes().decode("latin-1"))


def test_settings_show_the_same_key_again_and_make_a_new_one_only_when_confirmed(
    qtbot: QtBot, make_controller: ControllerFactory, seeded: Backend, answers: Asked
) -> None:
    # As in the wizard's test: the check would sign in with SMART at a token URL no test server
    # has, and the subject is the key, so the check is a recording stand-in.
    stubbed, check = with_stub_check(seeded)
    controller = make_controller(stubbed)
    window, view = settings_page(qtbot, controller)
    clinic = window.session.clinic
    assert not view.device_key.isVisibleTo(view)
    type_into(qtbot, view.server, SERVER)
    type_into(qtbot, view.scope.organization, "Organization/mbeya-hc")
    choose(qtbot, view.auth, "smart-backend")
    assert view.device_key.isVisibleTo(view) and view.smart_hint.isVisibleTo(view)
    first = shown_key(qtbot, view.device_key)
    pem = stored_pem(clinic)
    assert public_jwk(pem) == first
    type_into(qtbot, view.token_url, TOKEN_URL)
    type_into(qtbot, view.client_id, "mbeya-clinic")
    view.save_button.click()
    saved_text = f"Saved. Sync pulls {STUB_STRATEGY}."
    qtbot.waitUntil(lambda: view.saved_label.text() == saved_text, timeout=TIMEOUT)
    assert clinic.settings.get().auth_mode == "smart-backend"
    assert check.scopes() == [(SERVER, "Organization/mbeya-hc", False)]
    assert_nowhere(pem, screen_text(window))

    # Locked and opened again: the same key is shown, not a new one.
    controller.lock()
    window, view = settings_page(qtbot, controller)
    clinic = window.session.clinic
    assert view.auth.currentData() == "smart-backend"
    assert shown_key(qtbot, view.device_key) == first
    assert stored_pem(clinic) == pem

    # "New key…" asks first; keeping changes nothing.
    box = view.device_key
    answers.answers = ["keep"]
    QTest.mouseClick(box.new_button, Qt.MouseButton.LeftButton)
    assert answers.questions == [NEW_KEY_QUESTION]
    assert "IT" in NEW_KEY_QUESTION.detail
    assert shown_key(qtbot, box) == first and stored_pem(clinic) == pem

    answers.answers = ["new"]
    QTest.mouseClick(box.new_button, Qt.MouseButton.LeftButton)
    assert len(answers.questions) == 2
    qtbot.waitUntil(lambda: not box.busy and box.jwk != first, timeout=TIMEOUT)
    second = shown_key(qtbot, box)
    new_pem = stored_pem(clinic)
    assert second["kid"] != first["kid"] and new_pem != pem
    assert public_jwk(new_pem) == second
    verify_assertion(signed_by(new_pem), second)
    with pytest.raises(InvalidSignature):  # the old key no longer passes, whatever its kid
        verify_assertion(signed_by(pem, kid=second["kid"]), second)
    settings = clinic.settings.get()
    assert (settings.auth_mode, settings.client_id) == ("smart-backend", "mbeya-clinic")


def test_a_clinician_sees_the_public_key_but_cannot_make_one(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, view = settings_page(qtbot, controller, CLINICIAN, CLINICIAN_PASS)
    box = view.device_key
    view.auth.setCurrentIndex(view.auth.findData("smart-backend"))  # disabled for a person
    qtbot.waitUntil(lambda: not box.busy and box.kid.text() == NO_KEY_YET, timeout=TIMEOUT)
    assert box.text.toPlainText() == "" and not box.new_button.isEnabled()
    assert window.session.clinic.settings.get().smart_private_key_pem is None

    admin = seeded.unlock(ADMIN, ADMIN_PASS)
    try:
        assert seeded.new_device_key is not None
        jwk = seeded.new_device_key(admin)
        admin.settings.update(
            admin.actor,
            server_url=SERVER,
            auth_mode="smart-backend",
            token_url=TOKEN_URL,
            client_id="mbeya-clinic",
        )
    finally:
        admin.close()
    view.refresh()
    qtbot.waitUntil(lambda: box.jwk == jwk, timeout=TIMEOUT)
    assert shown_key(qtbot, box) == jwk
    assert box.copy_button.isEnabled() and not box.new_button.isEnabled()


# -- end to end, against the real FHIR server ------------------------------------------------


@contextmanager
def jwks_served(keys: list[dict[str, str]]) -> Iterator[str]:
    """A JWK Set at http://127.0.0.1:<port>/jwks.json (as IT would publish it), read afresh
    on every request: append to `keys` to register another."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"keys": keys}).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def register_device(real: RealFhirServer, jwks_uri: str) -> str:
    """What IT does: a new client application of the test project whose key is the JWK Set
    at `jwks_uri` (Medplum fetches it on every token request); its client id. Made with the
    super-admin client; the shared test client is left alone."""
    assert real.token_url and real.project_id
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(real.token_url))
    token = real._token_of(real.super_client_id, real.super_client_secret).get()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=30) as admin:
        made = admin.post(
            f"{origin}/admin/projects/{real.project_id}/client",
            json={"name": "FieldChart UI test device", "description": "tests/ui/test_smart_key.py"},
        )
        assert made.is_success, made.text
        client_id: str = made.json()["id"]
        url = f"{real.base_url}/ClientApplication/{client_id}"
        application = admin.get(url).json()  # with its secret: Medplum needs it kept
        put = admin.put(
            url,
            json={**application, "jwksUri": jwks_uri},
            headers={"Content-Type": "application/fhir+json"},
        )
        assert put.is_success, put.text
    return client_id


@pytest.mark.realfhir
def test_the_key_shown_in_settings_signs_this_device_in_to_the_real_server(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    answers: Asked,
    real_fhir_server: RealFhirServer,
) -> None:
    real = real_fhir_server
    if not (real.project_id and real.super_client_id and real.token_url):
        pytest.skip("registering a device key needs the realfhir server's super-admin client")
    window, view = settings_page(qtbot, controller)
    clinic = window.session.clinic
    organization = real_organization(real, "FieldChart UI test facility")  # IT's, id assigned
    type_into(qtbot, view.server, real.base_url)
    type_into(qtbot, view.scope.organization, organization)  # the id IT gave the clinic
    choose(qtbot, view.auth, "smart-backend")
    shown = shown_key(qtbot, view.device_key)
    QTest.mouseClick(view.device_key.copy_button, Qt.MouseButton.LeftButton)
    registered = [json.loads(QGuiApplication.clipboard().text())]  # what IT was sent
    with jwks_served(registered) as jwks_uri:
        client_id = register_device(real, jwks_uri)
        type_into(qtbot, view.token_url, real.token_url)
        type_into(qtbot, view.client_id, client_id)
        view.save_button.click()
        # Saved once the scope check, signed in with this key, found the Organization.
        qtbot.waitUntil(lambda: view.saved_label.text().startswith("Saved."), timeout=TIMEOUT)
        assert f"managingOrganization Organization/{organization}" in view.saved_label.text()
        assert clinic.settings.get().scope_organization == f"Organization/{organization}"

        with client_for(clinic.settings.get()) as client:  # as the sync worker connects
            assert client.capabilities().fhir_version.startswith("4")
            assert client.search_page("Patient")["resourceType"] == "Bundle"

        answers.answers = ["new"]  # a new key is refused until IT registers it
        # Saving reloads the settings, and the box reads the stored key again meanwhile (its
        # button disabled): a person clicks once the button is back.
        qtbot.waitUntil(
            lambda: not view.device_key.busy and view.device_key.new_button.isEnabled(),
            timeout=TIMEOUT,
        )
        QTest.mouseClick(view.device_key.new_button, Qt.MouseButton.LeftButton)
        # The new key is made in the background: wait until it is the one on screen.
        qtbot.waitUntil(
            lambda: not view.device_key.busy and view.device_key.jwk != shown, timeout=TIMEOUT
        )
        renewed = shown_key(qtbot, view.device_key)
        assert renewed != shown
        with client_for(clinic.settings.get()) as client, pytest.raises(AuthError):
            client.search_page("Patient")
        registered.append(renewed)
        with client_for(clinic.settings.get()) as client:
            assert client.search_page("Patient")["resourceType"] == "Bundle"
