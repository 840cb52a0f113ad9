"""The New patient form's duplicate check: the patients already here (or, when the central
server was asked, only there) who may be the person being registered, each with the reasons, and
the two answers ("This is the same person" opens their chart, bringing a server patient here
first; "New patient" registers). Rules: docs/front-desk/duplicates.md."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _, ngettext
from app.i18n.formatting import count
from app.services.duplicate_check import SimilarPatient
from app.ui.tables import read_only_table

# Marked here, translated where the table is made.
COLUMNS = (N_("Name"), N_("Born"), N_("Sex"), N_("Why"), N_("Where"))


class SimilarPatientsPanel(QWidget):
    same_person = Signal(object)  # the SimilarPatient chosen
    new_patient = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("similarPatients")
        self.patients: list[SimilarPatient] = []
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.title.setObjectName("similarTitle")
        column.addWidget(self.title)
        self.table: QTableWidget = read_only_table(
            self,
            tuple(_(c) for c in COLUMNS),  # marked msgids
            _("Patients who may be the same person"),
            stretch=3,
            wrap=True,
            single=True,
        )
        self.table.setMaximumHeight(170)
        self.table.activated.connect(lambda _index: self._choose_same())
        column.addWidget(self.table)
        self.note = QLabel(self)  # why the central server was not asked, when it was not
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        column.addWidget(self.note)
        row = QHBoxLayout()
        self.same_button = QPushButton(_("This is the &same person"), self)
        self.same_button.setToolTip(_("Open the chosen patient's chart; nothing is registered"))
        self.same_button.clicked.connect(self._choose_same)
        self.new_button = QPushButton(_("&New patient"), self)
        self.new_button.setToolTip(_("None of them: register the person as a new patient"))
        self.new_button.clicked.connect(self.new_patient.emit)
        row.addWidget(self.same_button)
        row.addWidget(self.new_button)
        row.addStretch(1)
        column.addLayout(row)
        self.hide()

    def show_patients(self, patients: Sequence[SimilarPatient], note: str = "") -> None:
        """List `patients` (most alike first) and show the panel; hidden when there are none."""
        self.patients = list(patients)
        n = len(self.patients)
        self.title.setText(
            ngettext(
                "<b>{count} patient already registered may be this person.</b> "
                "Check before registering:",
                "<b>{count} patients already registered may be this person.</b> "
                "Check before registering:",
                n,
            ).format(count=count(n))
        )
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.table.setRowCount(n)
        for r, p in enumerate(self.patients):
            where = _("here") if p.where == "device" else _("on the central server")
            for col, text in enumerate(
                (p.display_name, p.birth_date, p.sex, ", ".join(p.reasons), where)
            ):
                self.table.setItem(r, col, QTableWidgetItem(text))
        if n:
            self.table.selectRow(0)
        self.same_button.setEnabled(n > 0)
        self.setVisible(n > 0)

    def clear(self) -> None:
        self.patients = []
        self.table.setRowCount(0)
        self.hide()

    def focus_list(self) -> None:
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def chosen(self) -> SimilarPatient | None:
        row = self.table.currentRow()
        return self.patients[row] if 0 <= row < len(self.patients) else None

    def _choose_same(self) -> None:
        chosen = self.chosen()
        if chosen is not None and (chosen.patient_id or chosen.server_id):
            self.same_person.emit(chosen)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.table.hasFocus():
            self._choose_same()
            return
        super().keyPressEvent(event)
