"""Every screen and every form in each launch language: no English left on screen.

The clinician switches language in Settings (a person's clicks and keys), the window is built
again in that language, and then every page, every chart tab and every form the chart opens
is read widget by widget (tests/i18n/screen_text.py). An admin's pages are read the same way.
A refused form shows the domain's message in the user's language.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
    QWidget,
    QWizard,
)
from pytestqt.qtbot import QtBot

from app.domain.roles import Role
from app.i18n import (
    LAUNCH_LANGUAGES,
    SOURCE_LANGUAGE,
    _,
    current_language,
    say,
    using_language,
)
from app.services.printouts.service import DOCUMENTS
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.calls_view import CallsView
from app.ui.chart.actions import SPECS
from app.ui.chart.view import TABS
from app.ui.errors import sentence
from app.ui.first_run import FirstRunDialog
from app.ui.forms.problem_forms import REACTIONS
from app.ui.help_dialog import ShortcutsDialog
from app.ui.main_window import PAGES, MainView
from app.ui.schedule_view import ScheduleView
from app.ui.unlock_dialog import UnlockDialog
from tests.i18n.refusals import SYSTOLIC_400
from tests.i18n.screen_text import Shown, english_left, visible_texts
from tests.ui.conftest import (
    ADMIN,
    ADMIN_PASS,
    CLINICIAN,
    CLINICIAN_PASS,
    open_as,
    register_patient,
)
from tests.ui.demo import book_day, record_demo_clinic
from tests.ui.helpers import TIMEOUT, enable_every_chart_action, open_chart_form, submit_ok

# The demo chart's allergy reaction was typed as the English suggestion: data, not wording.
RECORDED = frozenset(REACTIONS)
TRANSLATED = [code for code in LAUNCH_LANGUAGES if code != SOURCE_LANGUAGE]


def switch_language(qtbot: QtBot, controller: AppController, language: str) -> MainView:
    """As a person does: Settings, the Language list (keys), Use this language (a click)."""
    window = controller.window
    assert window is not None
    window.show_page(PAGES.index("Settings"))
    combo = window.settings.language
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus, timeout=TIMEOUT)
    QTest.keyClick(combo, Qt.Key.Key_Home)
    for _step in range(list(LAUNCH_LANGUAGES).index(language)):
        QTest.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == language
    with qtbot.waitSignal(controller.language_switched, timeout=TIMEOUT):
        qtbot.mouseClick(window.settings.use_language, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    assert controller.window is not None and controller.window is not window
    return controller.window


def demo_chart_in(
    qtbot: QtBot, controller: AppController, seeded: Backend, language: str
) -> MainView:
    """The demo clinic's day, the clinician switched to `language`, the full chart open."""
    clinic = seeded.unlock(CLINICIAN, CLINICIAN_PASS)
    patient_id = record_demo_clinic(clinic, CLINICIAN)
    book_day(clinic, CLINICIAN, [patient_id])
    clinic.close()
    open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window = switch_language(qtbot, controller, language)
    window.open_patient(patient_id)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    return window


def _settle(qtbot: QtBot, controller: AppController) -> None:
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    QApplication.processEvents()


def _check(found: list[str], texts: list[str], where: str, widget: QWidget, language: str) -> None:
    shown = visible_texts(widget)
    texts.extend(s.text for s in shown)
    found.extend(f"{where}: {p}" for p in english_left(shown, language, RECORDED))


def _pages(qtbot: QtBot, controller: AppController, window: MainView, language: str) -> list[str]:
    found: list[str] = []
    texts: list[str] = []
    for index in range(len(PAGES)):
        item = window.nav.item(index)
        if item is None or not item.flags():
            continue
        window.show_page(index)
        _settle(qtbot, controller)
        _check(found, texts, f"page {PAGES[index]}", window, language)
    assert texts, "nothing read on the pages"
    return found


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_page_tab_and_form_speaks_the_language(
    qtbot: QtBot, controller: AppController, seeded: Backend, language: str
) -> None:
    window = demo_chart_in(qtbot, controller, seeded, language)
    assert current_language() == language
    enable_every_chart_action(qtbot, window)
    found: list[str] = []
    texts: list[str] = []
    for index in range(len(TABS)):
        window.chart.tabs.setCurrentIndex(index)
        _settle(qtbot, controller)
        _check(found, texts, f"chart tab {TABS[index]}", window, language)
    # The timeline's lines: kept as the domain's words, read in the reader's language.
    model = window.chart.timeline.model()
    assert model is not None and model.rowCount() > 10
    lines = [
        Shown(f"timeline row {row}", str(model.index(row, 1).data()))
        for row in range(model.rowCount())
    ]
    found.extend(f"timeline: {p}" for p in english_left(lines, language, RECORDED))
    for key in SPECS:
        form = open_chart_form(qtbot, window, key)
        _settle(qtbot, controller)
        _check(found, texts, f"form {key}", form, language)
        form.reject()
    found += _pages(qtbot, controller, window, language)
    found += _schedule_and_calls_forms(qtbot, controller, window, language)
    assert not found, "\n".join(found[:60])


