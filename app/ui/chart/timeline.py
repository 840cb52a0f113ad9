"""The timeline: everything recorded on the chart, newest first, with who and when.
Entries later marked entered-in-error stay, struck through and greyed."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from app.domain.other_records import READ_ONLY_KIND
from app.i18n import N_, _
from app.services.dto import TimelineEntry
from app.ui.formatting import when
from app.ui.permissions import role_name
from app.ui.row_table import Index, RowTableModel

# English msgids (N_): the model's headers are translated when it is made.
COLUMNS = (N_("When"), N_("Entry"), N_("By"), N_("Recorded"))
NARROW = 760  # px of table width below which the "Recorded" column is hidden
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")


def readable(text: str) -> str:
    """Entry text with ISO instants (e.g. of a booked follow-up) shown in local time."""
    return ISO_INSTANT.sub(lambda m: when(m.group(0)), text)


class TimelineModel(RowTableModel):
    columns: tuple[str, ...] = COLUMNS
    rows: list[TimelineEntry]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns: tuple[str, ...] = tuple(_(c) for c in COLUMNS)  # COLUMNS msgids

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                when(e.occurred_at),
                readable(e.text),
                _("{user} ({role})").format(user=e.user, role=role_name(e.role)),
                when(e.recorded_at),
            )[index.column()]
        if role == Qt.ItemDataRole.FontRole and e.entered_in_error:
            font = QFont()
            font.setStrikeOut(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and e.entered_in_error:
            return QBrush(QColor("#8a94a0"))
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = _("{entry}\nRecorded {time} by {user} ({role})").format(
                entry=readable(e.text),
                time=when(e.recorded_at),
                user=e.user,
                role=role_name(e.role),
            )
            return _("{entry}\nEntered in error").format(entry=tip) if e.entered_in_error else tip
        if role == Qt.ItemDataRole.AccessibleTextRole and index.column() == 1:
            if e.entered_in_error:
                return _("{entry} (entered in error)").format(entry=e.text)
            return e.text
        return None


class TimelineView(QTableView):
    mark_in_error = Signal(str, str)  # item id, its text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = TimelineModel(self)
        self.setModel(self.timeline)
        self.setAccessibleName(_("Timeline"))
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # Entries (drugs and doses, allergies, vitals) wrap; they are never elided.
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # rows are measured again when the entry column's width changes (wrapping changes)
        self._rows_timer = QTimer(self, singleShot=True, interval=0)
        self._rows_timer.timeout.connect(self.resizeRowsToContents)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        header.sectionResized.connect(lambda i, _old, _new: i == 1 and self._rows_timer.start())
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.allow_corrections = False

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        # On a narrow chart the "Recorded" column gives its room to the entries (the time
        # and who recorded an entry stay in its tooltip).
        self.setColumnHidden(3, event.size().width() < NARROW)

    def set_entries(self, entries: list[TimelineEntry]) -> None:
        self.timeline.set_rows(entries)

    def _menu(self, pos: Any) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        entry = self.timeline.rows[index.row()]
        menu = QMenu(self)
        action = QAction(_("Mark entered in error…"), menu)
        # Another system's record is read-only here (app/domain/other_records.py).
        foreign = entry.kind == READ_ONLY_KIND
        if foreign:
            action.setText(_("Read-only: recorded by another system"))
        action.setEnabled(
            self.allow_corrections
            and entry.item_id is not None
            and not entry.entered_in_error
            and not foreign
        )
        item_id, text = entry.item_id or "", entry.text
        action.triggered.connect(lambda: self.mark_in_error.emit(item_id, text))
        menu.addAction(action)
        menu.popup(self.viewport().mapToGlobal(pos))
