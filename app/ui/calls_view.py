"""Calls: the follow-up call worklist (patients with a missed or overdue appointment, their
phone, what was missed, attempts so far, the next call date; due ones first) with "Record
call…" and "Remove from list…", and last month's "returned within 30 days of a call" figure by
outcome.

Its own page rather than a fifth tab on the Schedule page: the worklist needs its five
columns side by side, which the Schedule page's side column cannot give at 910 px; for the
same reason the monthly figure sits below the list, not beside it."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _, ngettext
from app.i18n.formatting import count, day, month_year
from app.services.call_worklist import ReturnFigure, WorklistRow
from app.services.dto import Changes
from app.ui.formatting import time_of_day
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.call_forms import RecordCallDialog, RemoveFromListDialog, outcome_text
from app.ui.session import ClinicSession
from app.ui.tables import read_only_table
from app.ui.widgets import make_primary, title_label

# N_-marked column titles, shown as `_(title)`.
COLUMNS = (
    N_("Patient"),
    N_("Phone"),
    # Translators: the column saying which appointment was missed (or is overdue), and when
    N_("Missed"),
    N_("Attempts"),
    N_("Next call"),
)
FIGURE_COLUMNS = (
    N_("Outcome"),
    # Translators: a column: the number of calls
    N_("Calls"),
    # Translators: a column: how many patients came back
    N_("Returned"),
    # Translators: a column: the share of calls after which the patient came back
    N_("Share"),
)


def previous_month(today: date) -> str:
    """The month before `today`'s, as YYYY-MM (the last whole month)."""
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


