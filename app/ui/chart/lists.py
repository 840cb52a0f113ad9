"""The Notes and Encounters tabs of a chart."""

from __future__ import annotations

from functools import partial
from html import escape

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.i18n import _, pgettext
from app.services.dto import ChartView
from app.ui.chart.actions import ChartActions
from app.ui.formatting import when
from app.ui.tables import read_only_table


class NotesView(QTextBrowser):
    """Every current note, newest first, with author and time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(_("Notes"))
        self.setOpenLinks(False)

    def show_chart(self, chart: ChartView) -> None:
        notes = sorted(chart.notes, key=lambda n: n.clinical_time, reverse=True)
        if not notes:
            empty = escape(_("No notes yet."))
            self.setHtml(f"<p style='color:#5b6b7c'><i>{empty}</i></p>")  # i18n: ignore (markup)
            return
        parts = []
        for note in notes:
            body = escape(note.data.get("text") or "").replace("\n", "<br>")
            # Translators: a note's heading: when it was written and by whom
            heading = _("{time} · {author}").format(
                time=when(note.clinical_time), author=note.recorded_by
            )
            parts.append(
                "<div style='margin-bottom:14px'>"  # i18n: ignore (markup)
                "<p style='color:#2f6fb0;font-weight:bold;margin:0'>"  # i18n: ignore (markup)
                f"{escape(heading)}</p>"
                f"<p style='margin-top:4px'>{body}</p></div>"
            )
        self.setHtml("".join(parts))


class EncountersWidget(QWidget):
    def __init__(self, actions: ChartActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chart_actions = actions
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        # The reason for the encounter wraps; it is never elided.
        self.table = read_only_table(
            self,
            # Translators: encounter table columns
            (_("Started"), pgettext("encounter column", "Finished"), _("Reason"), _("Status")),
            _("Encounters"),
            stretch=2,
            wrap=True,
        )
        self.table.horizontalHeader().sectionResized.connect(self._fit_rows)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        for key, label in (
            ("encounter", _("Start encounter…")),
            ("finish_encounter", _("Finish…")),
        ):
            row.addWidget(actions.button(key, label, self, partial(self._run, key)))
        row.addStretch(1)
        layout.addLayout(row)
        self._ids: list[str] = []

    def _fit_rows(self, column: int, _old: int, _new: int) -> None:
        """Measure the rows again once the reason column has its new width."""
        if column == 2:
            QTimer.singleShot(0, self.table, self.table.resizeRowsToContents)

    def _run(self, key: str) -> None:
        row = self.table.currentRow()
        self.chart_actions.open(key, self._ids[row] if 0 <= row < len(self._ids) else None)

    def show_chart(self, chart: ChartView) -> None:
        encounters = sorted(chart.encounters, key=lambda e: e.clinical_time, reverse=True)
        self.table.setRowCount(len(encounters))
        self._ids = [e.item_id for e in encounters]
        for r, e in enumerate(encounters):
            values = (
                when(e.data.get("started_at")),
                when(e.data.get("finished_at")) if e.data.get("finished_at") else "—",
                e.data.get("reason") or "",
                _("In progress")
                if e.status == "in-progress"
                # Translators: an encounter's status
                else pgettext("encounter status", "Finished"),
            )
            for col, value in enumerate(values):
                self.table.setItem(r, col, QTableWidgetItem(value))