def _click_row(qtbot: QtBot, table: QTableWidget) -> None:
    rect = table.visualRect(table.model().index(0, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _schedule_and_calls_forms(
    qtbot: QtBot, controller: AppController, window: MainView, language: str
) -> list[str]:
    """The forms the Schedule and Calls pages open, each from its button, as a person does."""
    found: list[str] = []
    texts: list[str] = []
    schedule, calls = window.schedule, window.calls
    window.show_page(PAGES.index("Schedule"))
    qtbot.waitUntil(lambda: schedule.day_table.rowCount() > 0, timeout=TIMEOUT)
    pages: list[tuple[ScheduleView | CallsView, QTableWidget, tuple[str, ...]]] = [
        (schedule, schedule.day_table, ("book", "move", "cancel", "attended", "no_show")),
        (calls, calls.table, ("call", "remove")),
    ]
    opened = 0
    for view, table, names in pages:
        window.show_page(PAGES.index("Schedule" if view is schedule else "Calls"))
        qtbot.waitUntil(lambda t=table: t.rowCount() > 0, timeout=TIMEOUT)  # type: ignore[misc]
        for name in names:
            _click_row(qtbot, table)
            button = getattr(view, f"{name}_button")
            if not button.isEnabled():
                continue  # attended and no-show: one of them, as the time allows
            view.last_form = None
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda v=view: v.last_form is not None, timeout=TIMEOUT)  # type: ignore[misc]
            form = view.last_form
            assert form is not None
            qtbot.waitUntil(form.isVisible, timeout=TIMEOUT)
            _check(found, texts, f"{type(view).__name__} {name}", form, language)
            form.reject()
            opened += 1
    assert opened >= 6, opened  # book, move, cancel, attended or no-show, call, remove
    return found


@pytest.mark.parametrize("language", TRANSLATED)
def test_admin_pages_speak_the_language(
    qtbot: QtBot, controller: AppController, seeded: Backend, language: str
) -> None:
    open_as(controller, qtbot, ADMIN, ADMIN_PASS)
    window = switch_language(qtbot, controller, language)
    found = _pages(qtbot, controller, window, language)
    users = window.users
    window.show_page(PAGES.index("Users"))
    qtbot.mouseClick(users.add_button, Qt.MouseButton.LeftButton)
    dialog = users.last_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=TIMEOUT)
    found += english_left(visible_texts(dialog), language, RECORDED)
    dialog.reject()
    assert not found, "\n".join(found[:60])


def test_a_clinician_finds_a_diagnosis_by_its_title_in_their_language(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    """French: typing "paludisme" offers the published CIM-10 title; the code is recorded and
    the chart shows the French title (the English one is what the event keeps)."""
    patient_id = register_patient(seeded)
    open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window = switch_language(qtbot, controller, "fr")
    window.open_patient(patient_id)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    form = open_chart_form(qtbot, window, "diagnosis")
    code = form.rows["code"].widget
    assert isinstance(code, QLineEdit)
    code.setFocus()
    qtbot.waitUntil(code.hasFocus, timeout=TIMEOUT)
    QTest.keyClicks(code, "paludisme, sans")
    popup = code.completer().popup()
    assert popup is not None
    qtbot.waitUntil(popup.isVisible, timeout=TIMEOUT)
    QTest.keyClick(popup, Qt.Key.Key_Down)
    QTest.keyClick(popup, Qt.Key.Key_Return)
    assert code.text() == "B54 — Paludisme, sans précision"
    submit_ok(qtbot, form)
    qtbot.waitUntil(
        lambda: (
            window.chart.current is not None
            and any(p.data.get("code") == "B54" for p in window.chart.current.problems)
        ),
        timeout=TIMEOUT,
    )
    problems = window.chart.summary.lists["problems"]
    shown = [problems.item(i).text() for i in range(problems.count())]
    assert "B54 Paludisme, sans précision" in shown


@pytest.mark.parametrize("language", ["sw", "ar"])
def test_a_refusal_is_shown_in_the_users_language(
    qtbot: QtBot, controller: AppController, seeded: Backend, language: str
) -> None:
    """An impossible reading typed by hand is refused next to its field, in the user's
    language, with the value and the range the domain gave."""
    patient_id = register_patient(seeded)
    open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window = switch_language(qtbot, controller, language)
    window.open_patient(patient_id)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    form = open_chart_form(qtbot, window, "vitals")
    for field, typed in (("systolic", "400"), ("diastolic", "80")):
        edit = form.rows[field].widget
        assert isinstance(edit, QLineEdit)
        edit.setFocus()
        qtbot.waitUntil(edit.hasFocus, timeout=TIMEOUT)
        QTest.keyClicks(edit, typed)
    qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(form.error_text("systolic")), timeout=TIMEOUT)
    refusal = SYSTOLIC_400
    with using_language(language):
        expected = say(refusal)
    assert expected != str(refusal)
    assert form.error_text("systolic") == sentence(expected)
    assert form.last_changes is None  # nothing recorded


