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
from app.services.dto import ChartView, ItemView
from app.ui.formatting import when
from app.ui.tables import read_only_table

COLUMNS = ("Type", "What", "Value", "Date", "Source")
EMPTY = "No records from other systems."


def row_values(item: ItemView) -> tuple[str, ...]:
    """The row of one record: type, what, value, date, source (a status that says it did
    not happen or no longer holds leads the "what")."""
    d = item.data
    what = d.get("what") or ", ".join(
        str(a.get("title")) for a in d.get("attachments") or [] if a.get("title")
    )
    status = status_text(item)
    if item.entered_in_error or item.status not in OTHER_ACTIVE_STATUSES:
        what = f"[{status}] {what or ''}".strip()
    return (
        str(d.get("label") or d.get("resource_type") or ""),
        str(what or "—"),
        str(d.get("value") or "—"),
        _date(d.get("date")),
        str(d.get("source") or "—"),
    )


def status_text(item: ItemView) -> str:
    return "entered in error" if item.entered_in_error else str(item.data.get("status") or "")


def _date(value: Any) -> str:
    """A date-time as the chart shows one; a date alone (2026-11-20) without a made-up time."""
    if not isinstance(value, str) or not value:
        return "—"
    if len(value) <= 10:  # a FHIR date, or a partial one (2026, 2026-11)
        try:
            return date.fromisoformat(value).strftime("%d %b %Y")
        except ValueError:
            return value
    return when(value)


def _size(size: Any) -> str:
    if not isinstance(size, int):
        return "size unknown"
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} bytes"


class OtherRecordsWidget(QWidget):
    """Rows of other systems' records, filtered as one types; the selected one's details."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter by type, test, value or source")
        self.filter.setAccessibleName("Filter other records")
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
            split, COLUMNS, "Other records", stretch=1, wrap=True, single=True
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
        self.detail_text.setAccessibleName("Record details")
        self.pdf_document = QPdfDocument(self)
        self.pdf_view = QPdfView(self.detail)
        self.pdf_view.setAccessibleName("Document")
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
            self.count.setText(EMPTY)
        elif query.strip():
            self.count.setText(f"{len(self._shown)} of {total} records match")
        else:
            self.count.setText(f"{total} records from other systems (read-only)")
        self._select(self.table.currentRow())

    def _select(self, row: int) -> None:
        if not 0 <= row < len(self._shown):
            self._show_text("Select a record to see its details.")
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
                f"{pdf.get('title') or 'Document'} (PDF, {_size(pdf.get('size'))}) — "
                f"{item.data.get('source') or 'another system'}, read-only"
            )
            self.caption.show()
            return
        self._show_text(self._details(item))

    def _details(self, item: ItemView) -> str:
        d = item.data
        lines = [f"{d.get('label') or d.get('resource_type')}: {d.get('what') or '—'}"]
        if d.get("value"):
            lines.append(f"Value: {d['value']}")
        lines.append(f"Date: {_date(d.get('date'))}")
        lines.append(f"Source: {d.get('source') or 'another system'}")
        lines.append(f"Status: {status_text(item) or '—'}")
        code = d.get("code")
        if isinstance(code, dict) and code.get("code"):
            lines.append(f"Code: {code.get('code')} ({code.get('system') or 'no system'})")
        for a in d.get("attachments") or []:
            kept = "" if a.get("data") else " — not kept on this device (too large or by link)"
            lines.append(
                f"Attachment: {a.get('title') or 'untitled'} ({a.get('content_type') or '?'}, "
                f"{_size(a.get('size'))}){kept}"
            )
        lines.append("Read-only: this record belongs to another system.")
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