class CallsView(QWidget):
    open_patient = Signal(str)

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.rows: list[WorklistRow] = []
        self.last_form: CommandFormDialog | None = None
        self.loads_done = 0
        self._seq = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        top.addWidget(title_label(_("Follow-up calls"), self))
        self.summary = QLabel(self)
        self.summary.setObjectName("muted")
        top.addSpacing(16)
        top.addWidget(self.summary)
        top.addStretch(1)
        layout.addLayout(top)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setChildrenCollapsible(False)
        self.table = read_only_table(
            splitter,
            [_(title) for title in COLUMNS],
            _("Patients to call"),
            stretch=0,
            single=True,
            grid=False,
        )
        figures = QWidget(splitter)
        column = QVBoxLayout(figures)
        column.setContentsMargins(0, 0, 0, 0)
        self.figure_title = QLabel(figures)
        self.figure_title.setWordWrap(True)
        column.addWidget(self.figure_title)
        self.figures = read_only_table(
            figures,
            [_(title) for title in FIGURE_COLUMNS],
            _("Returned within 30 days of a call"),
            stretch=0,
        )
        column.addWidget(self.figures, 1)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)
        layout.addLayout(self._build_actions())
        self.table.itemSelectionChanged.connect(self._update_actions)
        self.table.doubleClicked.connect(lambda _i: self.record_call())
        session.changed.connect(self._on_changed)
        self._update_actions()

    def _build_actions(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.call_button = QPushButton(_("Record call…"), self)
        make_primary(self.call_button)
        self.remove_button = QPushButton(_("Remove from list…"), self)
        self.open_button = QPushButton(_("Open chart"), self)
        for button in (self.call_button, self.remove_button, self.open_button):
            row.addWidget(button)
        row.addStretch(1)
        self.call_button.clicked.connect(self.record_call)
        self.remove_button.clicked.connect(self.remove_from_list)
        self.open_button.clicked.connect(self._open_chart)
        return row

    # -- data ------------------------------------------------------------------------------

    def refresh(self) -> None:
        self._seq += 1
        seq, queries = self._seq, self.session.clinic.queries
        month = previous_month(self.session.today())

        def load() -> tuple[list[WorklistRow], str, list[ReturnFigure]]:
            return queries.call_worklist(), month, queries.calls_returned(month)

        self.session.run(
            load, success=lambda r: self._show(seq, *r), owner=self, label=_("Loading calls…")
        )

    def _show(self, seq: int, rows: list[WorklistRow], month: str, figures: list[ReturnFigure]):  # type: ignore[no-untyped-def]
        if seq != self._seq:
            return  # an older load finished after a newer one started
        kept = self.selected()
        self.rows = rows
        self.table.setRowCount(len(rows))
        for n, r in enumerate(rows):
            attempts = count(r.attempts)
            if r.last_outcome:
                # Translators: the number of call attempts and the last one's outcome
                attempts = _("{attempts} (last: {outcome})").format(
                    attempts=attempts, outcome=outcome_text(r.last_outcome)
                )
            values = (
                r.patient_name,
                r.phone or _("no phone"),
                self._missed_text(r),
                attempts,
                _("today") if r.due else self._day_text(r.next_call_on),
            )
            for col, text in enumerate(values):
                self.table.setItem(n, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        due = sum(r.due for r in rows)
        self.summary.setText(
            # Translators: the worklist's summary ("3 to call, 1 due today")
            ngettext(
                "{count} to call, {due} due today", "{count} to call, {due} due today", len(rows)
            ).format(count=count(len(rows)), due=count(due))
        )
        self._show_figures(month, figures)
        if kept is not None:
            for n, r in enumerate(rows):
                if r.patient_id == kept.patient_id:
                    self.table.selectRow(n)
        self.loads_done += 1
        self._update_actions()

    @staticmethod
    def _missed_text(r: WorklistRow) -> str:
        """'missed Sat 21 Nov, 09:30' or 'overdue …' (the appointment, in local time)."""
        when = time_of_day(r.appointment_start)
        if r.missed == "missed":
            # Translators: a missed appointment (marked no-show) and when it was
            return _("missed {time}").format(time=when)
        # Translators: an overdue appointment (never marked) and when it was
        return _("overdue {time}").format(time=when)

    @staticmethod
    def _day_text(iso: str | None) -> str:
        """A YYYY-MM-DD day as the current language writes it ('—' when none)."""
        if not iso:
            return "—"
        try:
            return day(date.fromisoformat(iso))
        except ValueError:
            return iso

    def _show_figures(self, month: str, figures: list[ReturnFigure]) -> None:
        shown = [f for f in figures if f.calls]
        year, number = (int(part) for part in month.split("-"))
        name = month_year(date(year, number, 1))
        if shown:
            text = _("Calls in {month}: patients back within 30 days").format(month=name)
        else:
            text = _("Calls in {month}: no calls recorded").format(month=name)
        self.figure_title.setText(text)
        self.figures.setRowCount(len(shown))
        for n, f in enumerate(shown):
            # Translators: a share in percent ("50%")
            share = (
                "—" if f.share is None else _("{value}%").format(value=count(round(f.share * 100)))
            )
            for col, text in enumerate(
                (outcome_text(f.outcome), count(f.calls), count(f.returned), share)
            ):
                self.figures.setItem(n, col, QTableWidgetItem(text))
        self.figures.resizeColumnsToContents()

    def selected(self) -> WorklistRow | None:
        row = self.table.currentRow()
        if self.table.selectedItems() and 0 <= row < len(self.rows):
            return self.rows[row]
        return None

    def _update_actions(self) -> None:
        picked = self.selected() is not None
        for button in (self.call_button, self.remove_button, self.open_button):
            button.setEnabled(picked)

    # -- actions ---------------------------------------------------------------------------

    def record_call(self) -> None:
        row = self.selected()
        if row is not None:
            self._open(RecordCallDialog(self.session, row, self))

    def remove_from_list(self) -> None:
        row = self.selected()
        if row is not None:
            self._open(RemoveFromListDialog(self.session, row, self))

    def _open(self, dialog: CommandFormDialog) -> None:
        self.last_form = dialog
        dialog.open()

    def _open_chart(self) -> None:
        row = self.selected()
        if row is not None:
            self.open_patient.emit(row.patient_id)

    def _on_changed(self, changes: Changes) -> None:
        if "schedule" in changes.areas and self.isVisible():
            self.refresh()
