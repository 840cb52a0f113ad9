"""The task-form dialog every command form builds on.

A form lays out labelled inputs, each with an error label beneath it. Submitting builds the
command (subclasses), runs it off the GUI thread, and on a DomainError shows the message next
to the input named by `error.field` (or at the top when no input matches).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, TypeVar

from PySide6.QtCore import QDateTime, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDateTimeEdit,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.domain.commands import Command
from app.domain.errors import DomainError, ValidationError
from app.i18n import N_, _
from app.services.dto import Changes
from app.ui import formatting
from app.ui.errors import UserFacingError, error_field, plain_message
from app.ui.forms.draftable import DraftableDialog
from app.ui.forms.keyboard import FormKeyboard
from app.ui.session import ClinicSession
from app.ui.widgets import (
    ErrorLabelWidget,
    hint_label,
    make_primary,
    mark_invalid,
    scrolling_layout,
)

W = TypeVar("W", bound=QWidget)


class FieldRow:
    def __init__(self, name: str, label: QLabel, widget: QWidget, error: ErrorLabelWidget):
        self.name, self.label, self.widget, self.error = name, label, widget, error


class CommandFormDialog(DraftableDialog):
    """Base of all task forms; subclasses add fields and implement `build_command`.

    DraftableDialog asks before discarding changes and keeps drafts across a lock."""

    recorded = Signal(object)  # Changes, after the command was recorded
    COMMAND: type[Command] = Command
    SAVE_LABEL = N_("Save")
    # domain field name -> form field name, where they differ
    ALIASES: ClassVar[dict[str, str]] = {}

    def __init__(
        self, session: ClinicSession, title: str, parent: QWidget | None = None, intro: str = ""
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.command_id = str(uuid.uuid4())  # one per form: a double submit is recognised
        self.rows: dict[str, FieldRow] = {}
        self.last_changes: Changes | None = None
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(520)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 18, 20, 14)
        outer.setSpacing(10)
        if intro:
            outer.addWidget(hint_label(intro, self))
        self.form_error = ErrorLabelWidget(self, "formError")
        outer.addWidget(self.form_error)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.form.setVerticalSpacing(8)
        # The fields scroll when the dialog would be taller than the screen (1366×768 at 150 %).
        self.fields = scrolling_layout(self.form, self)
        outer.addWidget(self.fields, 1)
        self.buttons = QDialogButtonBox(self)
        self.save_button = self.buttons.addButton(
            _(self.SAVE_LABEL), QDialogButtonBox.ButtonRole.AcceptRole
        )
        make_primary(self.save_button)  # not QDialog's default button: Enter moves on
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):  # Ctrl+Enter: the keypad's Enter
            QShortcut(QKeySequence(keys), self, self.submit)
        # Tab order and first focus are set when the form is shown, after the fields exist.
        self.keyboard = FormKeyboard(
            self, lambda: [row.widget for row in self.rows.values()], self._tab_buttons
        )

    # -- layout ----------------------------------------------------------------------------

    def add_field(self, name: str, label: str, widget: W, hint: str = "") -> W:
        """Add one labelled input with its error label; returns the input."""
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        if hint:
            column.addWidget(hint_label(hint, box))
        error = ErrorLabelWidget(box)
        column.addWidget(error)
        # Translators: a form field's caption, e.g. "Reason:"
        caption = QLabel(_("{label}:").format(label=label), self)
        caption.setBuddy(widget)
        widget.setAccessibleName(label)
        self.form.addRow(caption, box)
        self.rows[name] = FieldRow(name, caption, widget, error)
        return widget

    def _tab_buttons(self) -> list[QAbstractButton]:
        """Save, then the other buttons (Cancel), after the last field."""
        others = [b for b in self.buttons.buttons() if b is not self.save_button]
        return [self.save_button, *others]

    def set_row_visible(self, name: str, visible: bool) -> None:
        self.form.setRowVisible(self.rows[name].label, visible)

    # -- submitting ------------------------------------------------------------------------

    def build_command(self) -> Command:
        raise NotImplementedError

    def submit(self) -> None:
        if not self.save_button.isEnabled():
            return  # already saving
        self.clear_errors()
        try:
            command = self.build_command()
        except DomainError as exc:
            self.show_error(exc)
            return
        self.save_button.setEnabled(False)
        self.session.execute(
            command, owner=self, success=self._recorded, failure=self._refused, label=_("Saving…")
        )

    def _recorded(self, changes: Changes) -> None:
        self.last_changes = changes
        self.recorded.emit(changes)
        self.accept()

    def _refused(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        if isinstance(exc, DomainError | UserFacingError):
            self.show_error(exc)
        else:
            self.session.ops.show_error(self, exc)

    def field_for(self, domain_field: str | None) -> str | None:
        """The form field an error names (exact, alias, or the part before [ or .)."""
        if not domain_field:
            return None
        for candidate in (domain_field, domain_field.split("[")[0].split(".")[0]):
            name = self.ALIASES.get(candidate, candidate)
            if name in self.rows:
                return name
        return None

    def show_error(self, exc: BaseException) -> None:
        message = plain_message(exc)
        name = self.field_for(error_field(exc))
        if name is None:
            self.form_error.show_message(message)
            return
        row = self.rows[name]
        hidden = not row.widget.isVisibleTo(self)
        self.set_row_visible(name, True)
        row.error.show_message(message)
        mark_invalid(row.widget, True)
        row.widget.setFocus(Qt.FocusReason.OtherFocusReason)
        if hidden:
            # A row shown only now (an override reason, an acknowledgement) takes focus once
            # the layout has placed it; the clinician types the answer straight away.
            QTimer.singleShot(0, lambda: row.widget.setFocus(Qt.FocusReason.OtherFocusReason))

    def clear_errors(self) -> None:
        self.form_error.clear_message()
        for row in self.rows.values():
            row.error.clear_message()
            mark_invalid(row.widget, False)

    def error_text(self, name: str) -> str:
        """The inline error shown next to field `name` ('' if none) -- for tests and a11y."""
        row = self.rows[name]
        return "" if row.error.isHidden() else row.error.text()

    # -- reading inputs --------------------------------------------------------------------

    @staticmethod
    def text(widget: QWidget) -> str | None:
        """Trimmed text of a line edit, text edit or (editable) combo; None when blank."""
        if isinstance(widget, QLineEdit):
            raw = widget.text()
        elif isinstance(widget, QPlainTextEdit):
            raw = widget.toPlainText()
        elif isinstance(widget, QComboBox):
            # Editable combos hold what was typed; fixed ones the data of the chosen item.
            data = widget.currentData()
            fixed = "" if data is None else str(data)
            raw = widget.currentText() if widget.isEditable() else fixed
        else:
            raise TypeError(type(widget).__name__)
        raw = raw.strip()
        return raw or None

    @staticmethod
    def number(widget: QLineEdit, field: str, label: str) -> float | None:
        raw = widget.text().strip().replace(",", ".")
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise ValidationError(
                _("{label} must be a number").format(label=label), field
            ) from None

    @staticmethod
    def whole(widget: QLineEdit, field: str, label: str) -> int | None:
        raw = widget.text().strip()
        if not raw:
            return None
        try:
            return int(raw)
        except ValueError:
            raise ValidationError(
                _("{label} must be a whole number").format(label=label), field
            ) from None


class TimeField(QDateTimeEdit):
    """A clinical time that means 'now' unless the user changed it."""

    def __init__(self, parent: QWidget | None, value: QDateTime, *, touched: bool) -> None:
        """`value` is the clinic clock's now (untouched) or a time already chosen (touched)."""
        super().__init__(value, parent)
        self.setCalendarPopup(True)
        self.setDisplayFormat(
            # i18n: ignore (a Qt display format (month names from QLocale))
            "dd MMM yyyy  HH:mm"
        )
        self.touched = touched
        self.dateTimeChanged.connect(self._touch)

    def event(self, event: QEvent) -> bool:
        """Tab leaves the field, as in every other field (QDateTimeEdit would step through
        day, month, year, hour and minute); ← → and Ctrl+← → move between those parts."""
        if (
            isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab)
            and not event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            QWidget.focusNextPrevChild(self, event.key() == Qt.Key.Key_Tab)
            return True
        return super().event(event)

    def _touch(self, _value: Any) -> None:
        self.touched = True

    def iso_or_none(self) -> str | None:
        """None (the service uses 'now') unless the user picked a time."""
        return formatting.to_iso(self.dateTime()) if self.touched else None

    def iso(self) -> str:
        return formatting.to_iso(self.dateTime())


def item_combo(
    parent: QWidget, items: list[tuple[str, str]], selected: str | None = None
) -> QComboBox:
    """A combo of (item id, description) with the id as data; preselects `selected`."""
    combo = QComboBox(parent)
    for item_id, text in items:
        combo.addItem(text, item_id)
    if selected is not None:
        index = combo.findData(selected)
        if index >= 0:
            combo.setCurrentIndex(index)
    return combo
