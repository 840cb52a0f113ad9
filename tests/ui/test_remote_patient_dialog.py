"""Find on the central server, driven from the keyboard: staff at this facility look up a
patient of another organization on the FHIR peer, bring them onto the device and their chart
opens; a malformed birth date, a device without a server and an offline one each say so."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from app.main import build_backend
from app.services.sync_status import SyncState
from app.store.crypto import FAST_FOR_TESTS
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.main_window import MainView
from app.ui.remote_patient_dialog import NOT_ENROLLED, OFFLINE, RemotePatientDialog
from sync.fhir.client import FhirClient
from sync.remote_patients import VISITING_KEY, remote_lookup_for
from tests.clock import SettableClock
from tests.peer.harness import PeerServer
from tests.realfhir.plugin import peer_server
from tests.sync.test_remote_patients import organization, treated_elsewhere
from tests.ui.conftest import ADMIN, ADMIN_PASS, STAFF, STAFF_PASS, open_as
from tests.ui.helpers import TIMEOUT

UNUSED_PORT_URL = "http://127.0.0.1:9/fhir"


@pytest.fixture
def backend(tmp_path: Path, clock: SettableClock) -> Backend:
    """The app's backend with the look-up wired in, as the desktop app has it."""
    made = build_backend(tmp_path / "vault", kdf=FAST_FOR_TESTS, clock=clock)
    return replace(made, remote_patients=remote_lookup_for)


def enrol(backend: Backend, server_url: str, organization_ref: str | None = None) -> None:
    admin = backend.unlock(ADMIN, ADMIN_PASS)
    try:
        admin.settings.update(
            admin.actor, server_url=server_url, scope_organization=organization_ref
        )
    finally:
        admin.close()


def open_dialog(qtbot: QtBot, window: MainView) -> RemotePatientDialog:
    """Tab to "Find on the central server…" and press Space, as a person would."""
    button = window.patients.remote_button
    assert button.isVisible() and button.isEnabled()
    button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(button.hasFocus, timeout=TIMEOUT)
    QTest.keyClick(button, Qt.Key.Key_Space)
    qtbot.waitUntil(
        lambda: (
            window.patients.remote_dialog is not None and window.patients.remote_dialog.isVisible()
        ),
        timeout=TIMEOUT,
    )
    dialog = window.patients.remote_dialog
    assert dialog is not None
    if dialog.name.isEnabled():  # the first field takes the keys
        qtbot.waitUntil(dialog.name.hasFocus, timeout=TIMEOUT)
    return dialog


def type_here(qtbot: QtBot, text: str) -> None:
    """Type into whatever has the keyboard focus."""
    focused = QApplication.focusWidget()
    assert isinstance(focused, QLineEdit)
    QTest.keyClicks(focused, text)


def tab() -> None:
    focused = QApplication.focusWidget()
    assert focused is not None
    QTest.keyClick(focused, Qt.Key.Key_Tab)


def enter() -> None:
    focused = QApplication.focusWidget()
    assert focused is not None
    QTest.keyClick(focused, Qt.Key.Key_Return)


