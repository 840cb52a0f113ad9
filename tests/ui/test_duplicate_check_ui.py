"""The New patient form's duplicate check, driven by keyboard: the receptionist types an
existing patient's name spelt another way ("Akieng Odiambo" for Achieng Odhiambo), sees her with
the reasons before anything is registered, and either opens her chart (Enter on the list: the
same person, nothing registered) or registers a new patient anyway (Alt+N). On a device
enrolled with a central server (the FHIR peer), Register also asks the server: a patient only
there is offered and, chosen, brought here and her chart opens; a server that cannot be reached
leaves the device's candidates and says so. The backend has the server look-up wired in, as the
desktop app has it, so the tests without an enrolled server show the form behaves as before."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.main import build_backend
from app.store.crypto import FAST_FOR_TESTS
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.forms.patient_forms import RegisterPatientDialog
from sync.fhir.client import FhirClient
from sync.remote_patients import remote_lookup_for
from tests.clock import SettableClock
from tests.peer.harness import PeerServer
from tests.realfhir.plugin import peer_server
from tests.sync.test_remote_patients import organization, treated_elsewhere
from tests.ui.conftest import ADMIN, ADMIN_PASS, STAFF, STAFF_PASS, open_as, open_demo_chart
from tests.ui.helpers import TIMEOUT
from tests.ui.keyboard_driving import (
    CTRL,
    App,
    Key,
    Sent,
    fields,
    focused,
    new_patient_form,
    press,
)
from tests.ui.test_form_keyboard import app  # noqa: F401 (the demo clinic, commands captured)

ALT = Qt.KeyboardModifier.AltModifier
UNUSED_PORT_URL = "http://127.0.0.1:9/fhir"  # nothing listens: the server cannot be asked


@pytest.fixture
def backend(tmp_path: Path, clock: SettableClock) -> Backend:
    """The app's backend with the server look-up wired in, as the desktop app has it."""
    made = build_backend(tmp_path / "vault", kdf=FAST_FOR_TESTS, clock=clock)
    return replace(made, remote_patients=remote_lookup_for)


def enrol(backend: Backend, server_url: str, organization_ref: str | None = None) -> None:
    """What IT does in Settings: this device syncs with `server_url` for the organization."""
    admin = backend.unlock(ADMIN, ADMIN_PASS)
    try:
        admin.settings.update(
            admin.actor, server_url=server_url, scope_organization=organization_ref
        )
    finally:
        admin.close()


def _typed_variant(qtbot: QtBot, app: App) -> RegisterPatientDialog:  # noqa: F811
    form = new_patient_form(qtbot, app)
    assert isinstance(form, RegisterPatientDialog)
    fields("Akieng", "Odiambo", "1971-03-21", "f")
    # Leaving the birth date already showed the list; Register checks again (the sex changed)
    # and puts the keyboard on the list instead of registering.
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is form.similar.table, timeout=TIMEOUT)
    assert form.similar.isVisible() and form.last_changes is None
    return form


def test_the_same_person_opens_her_chart_and_registers_nothing(
    qtbot: QtBot,
    app: App,  # noqa: F811
    tmp_path: Path,
) -> None:
    form = _typed_variant(qtbot, app)
    [found] = form.similar.patients
    assert found.patient_id == app.patient_id
    assert found.reasons == ("name sounds alike", "birth date one digit apart")
    table = form.similar.table
    texts = [table.item(0, col).text() for col in (0, 3)]  # type: ignore[union-attr]
    assert texts == ["ODHIAMBO, Achieng", "name sounds alike, birth date one digit apart"]
    assert focused() is table  # Enter chooses the selected row
    form.resize(900, 640)  # as it opens on a 1366x768 screen (docs/screens/duplicate-check.png)
    qtbot.wait(50)
    assert form.grab().save(str(tmp_path / "duplicate-check.png"))
    form.resize(910, 512)  # 1366x768 at 150 %: the list, its answers and Register still show
    qtbot.wait(50)
    assert form.grab().save(str(tmp_path / "duplicate-check-small.png"))
    inside = form.rect()
    for widget in (table, form.similar.same_button, form.similar.new_button, form.save_button):
        corner = widget.mapTo(form, widget.rect().bottomRight())
        assert widget.isVisible() and inside.contains(corner), widget.accessibleName()
    other = app.window.chart
    press(Key.Key_Return)
    qtbot.waitUntil(lambda: not form.isVisible(), timeout=TIMEOUT)
    assert not any(isinstance(cmd, c.RegisterPatient) for cmd in app.sent.commands)
    qtbot.waitUntil(
        lambda: other.current is not None and other.current.patient.patient_id == app.patient_id,
        timeout=TIMEOUT,
    )


