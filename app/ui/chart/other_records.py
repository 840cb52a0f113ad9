"""The chart's "Other records" tab: what other systems wrote about the patient that FieldChart
does not model (a district lab's results, a campaign's immunizations, a hospital's discharge
PDF), read-only, with a filter box and a detail pane that shows a small PDF from memory.

A PDF is opened from the bytes the vault holds (QPdfDocument over a QBuffer), never written to
a file: a temporary file would put a patient's document on disk unencrypted.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QStackedWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.domain.other_records import OTHER_ACTIVE_STATUSES, matches
from app.i18n import N_, _, ngettext
from app.i18n.formatting import count, day, number
from app.services.dto import ChartView, ItemView
from app.ui.formatting import when
from app.ui.tables import read_only_table

# English msgids (N_), translated where shown.
COLUMNS = (N_("Type"), N_("What"), N_("Value"), N_("Date"), N_("Source"))
EMPTY = N_("No records from other systems.")


def row_values(item: ItemView) -> tuple[str, ...]:
    """The row of one record: type, what, value, date, source (a status that says it did
    not happen or no longer holds leads the "what")."""
    d = item.data
    what = d.get("what") or ", ".join(
        str(a.get("title")) for a in d.get("attachments") or [] if a.get("title")
    )
    status = status_text(item)
    if item.entered_in_error or item.status not in OTHER_ACTIVE_STATUSES:
        # Translators: a record's status (e.g. "entered in error") before what it is
        what = _("[{status}] {what}").format(status=status, what=what or "").strip()
    return (
        str(d.get("label") or d.get("resource_type") or ""),
        str(what or "—"),
        str(d.get("value") or "—"),
        _date(d.get("date")),
        str(d.get("source") or "—"),
    )


def status_text(item: ItemView) -> str:
    if item.entered_in_error:
        return _("entered in error")
    return str(item.data.get("status") or "")


def _date(value: Any) -> str:
    """A date-time as the chart shows one; a date alone (2026-11-20) without a made-up time."""
    if not isinstance(value, str) or not value:
        return "—"
    if len(value) <= 10:  # a FHIR date, or a partial one (2026, 2026-11)
        try:
            return day(date.fromisoformat(value))
        except ValueError:
            return value
    return when(value)


def _size(size: Any) -> str:
    if not isinstance(size, int):
        return _("size unknown")
    if size >= 1024:
        return _("{size} KB").format(size=number(round(size / 1024, 1)))
    return ngettext("{count} byte", "{count} bytes", size).format(count=count(size))


class OtherRecordsWidget(QWidget):
    """Rows of other systems' records, filtered as one types; the selected one's details."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText(_("Filter by type, test, value or source"))
        self.filter.setAccessibleName(_("Filter other records"))
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._refill)
        layout.addWidget(self.filter)
        self.count = QLabel(self)
        self.count.setObjectName("hint")
        layout.addWidget(self.count)
        split = QSplitter(Qt.Orientation.Vertical, self)
        # What a record is wraps rather than being cut short. "What" takes the room left;
        # value and source get a fair width (a person widens them), or a long lab name would
        # squeeze "what" out of sight on a 1366 px screen.
        self.table = read_only_table(
            split,
            tuple(_(c) for c in COLUMNS),  # COLUMNS msgids
            _("Other records"),
            stretch=1,
            wrap=True,
            single=True,
        )
        header = self.table.horizontalHeader()
        for column, width in ((2, 130), (4, 150)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        self.table.currentCellChanged.connect(lambda row, *_: self._select(row))
        details = QWidget(split)
        pane = QVBoxLayout(details)
        pane.setContentsMargins(0, 4, 0, 0)
        self.caption = QLabel(details)  # what the PDF below is: title, type, size
        self.caption.setObjectName("hint")
        pane.addWidget(self.caption)
        self.detail = QStackedWidget(details)
        pane.addWidget(self.detail, 1)
        self.detail_text = QTextBrowser(self.detail)  # scrolls when the pane is short
        self.detail_text.setAccessibleName(_("Record details"))
        self.pdf_document = QPdfDocument(self)
        self.pdf_view = QPdfView(self.detail)
        self.pdf_view.setAccessibleName(_("Document"))
        self.pdf_view.setDocument(self.pdf_document)
        self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self._pdf_buffer: QBuffer | None = None
        self.detail.addWidget(self.detail_text)
        self.detail.addWidget(self.pdf_view)
        split.addWidget(self.table)
        split.addWidget(details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        self.setFocusProxy(self.filter)
        self._records: list[ItemView] = []
        self._shown: list[ItemView] = []

    def show_chart(self, chart: ChartView) -> None:
        self._records = sorted(
            getattr(chart, "other_records", []),
            key=lambda i: str(i.data.get("date") or i.clinical_time),
            reverse=True,
        )
        self._refill()

    def visible_rows(self) -> list[tuple[str, ...]]:
        return [row_values(i) for i in self._shown]

    def _refill(self) -> None:
        query = self.filter.text()
        self._shown = [i for i in self._records if matches(i.data, query)]
        self.table.setRowCount(len(self._shown))
        for r, item in enumerate(self._shown):
            for col, value in enumerate(row_values(item)):
                cell = QTableWidgetItem(value)
                if item.entered_in_error:
                    font = cell.font()
                    font.setStrikeOut(True)
                    cell.setFont(font)
                self.table.setItem(r, col, cell)
        total = len(self._records)
        if not total:
            self.count.setText(_(EMPTY))
        elif query.strip():
            self.count.setText(
                ngettext(
                    "{shown} of {total} record matches", "{shown} of {total} records match", total
                ).format(shown=len(self._shown), total=total)
            )
        else:
            self.count.setText(
                ngettext(
                    "{count} record from other systems (read-only)",
                    "{count} records from other systems (read-only)",
                    total,
                ).format(count=total)
            )
        self._select(self.table.currentRow())

    def _select(self, row: int) -> None:
        if not 0 <= row < len(self._shown):
            self._show_text(_("Select a record to see its details."))
            return
        item = self._shown[row]
        pdf = next(
            (
                a
                for a in item.data.get("attachments") or []
                if a.get("content_type") == "application/pdf" and a.get("data")
            ),
            None,
        )
        if pdf is not None and self._open_pdf(pdf["data"]):
            self.caption.setText(
                _("{title} (PDF, {size}) — {source}, read-only").format(
                    title=pdf.get("title") or _("Document"),
                    size=_size(pdf.get("size")),
                    source=item.data.get("source") or _("another system"),
                )
            )
            self.caption.show()
            return
        self._show_text(self._details(item))

    def _details(self, item: ItemView) -> str:
        d = item.data
        lines = [
            _("{kind}: {what}").format(
                kind=d.get("label") or d.get("resource_type"), what=d.get("what") or "—"
            )
        ]
        if d.get("value"):
            lines.append(_("Value: {value}").format(value=d["value"]))
        lines.append(_("Date: {date}").format(date=_date(d.get("date"))))
        lines.append(_("Source: {source}").format(source=d.get("source") or _("another system")))
        lines.append(_("Status: {status}").format(status=status_text(item) or "—"))
        code = d.get("code")
        if isinstance(code, dict) and code.get("code"):
            lines.append(
                _("Code: {code} ({system})").format(
                    code=code.get("code"), system=code.get("system") or _("no system")
                )
            )
        for a in d.get("attachments") or []:
            values = {
                "title": a.get("title") or _("untitled"),
                "type": a.get("content_type") or "?",
                "size": _size(a.get("size")),
            }
            if a.get("data"):
                lines.append(_("Attachment: {title} ({type}, {size})").format(**values))
            else:
                lines.append(
                    _(
                        "Attachment: {title} ({type}, {size}) — not kept on this device "
                        "(too large or by link)"
                    ).format(**values)
                )
        lines.append(_("Read-only: this record belongs to another system."))
        return "\n".join(lines)

    def _show_text(self, text: str) -> None:
        self.caption.hide()
        self.detail_text.setPlainText(text)
        self.detail.setCurrentWidget(self.detail_text)

    def _open_pdf(self, encoded: str) -> bool:
        """Show the PDF from memory; False if it cannot be read (its details show instead)."""
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return False
        self.pdf_document.close()
        buffer = QBuffer(self)
        buffer.setData(QByteArray(raw))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.pdf_document.load(buffer)
        if self._pdf_buffer is not None:
            self._pdf_buffer.deleteLater()
        self._pdf_buffer = buffer  # the document reads from it while shown
        if self.pdf_document.status() != QPdfDocument.Status.Ready:
            return False
        self.detail.setCurrentWidget(self.pdf_view)
        return True
