"""What every task form does to keep a clinician's unsaved work: notice changes, ask before
discarding them, and capture / restore its field values as a draft (kept across a lock).

The fields are walked generically (the form's `rows`), so a new form is covered without code
of its own. A value is plain JSON: drafts are stored in the vault (app/services/drafts.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import shiboken6
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QAbstractButton,
    QBoxLayout,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from app.i18n import _
from app.ui import confirm
from app.ui.session import ClinicSession
from app.ui.widgets import hint_label

KEEP, DISCARD = "keep", "discard"
_SKIP = object()  # a widget this walk does not know: not kept


class RowLike(Protocol):
    label: QLabel
    widget: QWidget


def read_value(widget: QWidget) -> Any:
    """The value of one input as plain JSON (or _SKIP)."""
    if isinstance(widget, QDateTimeEdit):
        # TimeField's `touched` says whether the time means "now" (untouched) or was chosen.
        return {
            "ms": widget.dateTime().toMSecsSinceEpoch(),
            "touched": bool(getattr(widget, "touched", True)),
        }
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, QPlainTextEdit):
        return widget.toPlainText()
    if isinstance(widget, QComboBox):
        data = widget.currentData()
        plain = data if isinstance(data, str | int | float | bool) else None
        return {"data": plain, "text": widget.currentText()}
    if isinstance(widget, QSpinBox | QDoubleSpinBox):
        return widget.value()
    if isinstance(widget, QAbstractButton) and widget.isCheckable():
        return widget.isChecked()
    parts = [read_value(child) for child in _parts(widget)]
    if any(part is not _SKIP for part in parts):
        # A composite input (e.g. the patient search: query and results), part by part.
        return {"parts": [None if part is _SKIP else part for part in parts]}
    return _SKIP


def _parts(widget: QWidget) -> list[QWidget]:
    return widget.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)


def write_value(widget: QWidget, value: Any) -> None:
    """Put a value captured by read_value back (values that no longer fit are left alone)."""
    if isinstance(widget, QDateTimeEdit) and isinstance(value, dict):
        if not value.get("touched", True):
            return  # an untouched time means "now": keep the reopened form's now
        widget.setDateTime(QDateTime.fromMSecsSinceEpoch(int(value["ms"])))
        if hasattr(widget, "touched"):
            widget.touched = True
    elif isinstance(widget, QLineEdit) and isinstance(value, str):
        widget.setText(value)
    elif isinstance(widget, QPlainTextEdit) and isinstance(value, str):
        widget.setPlainText(value)
        widget.moveCursor(QTextCursor.MoveOperation.End)  # carry on typing where it stopped
    elif isinstance(widget, QComboBox) and isinstance(value, dict):
        text = str(value.get("text", ""))
        index = widget.findData(value["data"]) if value.get("data") is not None else -1
        if index < 0:
            index = widget.findText(text)
        if index >= 0:
            widget.setCurrentIndex(index)
        if widget.isEditable():
            widget.setEditText(text)
    elif isinstance(widget, QSpinBox) and isinstance(value, int):
        widget.setValue(value)
    elif isinstance(widget, QDoubleSpinBox) and isinstance(value, int | float):
        widget.setValue(float(value))
    elif isinstance(widget, QAbstractButton) and isinstance(value, bool):
        widget.setChecked(value)
    elif isinstance(value, dict) and isinstance(value.get("parts"), list):
        # Parts are put back in order; a search re-runs from its restored query text.
        for child, part in zip(_parts(widget), value["parts"], strict=False):
            if part is not None:
                write_value(child, part)


class DraftableDialog(QDialog):
    """The draft side of CommandFormDialog (which provides rows, form, session, command_id)."""

    rows: Mapping[str, RowLike]
    form: QFormLayout
    session: ClinicSession
    command_id: str

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._baseline: dict[str, Any] | None = None
        self._discard_confirmed = False
        self._asking = False
        self.closing_for_lock = False  # set by the lock: close without asking, keep the draft
        self.draft_stored = False  # reopened from a stored draft, which goes when this closes
        self.finished.connect(self._forget_stored_draft)

    # -- changes -----------------------------------------------------------------------------

    def setVisible(self, visible: bool) -> None:
        # The values when the form first appears are "unchanged": subclasses fill in their
        # defaults in __init__, before this, and the user can type only after it.
        if visible and self._baseline is None:
            self._baseline = self.field_values()
        super().setVisible(visible)

    def field_values(self) -> dict[str, Any]:
        """Every known input's value and whether its row is shown, by field name."""
        values = {}
        for name, row in self.rows.items():
            value = read_value(row.widget)
            if value is not _SKIP:
                values[name] = {"value": value, "shown": self.form.isRowVisible(row.label)}
        return values

    def has_changes(self) -> bool:
        return self._baseline is not None and self.field_values() != self._baseline

    # -- discarding ---------------------------------------------------------------------------

    def reject(self) -> None:
        """Esc, Cancel and the close button all come here: ask before throwing work away."""
        if self.closing_for_lock or self._discard_confirmed or not self.has_changes():
            super().reject()
            return
        if self._asking:
            return
        self._asking = True
        question = confirm.Question(
            _("Discard your changes to {form}?").format(form=self.windowTitle()),
            ((KEEP, _("Keep editing")), (DISCARD, _("Discard"))),  # the default keeps the work
            escape=KEEP,
            detail=_("What you typed in this form will be lost."),
        )
        confirm.ask(self, question, self._answered)

    def _answered(self, answer: str) -> None:
        if not shiboken6.isValid(self):
            return
        self._asking = False
        if answer == DISCARD:
            self._discard_confirmed = True
            self.reject()

    def _forget_stored_draft(self, _result: int) -> None:
        # Saved or discarded on purpose: the stored draft has served. A lock closes forms
        # without finishing them, and keeps (re-saves) the draft instead.
        if not self.draft_stored or self.closing_for_lock:
            return
        self.draft_stored = False
        drafts, actor, draft_id = self.session.clinic.drafts, self.session.actor, self.command_id
        self.session.run(lambda: drafts.discard(actor, [draft_id]), label=_("Tidying drafts…"))

    # -- restoring ----------------------------------------------------------------------------

    def restore_draft(self, fields: Mapping[str, Any], notice: str) -> None:
        """Put a draft's values back and say so; the form counts as changed afterwards."""
        if self._baseline is None:
            self._baseline = self.field_values()
        for name, saved in fields.items():
            row = self.rows.get(name)
            if row is None or not isinstance(saved, dict):
                continue
            if "shown" in saved:
                self.form.setRowVisible(row.label, bool(saved["shown"]))
            write_value(row.widget, saved.get("value"))
        self.draft_stored = True
        label = hint_label(notice, self)
        label.setObjectName("draftNotice")
        layout = self.layout()
        if isinstance(layout, QBoxLayout):
            layout.insertWidget(0, label)
        self.draft_notice = label
