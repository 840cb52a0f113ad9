"""Issue 12 (IT and small items) in the desktop app: a forgotten passphrase reset with the
recovery secret, a disabled user enabled again, the signed-in user's own passphrase change,
the audit of admin actions and refused unlocks with patient names, one "Viewed chart" per
opening, printing the recovery secret, per-user preferences and the window's focus after
unlocking. Fields are typed into with the keyboard, as a person would."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QTableWidgetItem, QWidget
from pytestqt.qtbot import QtBot

from app.ui.app_controller import AppController
from app.ui.audit_view import AuditView
from app.ui.backend import Backend
from app.ui.first_run import FirstRunDialog, RecoveryPage
from app.ui.main_window import MainView
from app.ui.preferences import Preferences, user_key
from app.ui.unlock_dialog import RecoveryResetDialog, UnlockDialog
from app.ui.user_dialogs import ChangePassphraseDialog, EnableUserDialog, PassphraseFormDialog
from tests.clock import SettableClock
from tests.ui.conftest import (
    ADMIN,
    ADMIN_PASS,
    CLINICIAN,
    CLINICIAN_PASS,
    STAFF,
    STAFF_PASS,
    create_seeded_vault,
    open_as,
    register_patient,
)
from tests.ui.helpers import TIMEOUT, type_into


@pytest.fixture
def secret(backend: Backend) -> str:
    """A vault with an admin, a clinician and a staff member; its recovery secret."""
    return create_seeded_vault(backend)


def fill_form(qtbot: QtBot, dialog: PassphraseFormDialog, **values: str) -> None:
    for key, text in values.items():
        type_into(qtbot, dialog.inputs[key], text)


def press_enter(widget: QWidget) -> None:
    QTest.keyClick(widget, Qt.Key.Key_Return)


def unlock_dialog(controller: AppController, qtbot: QtBot) -> UnlockDialog:
    controller.start()
    dialog = controller.dialog
    assert isinstance(dialog, UnlockDialog)
    qtbot.waitExposed(dialog)
    return dialog


def unlock_by_keyboard(qtbot: QtBot, dialog: UnlockDialog, user: str, passphrase: str) -> None:
    type_into(qtbot, dialog.user, user)
    type_into(qtbot, dialog.passphrase, passphrase)
    press_enter(dialog.passphrase)


def errors_of(dialog: PassphraseFormDialog) -> dict[str, str]:
    found = {k: e.text() for k, e in dialog.errors.items() if e.text()}
    if dialog.form_error.text():
        found["form"] = dialog.form_error.text()
    return found


def wait_refused(qtbot: QtBot, dialog: PassphraseFormDialog) -> dict[str, str]:
    qtbot.waitUntil(lambda: bool(errors_of(dialog)), timeout=TIMEOUT)
    qtbot.waitUntil(dialog.submit_button.isEnabled, timeout=TIMEOUT)
    return errors_of(dialog)


# -- a forgotten passphrase --------------------------------------------------------------


def test_a_forgotten_passphrase_is_reset_with_the_recovery_secret(
    qtbot: QtBot, controller: AppController, backend: Backend, secret: str
) -> None:
    dialog = unlock_dialog(controller, qtbot)
    type_into(qtbot, dialog.user, CLINICIAN)
    dialog.forgot_button.setFocus()
    QTest.keyClick(dialog.forgot_button, Qt.Key.Key_Space)
    reset = dialog.reset_dialog
    assert isinstance(reset, RecoveryResetDialog)
    qtbot.waitExposed(reset)
    assert reset.inputs["user"].text() == CLINICIAN  # taken from the unlock dialog

    # The new passphrases must match before anything slow happens.
    fill_form(qtbot, reset, secret=secret, new="a new passphrase", repeat="a new passfrase")
    press_enter(reset.inputs["repeat"])
    assert errors_of(reset) == {"repeat": "The two new passphrases differ."}

    # A wrong secret: a plain message on the secret's field, with the growing delay explained.
    fill_form(qtbot, reset, secret="0000-1111-2222-3333", new="a new one!", repeat="a new one!")
    press_enter(reset.inputs["repeat"])
    refused = wait_refused(qtbot, reset)
    assert refused["secret"].startswith("Wrong recovery secret.")
    assert "wait a little longer" in refused["secret"]
    assert reset.inputs["secret"].text() == reset.inputs["new"].text() == ""

    # An unknown user is named as such.
    fill_form(qtbot, reset, secret=secret, new="a new one!", repeat="a new one!")
    type_into(qtbot, reset.inputs["user"], "nobody")
    press_enter(reset.inputs["repeat"])
    assert wait_refused(qtbot, reset) == {"user": "There is no user 'nobody' in this vault."}

    # The secret as read off paper: lower case, spaces, O for 0 and l for 1.
    typed = secret.replace("-", " ").lower().replace("0", "o").replace("1", "l")
    fill_form(qtbot, reset, secret=typed, new="amanis new passphrase")
    fill_form(qtbot, reset, repeat="amanis new passphrase")
    type_into(qtbot, reset.inputs["user"], CLINICIAN)
    press_enter(reset.inputs["repeat"])
    qtbot.waitUntil(lambda: dialog.reset_dialog is None, timeout=TIMEOUT)
    assert dialog.notice.text() == (
        f"The passphrase of {CLINICIAN} was reset. Sign in with the new passphrase."
    )
    assert dialog.user.text() == CLINICIAN
    qtbot.waitUntil(dialog.passphrase.hasFocus, timeout=TIMEOUT)

    QTest.keyClicks(dialog.passphrase, CLINICIAN_PASS)  # the old one no longer works
    press_enter(dialog.passphrase)
    qtbot.waitUntil(lambda: "Wrong passphrase" in dialog.error.text(), timeout=TIMEOUT)
    assert "wait a little longer" in dialog.error.text()
    QTest.keyClicks(dialog.passphrase, "amanis new passphrase")
    press_enter(dialog.passphrase)
    qtbot.waitUntil(lambda: controller.window is not None, timeout=TIMEOUT)
    assert controller.session is not None and controller.session.actor.user == CLINICIAN


# -- users -----------------------------------------------------------------------------------


def users_page(controller: AppController, qtbot: QtBot) -> MainView:
    window = open_as(controller, qtbot, ADMIN, ADMIN_PASS)
    window.show_page(4)
    qtbot.waitUntil(lambda: len(window.users.users) == 3, timeout=TIMEOUT)
    return window


def select_user(qtbot: QtBot, window: MainView, name: str) -> None:
    row = [u.name for u in window.users.users].index(name)
    window.users.table.selectRow(row)
    qtbot.waitUntil(lambda: window.users._selected() is not None, timeout=TIMEOUT)


def test_an_admin_enables_a_disabled_user_with_a_new_passphrase(
    qtbot: QtBot, controller: AppController, backend: Backend, secret: str
) -> None:
    window = users_page(controller, qtbot)
    view = window.users
    select_user(qtbot, window, STAFF)
    assert not view.enable_button.isEnabled()
    assert view.enable_button.toolTip() == "This user is active."
    view._disable(STAFF)
    qtbot.waitUntil(lambda: any(u.disabled for u in view.users), timeout=TIMEOUT)
    select_user(qtbot, window, STAFF)
    assert view.enable_button.isEnabled() and not view.disable_button.isEnabled()

    view.enable_button.click()
    dialog = view.last_dialog
    assert isinstance(dialog, EnableUserDialog)
    qtbot.waitExposed(dialog)
    fill_form(qtbot, dialog, new="short", repeat="short")
    press_enter(dialog.inputs["repeat"])
    assert wait_refused(qtbot, dialog) == {"new": "The passphrase must have at least 8 characters."}
    fill_form(qtbot, dialog, new="baraka is back again", repeat="baraka is back again")
    press_enter(dialog.inputs["repeat"])
    qtbot.waitUntil(lambda: not any(u.disabled for u in view.users), timeout=TIMEOUT)
    assert view.note.text() == "3 active users"

    clinic = backend.unlock(STAFF, "baraka is back again")
    assert clinic.vault.actor.user == STAFF
    clinic.close()


def test_only_an_admin_sees_the_enable_button_working(
    qtbot: QtBot, controller: AppController, secret: str
) -> None:
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    assert not window.users.enable_button.isEnabled()


def test_the_signed_in_user_changes_their_own_passphrase(
    qtbot: QtBot, controller: AppController, backend: Backend, secret: str
) -> None:
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    file_menu = window.menuBar().actions()[0].menu()
    assert isinstance(file_menu, QMenu)
    assert "Change my &passphrase…" in [a.text() for a in file_menu.actions()]
    controller.change_passphrase_action.trigger()
    dialog = window.findChild(ChangePassphraseDialog)
    assert isinstance(dialog, ChangePassphraseDialog)
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(dialog.inputs["current"].hasFocus, timeout=TIMEOUT)

    fill_form(qtbot, dialog, current="not my passphrase", new="amani v2 pass")
    fill_form(qtbot, dialog, repeat="amani v2 pass")
    press_enter(dialog.inputs["repeat"])
    assert wait_refused(qtbot, dialog) == {"current": f"Wrong passphrase for user '{CLINICIAN}'."}
    assert dialog.inputs["current"].text() == ""

    fill_form(qtbot, dialog, current=CLINICIAN_PASS, new="amani v2 pass", repeat="amani v2 pass")
    with qtbot.waitSignal(dialog.accepted, timeout=TIMEOUT):
        press_enter(dialog.inputs["repeat"])
    assert window.statusBar().currentMessage() == "Your passphrase was changed."
    controller.lock()
    clinic = backend.unlock(CLINICIAN, "amani v2 pass")
    clinic.close()


# -- the audit ------------------------------------------------------------------------------


def cell(item: QTableWidgetItem | None) -> str:
    assert item is not None
    return item.text()


def audit_rows(view: AuditView) -> list[list[str]]:
    return [
        [cell(view.table.item(r, c)) for c in range(view.table.columnCount())]
        for r in range(view.table.rowCount())
    ]


def test_the_audit_shows_admin_actions_refused_unlocks_and_patient_names(
    qtbot: QtBot, controller: AppController, backend: Backend, secret: str, clock: SettableClock
) -> None:
    patient_id = register_patient(backend, given="Asha", family="Mwangi")
    with pytest.raises(Exception, match="Wrong passphrase"):
        backend.unlock(STAFF, "not the passphrase")
    with pytest.raises(Exception, match="no user"):
        backend.unlock("my secret words", "whatever")  # a passphrase typed as the name
    clock.advance(minutes=2)
    window = open_as(controller, qtbot, ADMIN, ADMIN_PASS)
    window.show_page(5)
    view = window.audit
    qtbot.waitUntil(lambda: view.table.rowCount() > 0, timeout=TIMEOUT)
    rows = audit_rows(view)
    headers = [cell(view.table.horizontalHeaderItem(c)) for c in range(len(rows[0]))]
    assert headers == [
        "When",
        "User",
        "Role",
        "Action",
        "Patient",
        "Details",
        "Patient id",
        "Device",
    ]
    by_action = {(r[3], r[1]): r for r in rows}
    assert by_action[("Patient registered", CLINICIAN)][4:7] == ["Mwangi, Asha", "", patient_id]
    assert by_action[("Unlock refused", STAFF)][5] == "wrong passphrase"
    unknown = by_action[("Unlock refused", "(not a user here)")]
    assert unknown[5] == "a user name this device does not know"
    assert [r[5] for r in rows if r[3] == "User added"] == [
        f"{STAFF}, staff",
        f"{CLINICIAN}, clinician",
    ]
    assert all("my secret" not in cell for row in rows for cell in row)


def test_viewed_chart_is_recorded_once_per_opening_not_per_as_of_change(
    qtbot: QtBot, controller: AppController, backend: Backend, secret: str, clock: SettableClock
) -> None:
    patient_id = register_patient(backend)
    clock.advance(minutes=30)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    chart = window.chart
    chart.show_patient(patient_id)
    qtbot.waitUntil(lambda: chart.current is not None, timeout=TIMEOUT)
    chart.as_of_box.setChecked(True)
    for minutes in (25, 20, 15):
        moment = clock().astimezone().timestamp() - minutes * 60
        chart.as_of_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(moment)))
        qtbot.waitUntil(
            lambda: chart.current is not None and chart.current.as_of is not None,
            timeout=TIMEOUT,
        )
        qtbot.wait(450)  # past the as-of timer
        qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    chart.as_of_box.setChecked(False)
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    views = [e for e in window.session.clinic.queries.audit() if e.action == "ChartViewed"]
    assert [(e.user, e.patient_id) for e in views] == [(CLINICIAN, patient_id)]


# -- printing the recovery secret -----------------------------------------------------------


def pdf_text(data: bytes) -> str:
    """The text of a PDF written by Qt: each font's ToUnicode map applied to the glyph ids
    of every Tj in the page streams (enough for a one-page test document)."""
    objects = {int(n): body for n, body in re.findall(rb"(\d+) 0 obj(.*?)endobj", data, re.S)}

    def stream(body: bytes) -> bytes:
        found = re.search(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S)
        raw = found.group(1) if found else b""
        return zlib.decompress(raw) if b"FlateDecode" in body else raw

    def cmap(text: bytes) -> dict[int, str]:
        mapping: dict[int, str] = {}
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
            for lo, hi, dest in re.findall(rb"<(\w+)> <(\w+)> (\[[^\]]*\]|<\w+>)", block):
                first, last = int(lo, 16), int(hi, 16)
                targets = re.findall(rb"<(\w+)>", dest)
                for i, code in enumerate(range(first, last + 1)):
                    value = (
                        int(targets[i], 16) if dest.startswith(b"[") else int(dest[1:-1], 16) + i
                    )
                    mapping[code] = chr(value)
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
            for code, value in re.findall(rb"<(\w+)> <(\w+)>", block):
                mapping[int(code, 16)] = chr(int(value, 16))
        return mapping

    fonts: dict[bytes, dict[int, str]] = {}
    for body in objects.values():
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", body):
            font = objects.get(int(ref), b"")
            to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", font)
            if to_unicode:
                fonts[name] = cmap(stream(objects[int(to_unicode.group(1))]))
    text: list[str] = []
    for body in objects.values():
        if b"stream" not in body or b"/Length1" in body or b"/Subtype" in body:
            continue
        content = stream(body)
        current: dict[int, str] = {}
        for font, glyphs in re.findall(rb"/(F\d+) [\d.]+ Tf|<([0-9A-Fa-f]+)> Tj", content):
            if font:
                current = fonts.get(font, {})
            else:
                for i in range(0, len(glyphs), 4):
                    text.append(current.get(int(glyphs[i : i + 4], 16), "?"))
    return "".join(text)


def test_the_recovery_secret_prints_and_goes_to_no_other_file(
    qtbot: QtBot,
    controller: AppController,
    backend: Backend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pdf = tmp_path / "printed" / "recovery.pdf"
    pdf.parent.mkdir()
    chosen: list[QPrinter] = []

    def print_to_pdf(printer: QPrinter, _parent: QWidget) -> bool:
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(pdf))
        chosen.append(printer)
        return True

    monkeypatch.setattr(RecoveryPage, "choose_printer", staticmethod(print_to_pdf))
    controller.start()
    wizard = controller.dialog
    assert isinstance(wizard, FirstRunDialog)
    qtbot.waitExposed(wizard)
    page = wizard.admin_page
    type_into(qtbot, page.passphrase, ADMIN_PASS)
    type_into(qtbot, page.repeat, ADMIN_PASS)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=TIMEOUT)
    secret = wizard.recovery_page.secret.text()
    assert secret

    wizard.recovery_page.print_button.click()
    assert len(chosen) == 1 and pdf.exists()
    text = pdf_text(pdf.read_bytes())
    assert secret in text
    assert "Forgot passphrase" in text.replace("?", " ").replace("  ", " ") or "Forgot" in text

    # Nowhere else: not in the vault's folder nor anywhere under the test's directory.
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != pdf:
            data = path.read_bytes()
            assert secret.encode() not in data, path
            assert secret.replace("-", "").encode() not in data, path

    # Declining the print dialog prints nothing.
    monkeypatch.setattr(RecoveryPage, "choose_printer", staticmethod(lambda _p, _w: False))
    pdf.unlink()
    assert wizard.recovery_page.print_secret() is False
    assert not pdf.exists()


# -- per-user preferences and focus ------------------------------------------------------


def test_preferences_are_each_users_own(
    qtbot: QtBot,
    controller: AppController,
    secret: str,
    prefs: Preferences,
    settings_path: Path,
) -> None:
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window.show_page(1)
    window.session.prefs.set("schedule/mode", "week")
    window.session.prefs.set("chart/tab", 3)
    controller.lock()

    window = open_as(controller, qtbot, STAFF, STAFF_PASS)
    assert window.session.prefs.text("schedule/mode", "day") == "day"
    assert window.session.prefs.integer("chart/tab", 0) == 0
    assert window.stack.currentIndex() == 0  # not the clinician's last page
    window.session.prefs.set("schedule/mode", "day")
    window.show_page(2)
    controller.lock()

    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    assert window.session.prefs.text("schedule/mode") == "week"
    assert window.session.prefs.integer("chart/tab") == 3
    assert window.stack.currentIndex() == 1
    controller.lock()

    prefs.sync()
    stored = settings_path.read_text(encoding="utf-8")
    assert user_key(CLINICIAN) in stored and user_key(STAFF) in stored
    assert f"users/{CLINICIAN}" not in stored and STAFF not in stored.replace(
        f"last_user={STAFF}", ""
    )
    assert prefs.text("unlock/last_user") == CLINICIAN  # the computer's, for the unlock dialog


def test_the_main_window_is_active_after_unlocking(
    qtbot: QtBot, controller: AppController, secret: str
) -> None:
    dialog = unlock_dialog(controller, qtbot)
    unlock_by_keyboard(qtbot, dialog, CLINICIAN, CLINICIAN_PASS)
    qtbot.waitUntil(lambda: controller.window is not None, timeout=TIMEOUT)
    window = controller.window
    assert window is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=TIMEOUT)
    assert QGuiApplication.focusWindow() is window.windowHandle()
