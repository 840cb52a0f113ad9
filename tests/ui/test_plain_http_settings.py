"""Settings refuse a server address that would carry patient data in clear text: plain
http:// to another machine (issue 15, item 4). The field says why and what to type instead,
and nothing is saved."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.ui.backend import Backend
from tests.ui.conftest import ControllerFactory
from tests.ui.helpers import TIMEOUT, type_into
from tests.ui.scope_server import with_stub_check
from tests.ui.test_auth_settings import settings_page


def test_settings_refuse_plain_http_to_another_machine_and_say_to_use_https(
    qtbot: QtBot, make_controller: ControllerFactory, seeded: Backend
) -> None:
    stubbed, check = with_stub_check(seeded)
    window, view = settings_page(qtbot, make_controller(stubbed))
    before = window.session.clinic.settings.get()
    type_into(qtbot, view.server, "http://fhir.clinic.lan/fhir")
    type_into(qtbot, view.scope.organization, "Organization/mbeya")
    view.save_button.click()
    error = view.errors["server_url"]
    qtbot.waitUntil(lambda: not error.isHidden(), timeout=TIMEOUT)
    assert "fhir.clinic.lan" in error.text() and "https://fhir.clinic.lan" in error.text()
    assert window.session.clinic.settings.get() == before and check.checked == []