def test_new_patient_registers_anyway(qtbot: QtBot, app: App) -> None:  # noqa: F811
    form = _typed_variant(qtbot, app)
    press(Key.Key_N, ALT)  # the "New patient" button's mnemonic
    qtbot.waitUntil(lambda: form.last_changes is not None, timeout=TIMEOUT)
    command = app.sent.last(c.RegisterPatient)
    assert (command.given, command.family, command.birth_date) == (
        "Akieng",
        "Odiambo",
        "1971-03-21",
    )
    assert form.last_changes is not None and form.last_changes.patient_id != app.patient_id


def test_nobody_alike_registers_at_once(qtbot: QtBot, app: App) -> None:  # noqa: F811
    form = new_patient_form(qtbot, app)
    fields("Grace", "Chebet", "2002-08-30", "f")
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: form.last_changes is not None, timeout=TIMEOUT)
    assert app.sent.last(c.RegisterPatient).family == "Chebet"  # no list was shown to choose


@pytest.mark.peer
def test_a_patient_only_on_the_server_is_offered_brought_here_and_her_chart_opens(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    fhir_peer: PeerServer,
    tmp_path: Path,
) -> None:
    them = treated_elsewhere(peer_server(fhir_peer), tmp_path)  # another facility's patient
    with FhirClient(fhir_peer.base_url) as client:
        home = organization(client, f"Mlandizi Dispensary {uuid.uuid4().hex[:8]}")
    enrol(seeded, fhir_peer.base_url, f"Organization/{home}")
    window = open_as(controller, qtbot, STAFF, STAFF_PASS)
    clinic = window.session.clinic
    form = new_patient_form(qtbot, App(window, "", Sent()))
    assert isinstance(form, RegisterPatientDialog)
    # Given name spelt differently, birth date one digit off (the server matches the family
    # name; the scoring is done here). Leaving the birth date checks this device only.
    born = them.birth_date[:-1] + ("7" if them.birth_date[-1] != "7" else "8")
    fields("Zawady", them.family, born, "f")
    press(Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is form.similar.table, timeout=TIMEOUT)
    [found] = form.similar.patients
    assert (found.where, found.server_id, found.patient_id) == ("server", them.server_id, "")
    table = form.similar.table
    cells = [table.item(0, col).text() for col in range(5)]  # type: ignore[union-attr]
    assert cells == [
        f"{them.family.upper()}, Zawadi",
        them.birth_date,
        "female",
        "name sounds alike, birth date one digit apart",
        "on the central server",
    ]
    assert form.similar.note.isHidden()  # the server answered: nothing to explain
    searched = [e.action for e in clinic.queries.audit(limit=20)].count("RemotePatientSearched")
    assert searched == 1  # on Register only, not on leaving the birth date

    press(Key.Key_Return)  # "This is the same person": bring her here, open her chart
    chart = window.chart
    qtbot.waitUntil(
        lambda: chart.current is not None and chart.current.patient.family == them.family,
        timeout=TIMEOUT,
    )
    view = chart.current
    assert view is not None
    assert [p.data.get("text") for p in view.problems] == ["Malaria, uncomplicated"]
    [here] = clinic.queries.search_patients(them.family)  # brought; nobody registered
    assert here.patient_id == view.patient.patient_id
    assert "RemotePatientFetched" in [e.action for e in clinic.queries.audit(limit=20)]


def test_a_server_that_cannot_be_asked_leaves_the_device_candidates_and_says_so(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    enrol(seeded, UNUSED_PORT_URL)
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    form = _typed_variant(qtbot, App(window, patient_id, Sent()))
    [found] = form.similar.patients
    assert found.patient_id == patient_id and found.where == "device"
    note = form.similar.note
    assert note.isVisible() and note.objectName() == "muted"
    assert note.text().startswith("The central server could not be asked:")
