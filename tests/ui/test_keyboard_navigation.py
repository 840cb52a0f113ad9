"""The keyboard: Tab leaves the patient table, Alt+1 … Alt+5 switch the chart tabs, and a
shortcut that cannot act says why in the status bar. Menu entries a role may not use look
disabled and carry the toolbar's tooltip. Real key presses on the focused widget."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QWidget
from pytestqt.qtbot import QtBot

from app.domain.commands import RecordVitals
from app.domain.roles import Role
from app.ui import shortcuts
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.chart.view import TABS
from app.ui.help_dialog import shortcut_rows
from app.ui.main_window import MainView
from app.ui.permissions import ADMINS_NO_CHARTS, why_not
from tests.ui.conftest import (
    ADMIN,
    ADMIN_PASS,
    CLINICIAN,
    CLINICIAN_PASS,
    STAFF,
    STAFF_PASS,
    open_as,
    register_patient,
)
from tests.ui.helpers import TIMEOUT

DIGITS = (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4, Qt.Key.Key_5)
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def _activate(qtbot: QtBot, window: MainView) -> None:
    window.resize(1024, 768)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=TIMEOUT)


def _active_with_a_patient(
    qtbot: QtBot, controller: AppController, seeded: Backend, user: str, passphrase: str
) -> tuple[MainView, str]:
    """A patient registered, then the main window open as `user` and active; the patient's id."""
    patient_id = register_patient(seeded)
    window = open_as(controller, qtbot, user, passphrase)
    _activate(qtbot, window)
    return window, patient_id


def _focused(window: MainView) -> QWidget:
    return QApplication.focusWidget() or window


def _press(qtbot: QtBot, window: MainView, key: Qt.Key, modifier: object) -> None:
    """A key press on whatever has the focus, as a person's would be."""
    qtbot.keyClick(_focused(window), key, modifier)
    QApplication.processEvents()


def _open_chart(qtbot: QtBot, window: MainView, patient_id: str) -> None:
    window.open_patient(patient_id)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)


