"""Find a patient: search as you type (debounced, off the GUI thread) and a results table."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _, ngettext
from app.services.dto import Changes, PatientSummary
from app.services.remote_lookup import MAY_LOOK_UP, BroughtPatient
from app.ui import shortcuts
from app.ui.remote_patient_dialog import RemotePatientDialog
from app.ui.row_table import Index, RowTableModel
from app.ui.session import ClinicSession
from app.ui.widgets import make_primary, title_label

# identifiers and sex in the tooltip; N_-marked, RowTableModel shows them translated
COLUMNS = (
    N_("Name"),
    # Translators: the patient list's column of birth dates
    N_("Born"),
)
DEBOUNCE_MS = 200


class PatientTableModel(RowTableModel):
    columns = COLUMNS
    rows: list[PatientSummary]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        p = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (f"{p.family.upper()}, {p.given}", p.birth_date)[index.column()]
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            ids = ", ".join(f"{i['system']} {i['value']}" for i in p.identifiers)
            if ids:
                return _("{given} {family}, {sex}, born {born} ({identifiers})").format(
                    given=p.given, family=p.family, sex=p.sex, born=p.birth_date, identifiers=ids
                )
            return _("{given} {family}, {sex}, born {born}").format(
                given=p.given, family=p.family, sex=p.sex, born=p.birth_date
            )
        if role == Qt.ItemDataRole.UserRole:
            return p.patient_id
        return None

    def row_of(self, patient_id: str) -> int:
        return next((i for i, p in enumerate(self.rows) if p.patient_id == patient_id), -1)


class PatientListView(QWidget):
    patient_selected = Signal(str)
    new_patient_requested = Signal()

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._seq = 0
        self.searches_done = 0
        self._open_when_shown: str | None = None  # a patient just brought from the server
        self.cards_opened = 0  # charts opened from a scanned or typed patient card
        self._focus_when_shown = False  # Enter pressed before the search ran
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 6, 10)
        top = QHBoxLayout()
        top.addWidget(title_label(_("Patients"), self))
        top.addStretch(1)
        self.new_button = QPushButton(_("New patient"), self)
        self.new_button.setToolTip(
            _("Register a new patient ({keys})").format(keys=shortcuts.NEW_PATIENT)
        )
        make_primary(self.new_button)
        self.new_button.clicked.connect(self.new_patient_requested)
        top.addWidget(self.new_button)
        layout.addLayout(top)
        self.search = QLineEdit(self)
        self.search.setObjectName("searchField")
        self.search.setPlaceholderText(_("Search name, ID or birth date"))
        self.search.setToolTip(
            _("Type part of a name, an identifier or a birth date (YYYY-MM-DD) ({keys})").format(
                keys=shortcuts.FIND_PATIENT
            )
        )
        self.search.setAccessibleName(_("Search patients"))
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        self.model = PatientTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setAccessibleName(_("Patients found"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move in it
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        # No fixed minimum width: the splitter may narrow the list down to what its title,
        # button and search field need (names then elide; the full name is in the tooltip).
        layout.addWidget(self.table, 1)
        self.status = QLabel(self)
        self.status.setObjectName("muted")
        layout.addWidget(self.status)
        # A patient from another facility: look them up on the central server (issue 14).
        self.remote_button = QPushButton(_("Find on the central &server…"), self)
        self.remote_button.setToolTip(
            _("Look up a patient registered at another facility and bring their record here")
        )
        if session.role not in MAY_LOOK_UP:
            self.remote_button.setEnabled(False)
            self.remote_button.setToolTip(_("Only clinicians and staff look patients up"))
        self.remote_button.setVisible(session.backend.remote_patients is not None)
        self.remote_button.clicked.connect(self.find_on_server)
        layout.addWidget(self.remote_button)
        self.remote_dialog: RemotePatientDialog | None = None
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._timer.start())
        self.search.returnPressed.connect(self._entered)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        session.changed.connect(self._on_changed)
        self.setTabOrder(self.search, self.table)
        self.setTabOrder(self.table, self.new_button)
        self.setTabOrder(self.new_button, self.remote_button)

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def find_on_server(self) -> RemotePatientDialog | None:
        """Open "Find a patient on the central server"; a patient brought here opens."""
        if not self.remote_button.isEnabled() or not self.remote_button.isVisible():
            return None
        dialog = RemotePatientDialog(self.session, self)
        dialog.brought.connect(self._brought)
        dialog.finished.connect(self._remote_dialog_closed)
        self.remote_dialog = dialog
        dialog.open()
        return dialog

    def _remote_dialog_closed(self, _result: int) -> None:
        self.remote_dialog = None  # it deletes itself once closed

    def _brought(self, brought: BroughtPatient) -> None:
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self._open_when_shown = brought.patient_id
        self.refresh(select=brought.patient_id)

    def refresh(self, select: str | None = None) -> None:
        """Search now (off the GUI thread); results of older searches are ignored."""
        self._timer.stop()
        self._seq += 1
        seq, text, queries = self._seq, self.search.text(), self.session.clinic.queries
        self.session.run(
            lambda: queries.search_patients(text, limit=200),
            success=lambda found: self._show(seq, found, select),
            owner=self,
            label=_("Searching…"),
        )

    def _show(self, seq: int, found: list[PatientSummary], select: str | None) -> None:
        if seq != self._seq:
            return
        keep = select or self.selected_patient_id()
        self.model.set_rows(found)
        self.searches_done += 1
        if found:
            n = len(found)
            self.status.setText(
                ngettext("{count} patient shown", "{count} patients shown", n).format(count=n)
            )
        elif self.search.text().strip():
            self.status.setText(_("No patient matches. Press Ctrl+N to register a new one."))
        else:
            self.status.setText(_("No patients yet. Press Ctrl+N to register the first one."))
        if keep:
            self.select(keep)
        if self._focus_when_shown and not self._open_when_shown:
            self._focus_when_shown = False
            self._focus_results()
        opening, self._open_when_shown = self._open_when_shown, None
        if opening is not None and self.model.row_of(opening) < 0:
            self.patient_selected.emit(opening)  # not among the rows shown: open it anyway

    def select(self, patient_id: str) -> None:
        row = self.model.row_of(patient_id)
        if row >= 0:
            self.table.selectionModel().setCurrentIndex(
                self.model.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )

    def selected_patient_id(self) -> str | None:
        index = self.table.selectionModel().currentIndex()
        return self.model.rows[index.row()].patient_id if index.isValid() else None

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.patient_selected.emit(self.model.rows[current.row()].patient_id)

    def _entered(self) -> None:
        """Enter in the search moves to the results; and when the text is a patient card (a
        USB scanner types the QR code and Enter, or a person types the card's number) naming
        exactly one patient, that chart opens at once."""
        if self._timer.isActive():
            # Typed faster than the search runs (a scanner does): the rows shown belong to an
            # older text, and selecting one would open someone else's chart.
            self._focus_when_shown = True
            self.refresh()
        else:
            self._focus_results()
        text, queries = self.search.text(), self.session.clinic.queries
        self.session.run(
            lambda: queries.patients_of_card(text),
            success=lambda found: self._card_found(text, found),
            owner=self,
            label=_("Searching…"),
        )

    def _card_found(self, text: str, found: list[PatientSummary]) -> None:
        if len(found) == 1 and text == self.search.text():
            self.cards_opened += 1
            self._open_when_shown = found[0].patient_id
            self.refresh(select=found[0].patient_id)

    def _focus_results(self) -> None:
        if self.model.rows:
            self.table.setFocus()
            if not self.table.selectionModel().currentIndex().isValid():
                self.select(self.model.rows[0].patient_id)

    def _on_changed(self, changes: Changes) -> None:
        if "patients" in changes.areas:
            select = changes.patient_id if changes.command_type == "RegisterPatient" else None
            self.refresh(select)