@pytest.mark.peer
def test_staff_find_another_facilitys_patient_and_their_chart_opens(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    fhir_peer: PeerServer,
    tmp_path: Path,
) -> None:
    server = peer_server(fhir_peer)
    them = treated_elsewhere(server, tmp_path)
    with FhirClient(fhir_peer.base_url) as client:
        home = organization(client, "Mlandizi Dispensary")
    enrol(seeded, fhir_peer.base_url, f"Organization/{home}")
    window = open_as(controller, qtbot, STAFF, STAFF_PASS)
    dialog = open_dialog(qtbot, window)

    # A malformed birth date: said under the field, nothing sent.
    type_here(qtbot, f"Zawadi {them.family}")
    tab()
    tab()
    qtbot.waitUntil(dialog.birth_date.hasFocus, timeout=TIMEOUT)
    type_here(qtbot, "06/05/1971")
    enter()
    error = dialog.errors["birth_date"]
    qtbot.waitUntil(error.isVisible, timeout=TIMEOUT)
    assert "YYYY-MM-DD" in error.text() and dialog.searches_done == 0
    assert dialog.model.rowCount() == 0

    dialog.birth_date.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(dialog.birth_date.hasFocus, timeout=TIMEOUT)
    dialog.birth_date.selectAll()
    type_here(qtbot, them.birth_date)
    enter()
    qtbot.waitUntil(lambda: dialog.searches_done == 1, timeout=TIMEOUT)
    assert not error.isVisible()
    assert dialog.model.rowCount() == 1
    cells = [dialog.model.index(0, col).data() for col in range(6)]
    assert cells == [
        f"{them.family.upper()}, Zawadi",
        "female",
        them.birth_date,
        f"{them.identifier} (urn:district:mrn)",
        them.organization_name,
        "",
    ]
    assert dialog.status.text() == "1 patient found."
    qtbot.waitUntil(dialog.table.hasFocus, timeout=TIMEOUT)
    assert dialog.bring_button.isEnabled()
    # Found, not stored: the local search does not know them yet.
    assert window.session.clinic.queries.search_patients(them.family) == []

    enter()  # on the found row: bring them here
    chart = window.chart
    qtbot.waitUntil(
        lambda: chart.current is not None and chart.current.patient.family == them.family,
        timeout=TIMEOUT,
    )
    assert window.patients.remote_dialog is None  # closed
    view = chart.current
    assert view is not None
    assert [p.data.get("text") for p in view.problems] == ["Malaria, uncomplicated"]
    assert view.last_vitals is not None
    assert window.patients.selected_patient_id() == view.patient.patient_id
    clinic = window.session.clinic
    visiting = clinic.sync_gateway.journal(VISITING_KEY)
    assert visiting[them.server_id]["local_id"] == view.patient.patient_id
    actions = [e.action for e in clinic.queries.audit(limit=10) if e.user == STAFF]
    assert actions[:3] == ["ChartViewed", "RemotePatientFetched", "RemotePatientSearched"]


def test_a_device_without_a_server_says_so_and_admins_have_no_button(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window = open_as(controller, qtbot, STAFF, STAFF_PASS)
    dialog = open_dialog(qtbot, window)
    qtbot.waitUntil(dialog.notice.isVisible, timeout=TIMEOUT)
    assert dialog.notice.text() == NOT_ENROLLED
    assert not dialog.search_button.isEnabled() and not dialog.name.isEnabled()
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.patients.remote_dialog is None, timeout=TIMEOUT)
    controller.lock()

    admin = open_as(controller, qtbot, ADMIN, ADMIN_PASS)
    assert not admin.patients.remote_button.isEnabled()
    assert "Only clinicians and staff" in admin.patients.remote_button.toolTip()


def test_an_offline_device_says_so_and_keeps_what_was_typed(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    enrol(seeded, UNUSED_PORT_URL)
    window = open_as(controller, qtbot, STAFF, STAFF_PASS)
    # The background sync found the server unreachable: the dialog says so from the start.
    qtbot.waitUntil(lambda: window.session.sync.status.state is SyncState.OFFLINE, timeout=TIMEOUT)
    dialog = open_dialog(qtbot, window)
    assert dialog.notice.isVisible() and dialog.notice.text().startswith(OFFLINE)
    type_here(qtbot, "Zawadi")
    enter()
    qtbot.waitUntil(dialog.form_error.isVisible, timeout=TIMEOUT)
    assert "this device looks offline" in dialog.form_error.text()
    assert dialog.name.text() == "Zawadi" and dialog.search_button.isEnabled()
    assert dialog.model.rowCount() == 0
    remote = [e for e in window.session.clinic.queries.audit(limit=10) if e.user == STAFF]
    assert remote == []