def test_tab_leaves_the_patient_table(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, _ = _active_with_a_patient(qtbot, controller, seeded, CLINICIAN, CLINICIAN_PASS)
    table = window.patients.table
    qtbot.waitUntil(lambda: table.model().rowCount() > 0, timeout=TIMEOUT)
    assert not table.tabKeyNavigation()
    window.patients.focus_search()
    _press(qtbot, window, Qt.Key.Key_Tab, Qt.KeyboardModifier.NoModifier)
    assert _focused(window) is table  # the search field's next stop is the results
    _press(qtbot, window, Qt.Key.Key_Down, Qt.KeyboardModifier.NoModifier)
    assert table.currentIndex().isValid()  # arrows move within the table
    row = table.currentIndex().row()
    _press(qtbot, window, Qt.Key.Key_Tab, Qt.KeyboardModifier.NoModifier)
    assert _focused(window) is not table  # and Tab goes on, out of the table
    assert table.currentIndex().row() == row  # without moving to another cell


def test_alt_digits_switch_chart_tabs_and_focus_them(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, patient_id = _active_with_a_patient(
        qtbot, controller, seeded, CLINICIAN, CLINICIAN_PASS
    )
    _open_chart(qtbot, window, patient_id)
    window.patients.table.setFocus()
    tabs = window.chart.tabs
    for index in (2, 1, 4, 3, 0):  # Vitals, Timeline, Encounters, Notes, Summary
        _press(qtbot, window, DIGITS[index], Qt.KeyboardModifier.AltModifier)
        assert tabs.currentIndex() == index, TABS[index]
        focus = _focused(window)
        assert tabs.isAncestorOf(focus), f"focus on {focus!r} after Alt+{index + 1}"
    assert tuple(f"Alt+{n}" for n in range(1, len(TABS) + 1)) == shortcuts.TAB_KEYS[: len(TABS)]


def test_a_shortcut_that_cannot_act_says_why(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, patient_id = _active_with_a_patient(
        qtbot, controller, seeded, CLINICIAN, CLINICIAN_PASS
    )
    status = window.statusBar()

    # no chart open yet
    _press(qtbot, window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert "Open a patient's chart first" in status.currentMessage()
    status.clearMessage()
    _press(qtbot, window, Qt.Key.Key_V, CTRL_SHIFT)
    assert status.currentMessage() == "Open a patient's chart first."
    assert window.chart.chart_actions.last_form is None

    # the "as of" view is read only
    _open_chart(qtbot, window, patient_id)
    _press(qtbot, window, Qt.Key.Key_H, CTRL_SHIFT)  # as of
    qtbot.waitUntil(window.chart.as_of_box.isChecked, timeout=TIMEOUT)
    qtbot.waitUntil(
        lambda: window.chart.current is not None and window.chart.current.as_of is not None,
        timeout=TIMEOUT,
    )
    status.clearMessage()
    _press(qtbot, window, Qt.Key.Key_V, CTRL_SHIFT)
    assert "untick “As of”" in status.currentMessage()
    assert window.chart.chart_actions.last_form is None


def test_staff_shortcut_and_menu_say_why_and_look_disabled(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, patient_id = _active_with_a_patient(qtbot, controller, seeded, STAFF, STAFF_PASS)
    _open_chart(qtbot, window, patient_id)
    reason = why_not(RecordVitals, Role.STAFF)
    assert reason is not None

    _press(qtbot, window, Qt.Key.Key_V, CTRL_SHIFT)
    assert window.statusBar().currentMessage() == reason
    assert window.chart.chart_actions.last_form is None

    chart_menu = next(
        a.menu() for a in window.menuBar().actions() if a.text() == "&Chart" and a.menu()
    )
    assert isinstance(chart_menu, QMenu)
    assert chart_menu.toolTipsVisible()
    actions = window.chart.chart_actions.actions
    vitals, book = actions["vitals"], actions["follow_up"]
    assert not vitals.isEnabled() and book.isEnabled()
    assert vitals.toolTip() == reason  # the same sentence as the toolbar's button
    toolbar_button = next(
        w
        for w in window.chart.findChildren(QWidget)
        if hasattr(w, "defaultAction") and w.defaultAction() is vitals
    )
    assert toolbar_button.toolTip() == reason

    # Rendered: the disabled entry's text is clearly lighter than an enabled one's.
    chart_menu.popup(window.mapToGlobal(window.rect().center()))
    qtbot.waitUntil(chart_menu.isVisible, timeout=TIMEOUT)
    image = chart_menu.grab().toImage()
    chart_menu.hide()

    def darkest(action_rect: object) -> QColor:
        rect = chart_menu.actionGeometry(vitals if action_rect == "vitals" else book)
        ratio = image.devicePixelRatio()
        return min(
            (
                image.pixelColor(int(x * ratio), int(y * ratio))
                for x in range(rect.left(), rect.right())
                for y in range(rect.top(), rect.bottom())
            ),
            key=lambda c: c.lightness(),
        )

    disabled, enabled = darkest("vitals"), darkest("book")
    assert enabled.lightness() < 80, enabled.name()
    assert disabled.lightness() > enabled.lightness() + 60, (disabled.name(), enabled.name())


def test_admin_tab_keys_say_why(qtbot: QtBot, controller: AppController, seeded: Backend) -> None:
    window = open_as(controller, qtbot, ADMIN, ADMIN_PASS)
    _activate(qtbot, window)
    _press(qtbot, window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    assert window.statusBar().currentMessage() == ADMINS_NO_CHARTS
    window.statusBar().clearMessage()
    _press(qtbot, window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # Schedule
    assert window.statusBar().currentMessage() == ADMINS_NO_CHARTS
    go = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Go")
    assert isinstance(go, QMenu)
    schedule = next(a for a in go.actions() if a.text() == "Schedule")
    assert not schedule.isEnabled() and schedule.toolTip() == ADMINS_NO_CHARTS


def test_no_shortcut_is_bound_twice_and_help_lists_the_tab_keys(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    keys = [a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()]
    keys.append(window.chart.as_of_box.shortcut().toString())
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    for key in shortcuts.TAB_KEYS[: len(TABS)]:
        assert QKeySequence(key).toString() in keys
    listed = dict(shortcut_rows())
    assert any(k.startswith(shortcuts.TAB_KEYS[0]) and "Summary" in v for k, v in listed.items())
