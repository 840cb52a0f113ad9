""" "Print…" on a chart: choose what to print (which prescriptions, which visit, referral or
appointment), then save it as a PDF file or send it to a printer. Each print is audited
(app/services/printouts/service.py `record_printed`) once the file or the printer has it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.i18n import LAUNCH_LANGUAGES, N_, _, current_language
from app.services.dto import ChartView
from app.services.printouts.layouts import day, medication_line, moment
from app.services.printouts.service import Printout, printouts_of
from app.ui.errors import plain_message
from app.ui.printing.render import print_to, write_pdf
from app.ui.session import ClinicSession
from app.ui.widgets import make_primary

# English msgids (N_), translated where shown.
TITLES = {
    "prescription": N_("Print prescription"),
    "visit": N_("Print visit summary"),
    "referral": N_("Print referral letter"),
    "slip": N_("Print appointment slip"),
    "card": N_("Print patient card"),
}
CHOICE_LABELS = {"visit": N_("&Visit:"), "referral": N_("&Referral:"), "slip": N_("&Appointment:")}


def choices(document: str, chart: ChartView) -> list[tuple[str, str]]:
    """(item id, how it reads) of what can be printed as `document`, the most likely first."""
    if document == "visit":
        return [
            (
                e.item_id,
                # Translators: a visit to print: when it started and its reason
                _("{time} {reason}").format(
                    time=moment(e.data.get("started_at")), reason=e.data.get("reason") or ""
                ),
            )
            for e in reversed(chart.encounters)
        ]
    if document == "referral":
        return [
            (
                r.item_id,
                _("{day} to {facility}").format(
                    day=day(r.data.get("referred_at")), facility=r.data.get("to_facility")
                ),
            )
            for r in reversed(chart.referrals)
        ]
    if document == "slip":
        booked = [a for a in chart.appointments if a.status == "booked"]
        return [
            (
                a.item_id,
                _("{time} with {clinician}").format(
                    time=moment(a.data.get("start")), clinician=a.data.get("clinician")
                ),
            )
            for a in booked
        ]
    return []


def why_not(document: str, chart: ChartView | None) -> str | None:
    """Why `document` cannot be printed from this chart now (None: it can)."""
    if chart is None:
        return _("Open a patient's chart first.")
    if chart.as_of is not None:
        return _("Printing shows the chart as it is now: leave the past view first.")
    if document == "prescription" and not chart.medications:
        return _("There is no active medication.")
    if document in CHOICE_LABELS and not choices(document, chart):
        return {
            "visit": _("There is no encounter on this chart."),
            "referral": _("There is no referral on this chart."),
            "slip": _("There is no booked follow-up."),
        }[document]
    return None


class PrintDialog(QDialog):
    printed = Signal(object)  # the Printout, after the PDF was written or the printer had it

    def __init__(
        self,
        session: ClinicSession,
        chart: ChartView,
        document: str,
        parent: QWidget | None = None,
        selected: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.session, self.chart, self.document = session, chart, document
        self.printouts = printouts_of(session.clinic)
        self.setWindowTitle(_(TITLES[document]))  # a TITLES msgid
        layout = QVBoxLayout(self)
        form = QFormLayout()
        layout.addLayout(form)
        self.medicines: QListWidget | None = None
        self.item: QComboBox | None = None
        if document == "prescription":
            self.medicines = QListWidget(self)
            self.medicines.setAccessibleName(_("Medicines to print"))
            for m in chart.medications:
                entry = QListWidgetItem(medication_line(m.data), self.medicines)
                entry.setData(Qt.ItemDataRole.UserRole, m.item_id)
                entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                entry.setCheckState(Qt.CheckState.Checked)
            form.addRow(_("&Medicines:"), self.medicines)
        elif document in CHOICE_LABELS:
            self.item = QComboBox(self)
            for item_id, text in choices(document, chart):
                self.item.addItem(text, item_id)
            if selected is not None and self.item.findData(selected) >= 0:
                self.item.setCurrentIndex(self.item.findData(selected))
            form.addRow(_(CHOICE_LABELS[document]), self.item)  # a CHOICE_LABELS msgid
        # Printed in the patient's language when it is not the user's (a card, a referral).
        self.language = QComboBox(self)
        for code, name in LAUNCH_LANGUAGES.items():
            self.language.addItem(name, code)  # each language in its own words  # i18n: ignore
        self.language.setCurrentIndex(max(self.language.findData(current_language()), 0))
        self.language.setAccessibleName(_("Language of the printout"))
        form.addRow(_("Printed &in:"), self.language)
        self.path = QLineEdit(self)
        self.path.setAccessibleName(_("PDF file"))
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        stem = f"{document}-{chart.patient.patient_id[:8]}"  # no name: file names leak
        where = Path(folder) if folder and Path(folder).is_dir() else Path.home()
        self.path.setText(str(where / f"{stem}.pdf"))
        browse = QPushButton(_("&Browse…"), self)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        label = QLabel(_("PDF &file:"), self)
        label.setBuddy(self.path)  # Alt+F reaches the field (addRow with a layout would not)
        form.addRow(label, row)
        self.message = QLabel(self)
        self.message.setObjectName("error")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(self)
        self.save_button = buttons.addButton(_("&Save PDF"), QDialogButtonBox.ButtonRole.AcceptRole)
        make_primary(self.save_button)
        self.print_button = buttons.addButton(_("&Print…"), QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.save_button.clicked.connect(self.save_pdf)
        self.print_button.clicked.connect(self.print_on_paper)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.saved_to: Path | None = None
        self.setMinimumWidth(520)  # the file's whole path readable

    def _item_ids(self) -> list[str]:
        if self.medicines is not None:
            rows = [self.medicines.item(i) for i in range(self.medicines.count())]
            return [
                str(r.data(Qt.ItemDataRole.UserRole))
                for r in rows
                if r.checkState() == Qt.CheckState.Checked
            ]
        if self.item is not None:
            return [str(self.item.currentData())]
        return []

    def _browse(self) -> None:
        chosen, _filter = QFileDialog.getSaveFileName(
            self, _("Save as PDF"), self.path.text(), _("PDF (*.pdf)")
        )
        if chosen:
            self.path.setText(chosen)

    def _prepare(self, then: object) -> None:
        ids = self._item_ids()
        if self.medicines is not None and not ids:
            self.message.setText(_("Medicines: choose at least one to print."))
            return
        self.message.clear()
        printouts, actor, document = self.printouts, self.session.actor, self.document
        pid, language = self.chart.patient.patient_id, str(self.language.currentData())
        self.session.run(
            lambda: printouts.prepare(document, pid, actor, ids, language=language),
            success=then,  # type: ignore[arg-type]
            failure=lambda exc: self.message.setText(plain_message(exc)),
            owner=self,
            label=_("Preparing the printout…"),
        )

    def save_pdf(self) -> None:
        text = self.path.text().strip()
        if not text.lower().endswith(".pdf"):
            self.message.setText(_("PDF file: give a file name ending in .pdf"))
            return
        path = Path(text).expanduser()
        if not path.parent.is_dir():
            self.message.setText(_("PDF file: that folder does not exist"))
            return

        def write(printout: Printout) -> None:
            try:
                write_pdf(printout, path)
            except OSError as exc:
                self.message.setText(
                    _("PDF file: could not be written ({reason})").format(reason=exc.strerror)
                )
                return
            self.saved_to = path
            self._done(printout)

        self._prepare(write)

    def print_on_paper(self) -> None:
        def to_printer(printout: Printout) -> None:
            printer = QPrinter(QPrinter.PrinterMode.HighResolution)
            dialog = QPrintDialog(printer, self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return  # nothing printed, nothing audited
            print_to(printout, printer)
            self._done(printout)

        self._prepare(to_printer)

    def _done(self, printout: Printout) -> None:
        printouts, actor = self.printouts, self.session.actor
        self.session.run(
            lambda: printouts.record_printed(printout, actor),
            success=lambda _r: self._recorded(printout),
            owner=self,
            label=_("Recording the print…"),
        )

    def _recorded(self, printout: Printout) -> None:
        self.printed.emit(printout)
        self.accept()
