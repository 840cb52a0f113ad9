"""What each role sees: actions it may not run are disabled, with a tooltip saying why."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.permissions import ADMIN_ONLY
from tests.peer.harness import PeerServer
from tests.ui.conftest import (
    ADMIN,
    ADMIN_PASS,
    CLINICIAN,
    STAFF,
    STAFF_PASS,
    open_as,
    register_patient,
)
from tests.ui.helpers import TIMEOUT, cell, fill, submit_ok
from tests.ui.scope_server import peer_organization


def test_staff_registers_and_books_but_records_nothing_clinical(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window = open_as(controller, qtbot, STAFF, STAFF_PASS)
    assert window.new_action.isEnabled()
    window.new_patient()
    form = window.last_form
    assert form is not None
    fill(form, given="Wanjiru", family="Kamau", birth_date="1990-07-01", sex="female")
    submit_ok(qtbot, form)
    chart = window.chart
    qtbot.waitUntil(lambda: chart.current is not None, timeout=TIMEOUT)

    actions = chart.chart_actions.actions
    assert not actions["vitals"].isEnabled()
    assert actions["vitals"].toolTip() == (
        "Your role (staff) may not record vitals; this needs a clinician."
    )
    assert not actions["prescribe"].isEnabled()
    assert actions["follow_up"].isEnabled()
    assert actions["demographics"].isEnabled()
    toolbar_button = next(
        b
        for b in chart.summary.findChildren(type(window.patients.new_button))
        if b.text() == "Resolve…"
    )
    assert not toolbar_button.isEnabled()
    assert "may not resolve diagnoses" in toolbar_button.toolTip()

    for page in (4, 5):  # users, audit
        item = window.nav.item(page)
        assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
        assert item.toolTip() == ADMIN_ONLY
    window.show_page(3)
    settings = window.settings
    qtbot.waitUntil(lambda: settings.current is not None, timeout=TIMEOUT)
    assert not settings.server.isEnabled()
    assert settings.save_button.toolTip() == "Only an admin may change device settings."


@pytest.mark.peer
def test_admin_manages_the_device_but_opens_no_chart(
    qtbot: QtBot, controller: AppController, seeded: Backend, fhir_peer: PeerServer
) -> None:
    register_patient(seeded)
    window = open_as(controller, qtbot, ADMIN, ADMIN_PASS)
    assert not window.new_action.isEnabled()
    assert "do not open charts" in window.new_action.toolTip()
    assert window.stack.currentWidget() is window.sync_panel  # the first page an admin may use
    window.show_page(0)
    assert window.stack.currentWidget() is window.sync_panel  # refused, with a status message
    assert "do not open charts" in window.statusBar().currentMessage()

    window.show_page(3)
    settings = window.settings
    qtbot.waitUntil(lambda: settings.current is not None, timeout=TIMEOUT)
    settings.server.setText("ftp://nope")
    settings.save()
    error = settings.errors["server_url"]
    qtbot.waitUntil(lambda: not error.isHidden(), timeout=TIMEOUT)
    assert error.text() == "The server address must start with https://."
    # The clinic's server and facility (checked with the server before saving, as enroll does).
    settings.server.setText(fhir_peer.base_url)
    settings.scope.organization.setText(peer_organization(fhir_peer, "kisesa-hc"))
    settings.auto_lock.setValue(3)
    settings.save()
    qtbot.waitUntil(lambda: settings.saved_label.text().startswith("Saved."), timeout=TIMEOUT)
    assert controller.idle.timeout_ms == 3 * 60_000  # auto-lock follows the settings at once

    window.show_page(5)
    audit = window.audit
    qtbot.waitUntil(lambda: bool(audit.entries), timeout=TIMEOUT)
    # Newest first: the admin's settings change (names of the settings only), then the
    # clinician's registration.
    assert cell(audit.table, 0, 3) == "Settings changed"
    assert cell(audit.table, 0, 1) == ADMIN
    assert cell(audit.table, 0, 5) == "server url, auto lock minutes, scope organization"
    assert cell(audit.table, 1, 3) == "Patient registered"
    assert cell(audit.table, 1, 1) == CLINICIAN
    window.show_page(4)
    users = window.users
    qtbot.waitUntil(lambda: len(users.users) == 3, timeout=TIMEOUT)
    users.table.selectRow([u.name for u in users.users].index(ADMIN))
    assert not users.disable_button.isEnabled()
    assert "signed in as" in users.disable_button.toolTip()
    users.table.selectRow([u.name for u in users.users].index(STAFF))
    users.disable_selected()
    box = users.last_dialog
    assert isinstance(box, QMessageBox)
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(
        lambda: any(u.name == STAFF and u.disabled for u in users.users), timeout=TIMEOUT
    )
