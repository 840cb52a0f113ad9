"""The schedule's "Vaccines" list: every child on this device with an immunization due or
overdue today (the clinic clock's day), overdue first; Enter or a double click opens the
chart. Loaded off the GUI thread like the other schedule lists."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _
from app.services.dto import Changes
from app.services.immunization_queries import PatientDoseDue
from app.ui.session import ClinicSession
from app.ui.tables import read_only_table

# English msgids: translated where the table is built.
COLUMNS = (N_("Due"), N_("Patient"), N_("Vaccine"))
ALERT = "#b00020"
# Commands that can change who has a dose due: a dose recorded or retracted, a patient added
# or a birth date corrected, and anything pulled by sync.
_RELEVANT = frozenset({"RecordImmunization", "MarkEnteredInError", "RegisterPatient"})


class ImmunizationDueListView(QWidget):
    open_patient = Signal(str)
    counted = Signal(int, int)  # (doses due or overdue, of them overdue), after each load

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.rows: list[PatientDoseDue] = []
        self.loads_done = 0
        self._seq = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = read_only_table(
            self,
            tuple(_(c) for c in COLUMNS),  # COLUMNS msgids
            _("Immunizations due and overdue"),
            stretch=1,
            single=True,
            grid=False,
        )
        self.table.setToolTip(
            _("Doses due or overdue today; Enter or double-click opens the chart")
        )
        self.table.activated.connect(lambda index: self._open(index.row()))
        self.table.doubleClicked.connect(lambda index: self._open(index.row()))
        layout.addWidget(self.table)
        self.setFocusProxy(self.table)
        session.changed.connect(self._on_changed)

    def refresh(self) -> None:
        self._seq += 1
        seq, queries, today = self._seq, self.session.clinic.queries, self.session.today()
        self.session.run(
            lambda: queries.immunizations_due(today),
            success=lambda rows: self._show(seq, rows),
            owner=self,
            label=_("Loading immunizations due…"),
        )

    def _show(self, seq: int, rows: list[PatientDoseDue]) -> None:
        if seq != self._seq:
            return
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, dose in enumerate(rows):
            overdue = dose.status == "overdue"
            values = (
                _("{day} overdue").format(day=dose.due_on) if overdue else dose.due_on,
                dose.patient_name,
                # Translators: a vaccine series and the dose due ("Pentavalent 2")
                _("{series} {dose}").format(series=dose.series_name, dose=dose.dose),
            )
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                if overdue:
                    item.setForeground(QBrush(QColor(ALERT)))
                self.table.setItem(r, col, item)
        self.loads_done += 1
        self.counted.emit(len(rows), sum(r.status == "overdue" for r in rows))

    def _open(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.open_patient.emit(self.rows[row].patient_id)

    def _on_changed(self, changes: Changes) -> None:
        if changes.command_type in _RELEVANT or "patients" in changes.areas:
            self.refresh()
