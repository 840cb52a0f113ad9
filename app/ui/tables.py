"""The read-only lists the screens show: one place sets up a QTableWidget the same way."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QWidget


def read_only_table(
    parent: QWidget,
    columns: Sequence[str],
    accessible_name: str,
    *,
    stretch: int | Sequence[int] = (),
    wrap: bool = False,
    single: bool = False,
    grid: bool = True,
    stripes: bool = True,
) -> QTableWidget:
    """A table a person reads and picks rows in, but never types into.

    `columns` and `accessible_name` come translated (the caller calls `_()`).

    It sets: the column titles `columns`; `accessible_name`, what a screen reader calls the
    list; no row numbers (the vertical header is hidden); no editing; whole rows selected,
    one at a time where `single`; alternating row colours unless `stripes` is False; no
    grid lines where `grid` is False. Every column fits its text, but the column(s)
    `stretch` take the room left, so the table fills its width without a sideways scroll.

    With `wrap`, long text wraps onto more lines, never elided with "…", and each row grows
    to fit it: nothing a clinician reads is cut short. The caller adds its own column
    widths and signals after this.
    """
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(list(columns))
    table.setAccessibleName(accessible_name)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    if single:
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    if stripes:
        table.setAlternatingRowColors(True)
    if not grid:
        table.setShowGrid(False)
    if wrap:
        table.setWordWrap(True)
        table.setTextElideMode(Qt.TextElideMode.ElideNone)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    for column in (stretch,) if isinstance(stretch, int) else stretch:
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
    return table