def test_a_form_left_open_comes_back_with_what_was_typed_in_the_new_language(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    patient_id = register_patient(seeded)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window.open_patient(patient_id)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    form = open_chart_form(qtbot, window, "note")
    body = form.rows["text"].widget
    assert isinstance(body, QPlainTextEdit)
    body.setFocus()
    qtbot.waitUntil(body.hasFocus, timeout=TIMEOUT)
    QTest.keyClicks(body, "Cough for two weeks")
    with qtbot.waitSignal(controller.language_switched, timeout=TIMEOUT):
        controller.change_language("pt")  # what Settings asks for
    qtbot.waitUntil(lambda: len(controller.drafts.restored) == 1, timeout=TIMEOUT)
    (back,) = controller.drafts.restored
    again = back.rows["text"].widget
    assert isinstance(again, QPlainTextEdit) and again.toPlainText() == "Cough for two weeks"
    with using_language("pt"):
        assert back.windowTitle().startswith(_("Write note"))


@pytest.mark.parametrize("language", TRANSLATED)
def test_first_run_unlock_and_the_other_dialogs_speak_the_language(
    qtbot: QtBot, controller: AppController, backend: Backend, language: str
) -> None:
    """A computer set to the language: the first-run wizard, then (the admin keeps it) the
    new-patient form, the print dialogs, the shortcuts, the passphrase dialog, the unlock."""
    found: list[str] = []
    texts: list[str] = []
    controller.language.apply(language)  # the computer's language before anyone signed in
    controller.start()
    wizard = controller.dialog
    assert isinstance(wizard, FirstRunDialog)
    qtbot.waitUntil(wizard.isVisible, timeout=TIMEOUT)
    _check(found, texts, "first run", wizard, language)
    wizard.admin_page.passphrase.setText(ADMIN_PASS)
    wizard.admin_page.repeat.setText(ADMIN_PASS)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=TIMEOUT)
    _check(found, texts, "first run: recovery secret", wizard, language)
    wizard.recovery_page.saved.setChecked(True)
    wizard.next()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: controller.window is not None, timeout=TIMEOUT)
    assert controller.session is not None
    assert controller.session.clinic.user_settings.language(controller.session.actor) == language
    window = controller.window
    assert window is not None
    _settle(qtbot, controller)
    window.show_shortcuts()
    shortcuts = next(d for d in window.findChildren(ShortcutsDialog) if d.isVisible())
    _check(found, texts, "shortcuts", shortcuts, language)
    shortcuts.reject()
    passphrase = controller.change_passphrase()
    assert passphrase is not None
    _check(found, texts, "change passphrase", passphrase, language)
    passphrase.reject()
    controller.session.users().add_user(CLINICIAN, Role.CLINICIAN, CLINICIAN_PASS)
    controller.lock()
    unlock = controller.dialog
    assert isinstance(unlock, UnlockDialog)
    _check(found, texts, "unlock", unlock, language)
    unlock.close()
    clinic = backend.unlock(CLINICIAN, CLINICIAN_PASS)  # the clinician chose it too
    clinic.user_settings.set_language(clinic.actor, language)
    clinic.close()
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window.new_patient()
    form = window.last_form
    assert form is not None
    qtbot.waitUntil(form.isVisible, timeout=TIMEOUT)
    _check(found, texts, "new patient", form, language)
    form.reject()
    assert not found, "\n".join(found[:60])


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_print_dialog_speaks_the_language(
    qtbot: QtBot, controller: AppController, seeded: Backend, language: str
) -> None:
    window = demo_chart_in(qtbot, controller, seeded, language)
    found: list[str] = []
    texts: list[str] = []
    for document in DOCUMENTS:
        dialog = window.chart.print_menu.open(document)
        assert dialog is not None, document
        qtbot.waitUntil(dialog.isVisible, timeout=TIMEOUT)
        _check(found, texts, f"print {document}", dialog, language)
        dialog.reject()
    assert not found, "\n".join(found[:60])
