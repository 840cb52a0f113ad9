"""Find on the central server: a patient from another facility walks in. Staff or a clinician
searches the server by name, identifier and birth date, chooses the patient and brings their
record onto this device; the chart then opens. The look-up and the fetch are audited (the
service does it); nothing found is stored until someone brings it here.

The work runs off the GUI thread (session.run) through the RemotePatientLookup the composition
root hands the UI (Backend.remote_patients); this module never imports sync.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import DomainError
from app.i18n import N_, _, pgettext
from app.services.remote_lookup import (
    BroughtPatient,
    RemotePatientLookup,
    RemotePatientRow,
    RemoteQuery,
    RemoteSearchResult,
)
from app.services.sync_status import SyncState
from app.ui.errors import error_field, plain_message
from app.ui.row_table import Index, RowTableModel
from app.ui.session import ClinicSession
from app.ui.widgets import ErrorLabelWidget, hint_label, make_primary

# Marked here, translated where shown (RowTableModel's headers, hint labels, the notice).
COLUMNS = (
    N_("Name"),
    N_("Sex"),
    N_("Born"),
    N_("Identifiers"),
    N_("Organization"),
    N_("On this device"),
)
INTRO = N_(
    "Look up a patient registered at another facility. The search, and any patient you bring "
    "onto this device, are recorded in the audit."
)
NOT_ENROLLED = N_(
    "This device is not enrolled with a central server, so it cannot look patients up. "
    "Ask IT to enrol it."
)
NO_LOOKUP = N_("This installation cannot look patients up on a central server.")
OFFLINE = N_(
    "The last sync could not reach the server: this device may be offline. A search will say "
    "so if it cannot reach the server."
)


class RemotePatientModel(RowTableModel):
    columns = COLUMNS
    rows: list[RemotePatientRow]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        p = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            here = (
                # Translators: "On this device" column: the patient is already here
                pgettext("on this device", "yes")
                if p.local_id
                else (_("cannot be read") if not p.readable else "")
            )
            cells = (p.display_name, p.sex, p.birth_date, "; ".join(p.identifiers))
            # Translators: "Organization" column: the patient has none
            organization = p.organization or pgettext("organization", "none")
            return (*cells, organization, here)[index.column()]
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            return _("{given} {family}, {sex}, born {birth_date}; {organization}").format(
                given=p.given,
                family=p.family,
                sex=p.sex,
                birth_date=p.birth_date,
                organization=p.organization or _("no organization"),
            )
        return None


class ResultsTable(QTableView):
    """Enter on a found patient brings them here (and does not also search again, which is
    what the dialog's default button would do with an Enter the table let through)."""

    enter_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.enter_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class RemotePatientDialog(QDialog):
    brought = Signal(object)  # BroughtPatient, after the record is on this device

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        factory = session.backend.remote_patients
        self.lookup: RemotePatientLookup | None = factory(session.clinic) if factory else None
        self.last_result: RemoteSearchResult | None = None
        self.searches_done = 0
        self.setWindowTitle(_("Find a patient on the central server"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(640)
        outer = QVBoxLayout(self)
        outer.addWidget(hint_label(_(INTRO), self))
        self.notice = QLabel(self)
        self.notice.setObjectName("noticeBar")
        self.notice.setWordWrap(True)
        self.notice.hide()
        outer.addWidget(self.notice)
        form = QFormLayout()
        self.errors: dict[str, ErrorLabelWidget] = {}  # under each field, by its name
        self.name = self._field(
            form, "name", _("&Name"), _("Words of the name, e.g. Zawadi Mollel")
        )
        self.identifier = self._field(form, "identifier", _("&Identifier"), _("e.g. KB-77123"))
        # Translators: the date format typed (ISO); translate the letters only
        self.birth_date = self._field(form, "birth_date", _("&Birth date"), _("YYYY-MM-DD"))
        outer.addLayout(form)
        self.search_button = QPushButton(_("&Search"), self)
        make_primary(self.search_button)
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        outer.addWidget(self.search_button, 0, Qt.AlignmentFlag.AlignRight)
        self.model = RemotePatientModel(self)
        self.table = ResultsTable(self)
        self.table.setModel(self.model)
        self.table.setAccessibleName(_("Patients found on the central server"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.enter_pressed.connect(self.bring)
        self.table.doubleClicked.connect(lambda _i: self.bring())
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        outer.addWidget(self.table, 1)
        self.status = QLabel(self)
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        self.form_error = ErrorLabelWidget(self, "formError")
        outer.addWidget(self.form_error)
        buttons = QDialogButtonBox(self)
        self.bring_button = buttons.addButton(
            _("Bring onto this &device"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.bring_button.setEnabled(False)
        self.bring_button.clicked.connect(self.bring)
        buttons.addButton(QDialogButtonBox.StandardButton.Close).setAutoDefault(False)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)
        self.setTabOrder(self.birth_date, self.search_button)
        self.setTabOrder(self.search_button, self.table)
        self.setTabOrder(self.table, self.bring_button)
        self._check_server()

    def _field(self, form: QFormLayout, key: str, label: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setPlaceholderText(placeholder)
        edit.setAccessibleName(label.replace("&", ""))
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(edit)
        error = ErrorLabelWidget(box)
        column.addWidget(error)
        self.errors[key] = error
        # Translators: a form field's caption, e.g. "Reason:"
        caption = QLabel(_("{label}:").format(label=label), self)
        caption.setBuddy(edit)
        form.addRow(caption, box)
        return edit

    # -- the device's connection ------------------------------------------------------------

    def _check_server(self) -> None:
        if self.lookup is None:
            self._unusable(_(NO_LOOKUP))
            return
        state = self.session.sync.status.state
        if state is SyncState.NOT_CONFIGURED:
            self._unusable(_(NOT_ENROLLED))
        elif state is SyncState.OFFLINE:
            self._say_notice(_(OFFLINE))

    def _unusable(self, message: str) -> None:
        self._say_notice(message)
        for widget in (self.name, self.identifier, self.birth_date, self.search_button):
            widget.setEnabled(False)

    def _say_notice(self, message: str) -> None:
        self.notice.setText(message)
        self.notice.setAccessibleName(message)
        self.notice.show()

    # -- search ---------------------------------------------------------------------------

    def search(self) -> None:
        lookup = self.lookup
        if lookup is None or not self.search_button.isEnabled():
            return
        self._clear_errors()
        query = RemoteQuery(self.name.text(), self.identifier.text(), self.birth_date.text())
        self.search_button.setEnabled(False)
        self.status.setText(_("Searching the central server…"))
        self.session.run(
            lambda: lookup.search(query),
            success=self._found,
            failure=self._failed,
            owner=self,
            label=_("Searching the central server…"),
        )

    def _found(self, result: RemoteSearchResult) -> None:
        self.search_button.setEnabled(True)
        self.last_result = result
        self.model.set_rows(list(result.patients))
        self.searches_done += 1
        self.status.setText(result.summary())
        self.status.setAccessibleName(result.summary())
        if result.patients:
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)
            self.table.selectRow(0)
        self._row_changed(self.table.currentIndex(), QModelIndex())

    # -- bring ----------------------------------------------------------------------------

    def selected(self) -> RemotePatientRow | None:
        index = self.table.selectionModel().currentIndex()
        return self.model.rows[index.row()] if index.isValid() else None

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.model.rows[current.row()] if current.isValid() else None
        self.bring_button.setEnabled(row is not None and row.readable)
        if row is not None and not row.readable:
            self.status.setText(
                _("FieldChart cannot read this patient's record on the server; ask IT.")
            )

    def bring(self) -> None:
        row, lookup = self.selected(), self.lookup
        if row is None or lookup is None or not self.bring_button.isEnabled():
            return
        self._clear_errors()
        self.bring_button.setEnabled(False)
        self.status.setText(_("Bringing {name} onto this device…").format(name=row.display_name))
        server_id = row.server_id
        self.session.run(
            lambda: lookup.bring(server_id),
            success=self._brought,
            failure=self._failed,
            owner=self,
            label=_("Bringing the patient's record…"),
        )

    def _brought(self, brought: BroughtPatient) -> None:
        self.brought.emit(brought)
        self.accept()

    # -- errors ---------------------------------------------------------------------------

    def _failed(self, error: BaseException) -> None:
        self.search_button.setEnabled(self.lookup is not None)
        self._row_changed(self.table.currentIndex(), QModelIndex())
        self.status.setText("")
        message = plain_message(error)
        field = error_field(error) if isinstance(error, DomainError) else None
        inputs = {"name": self.name, "identifier": self.identifier, "birth_date": self.birth_date}
        if field in inputs:
            self.errors[field].show_message(message)
            inputs[field].setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.form_error.show_message(message)

    def _clear_errors(self) -> None:
        for error in (*self.errors.values(), self.form_error):
            error.clear_message()
