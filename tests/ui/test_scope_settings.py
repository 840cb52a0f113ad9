"""The sync scope in Settings (issue 14), typed by a person: what the device pulls is shown to
everyone (a device enrolled before scopes says it has none), an admin changes it with the
settings' own validation and the server's check that enroll makes (an Organization the server
does not have is refused at its field and nothing is saved), and a clinician only reads it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.settings_scope import NO_SCOPE, NO_SERVER
from app.ui.settings_view import SettingsView
from sync.clinic_sync import check_scope_for
from sync.fhir.client import FhirClient
from tests.peer.harness import PeerServer
from tests.ui.conftest import ADMIN, ADMIN_PASS, CLINICIAN, CLINICIAN_PASS
from tests.ui.helpers import TIMEOUT, type_into
from tests.ui.test_auth_settings import choose, settings_page


def save(qtbot: QtBot, view: SettingsView) -> None:
    """Tab to Save and press it, as a person does without the mouse."""
    view.save_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(view.save_button.hasFocus, timeout=TIMEOUT)
    QTest.keyClick(view.save_button, Qt.Key.Key_Space)


def error_at(qtbot: QtBot, view: SettingsView, field: str) -> str:
    error = view.errors[field]
    qtbot.waitUntil(lambda: not error.isHidden(), timeout=TIMEOUT)
    return error.text()


def test_an_admin_scopes_the_device_checked_with_the_server(
    qtbot: QtBot, controller: AppController, seeded: Backend, fhir_peer: PeerServer
) -> None:
    window, view = settings_page(qtbot, controller)
    view.check_scope = check_scope_for  # what app.main hands in (Backend.check_scope)
    assert view.scope.summary.text() == NO_SERVER
    with FhirClient(fhir_peer.base_url) as client:
        made = client.create("Organization", {"resourceType": "Organization", "name": "Kisesa"})
        room = client.create("Location", {"resourceType": "Location", "name": "Kisesa OPD"})
    org, opd = str(made.resource["id"]), str(room.resource["id"])
    clinic = window.session.clinic

    type_into(qtbot, view.server, fhir_peer.base_url)
    choose(qtbot, view.auth, "none")
    save(qtbot, view)
    assert error_at(qtbot, view, "scope_organization").startswith(
        "Name the facility this device serves (its Organization, or a Group of its patients), "
        "or choose 'Pull every patient on the server'"
    )
    type_into(qtbot, view.scope.organization, "not-here-7")
    save(qtbot, view)
    qtbot.waitUntil(
        lambda: "not-here-7" in view.errors["scope_organization"].text(), timeout=TIMEOUT
    )
    assert view.errors["scope_organization"].text() == (
        "The server has no Organization not-here-7 — check the id with IT."
    )
    assert clinic.settings.get().server_url is None, "nothing saved"

    type_into(qtbot, view.scope.group, "Group/g1")  # both: the settings' own rule
    save(qtbot, view)
    assert error_at(qtbot, view, "scope_group") == (
        "Name the facility by its Organization or by a Group of patients, not both."
    )
    type_into(qtbot, view.scope.group, "")
    type_into(qtbot, view.scope.organization, org)  # a bare id, as IT may give it
    type_into(qtbot, view.scope.locations, "Location/opd-1")
    save(qtbot, view)
    assert error_at(qtbot, view, "scope_locations") == (
        "The server has no Location opd-1 — check the id with IT."
    )
    type_into(qtbot, view.scope.locations, f"Location/{opd}")
    save(qtbot, view)
    qtbot.waitUntil(lambda: view.saved_label.text().startswith("Saved."), timeout=TIMEOUT)
    assert "Sync pulls patients with managingOrganization" in view.saved_label.text()
    saved = clinic.settings.get()
    assert saved.server_url == fhir_peer.base_url
    assert saved.scope_organization == f"Organization/{org}"
    assert saved.scope_locations == (f"Location/{opd}",)
    qtbot.waitUntil(lambda: view.scope.organization.text() == f"Organization/{org}")
    assert view.scope.summary.text() == f"This facility: Organization/{org}, Location/{opd}."


def enrolled_before_scopes(backend: Backend) -> None:
    """The vault has a server and no scope, as one enrolled before scopes."""
    clinic = backend.unlock(ADMIN, ADMIN_PASS)
    try:
        clinic.settings.update(clinic.actor, server_url="https://fhir.example.org/R4")
    finally:
        clinic.close()


def test_a_device_enrolled_before_scopes_says_so_and_a_clinician_only_reads_it(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    enrolled_before_scopes(seeded)
    _, view = settings_page(qtbot, controller, CLINICIAN, CLINICIAN_PASS)
    assert view.scope.summary.text() == NO_SCOPE
    assert view.scope.summary.isVisibleTo(view)
    for name in ("scope_organization", "scope_locations", "scope_group", "pull_everything"):
        assert not view.inputs[name].isEnabled(), name
    assert not view.save_button.isEnabled()


def test_an_old_enrolment_keeps_working_without_a_scope_until_one_is_named(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    """Changing the sync interval does not force a scope on a device enrolled before scopes."""
    enrolled_before_scopes(seeded)
    window, view = settings_page(qtbot, controller)
    view.interval.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(view.interval.hasFocus, timeout=TIMEOUT)
    QTest.keyClick(view.interval, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(view.interval, "15")
    save(qtbot, view)
    qtbot.waitUntil(lambda: view.saved_label.text() == "Saved.", timeout=TIMEOUT)
    saved = window.session.clinic.settings.get()
    assert saved.sync_interval_minutes == 15 and not saved.scope_named
