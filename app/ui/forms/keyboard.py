"""Where the keyboard goes in a task form: the first field, the tab order, and Enter.

- Focus starts in the first field a person can type into (the first visible, enabled input);
  a form with nothing to fill in (attended / no-show) starts on its confirm button.
- Tab follows the visual order: the fields top to bottom (inside a compound field, such as the
  patient picker, its parts left to right), then Save, then Cancel. The order is set in one
  place when the form is first shown, i.e. after the subclass added all its fields -- the
  button box is built before them and would otherwise come first.
- Enter (Return or keypad Enter) in a field moves on to the next one, like Tab: it never
  submits a half-filled form. On a focused button it presses that button. Ctrl+Enter saves
  (the form's shortcuts). The space bar presses a button only when that button has focus.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QDialog,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QWidget,
)

ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
# Enter with one of these is a shortcut (Ctrl+Enter saves), not "next field".
COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)


def tab_stops(widget: QWidget) -> list[QWidget]:
    """The widgets Tab stops at inside one field, in order (the field itself if it takes
    focus, otherwise its focusable parts in the order they were laid out)."""
    if widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
        return [widget]
    stops: list[QWidget] = []
    for child in widget.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
        stops.extend(tab_stops(child))
    return stops


class FormKeyboard(QObject):
    """Installed on a form: orders its tab chain and puts focus in the first field when it is
    first shown, and turns Enter in a field into "next field"."""

    def __init__(
        self,
        form: QDialog,
        fields: Callable[[], list[QWidget]],
        buttons: Callable[[], list[QAbstractButton]],
    ) -> None:
        super().__init__(form)
        self.form = form
        self.fields = fields
        self.buttons = buttons
        self.arranged = False
        form.installEventFilter(self)

    def chain(self) -> list[QWidget]:
        """Every tab stop of the form, in tab order."""
        return [stop for field in self.fields() for stop in tab_stops(field)] + list(self.buttons())

    def arrange(self) -> None:
        """Set the tab order and the first focus (the form is about to be shown)."""
        self.arranged = True
        for button in self.form.findChildren(QPushButton):
            # Not QDialog's "default button": Enter in a field must not submit.
            button.setAutoDefault(False)
            button.setDefault(False)
        chain = self.chain()
        for area in self.scroll_areas(chain):
            # The area the fields scroll in is no tab stop of its own; it scrolls to the field
            # that gets focus.
            area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)
        for stop in chain:
            stop.installEventFilter(self)  # Enter in a field (see eventFilter)
        start = self.first_stop(chain)
        if start is not None:
            start.setFocus(Qt.FocusReason.TabFocusReason)

    def scroll_areas(self, chain: list[QWidget]) -> list[QAbstractScrollArea]:
        """The form's scroll areas that are no field themselves (nor part of one): the area
        the fields scroll in."""
        return [
            area
            for area in self.form.findChildren(QAbstractScrollArea)
            if area.window() is self.form
            and not any(area is stop or stop.isAncestorOf(area) for stop in chain)
        ]

    def first_stop(self, chain: list[QWidget]) -> QWidget | None:
        for widget in chain:
            if widget.isVisibleTo(self.form) and widget.isEnabled():
                return widget
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and watched is self.form and not self.arranged:
            self.arrange()
            return False
        if event.type() != QEvent.Type.KeyPress or not isinstance(watched, QWidget):
            return False
        assert isinstance(event, QKeyEvent)
        if event.key() not in ENTER_KEYS or event.modifiers() & COMMAND_MODIFIERS:
            return False
        if watched is self.form:  # Enter that the focused widget left unused
            focus = self.form.focusWidget()
            if isinstance(focus, QAbstractButton):
                if focus.isEnabled():
                    focus.click()
            elif focus is not None:
                move_on(focus, event)
            event.accept()
            return True
        if isinstance(watched, QAbstractButton | QPlainTextEdit | QTextEdit):
            return False  # a button handles Enter as it does; a text box starts a new line
        # A field: it takes the Enter first (an editable combo adds what was typed, a spin
        # box tidies its text), then focus moves on. Sent directly, so this filter is not
        # asked again.
        watched.event(event)
        move_on(watched, event)
        event.accept()  # handled: not passed on to the form as well
        return True


def move_on(focus: QWidget, event: QKeyEvent) -> None:
    """Exactly what Tab (Shift+Enter: Shift+Tab) does from `focus`; a scroll area holding
    the fields scrolls to the next one."""
    shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
    key = Qt.Key.Key_Backtab if shift else Qt.Key.Key_Tab
    QApplication.sendEvent(focus, QKeyEvent(QEvent.Type.KeyPress, key, shift))
