"""A printout's HTML as a QTextDocument (with the card's QR code drawn from its modules) and
written to a PDF file or a printer. Qt's own paged layout does the pages."""

from __future__ import annotations

import errno
from pathlib import Path

from PySide6.QtCore import QMarginsF, QSizeF, QUrl
from PySide6.QtGui import (
    QColor,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
)
from PySide6.QtPrintSupport import QPrinter

from app.i18n import _
from app.services.printouts.layouts import QR_IMAGE
from app.services.printouts.service import Printout

QUIET_ZONE = 4  # modules of white around a QR code (ISO/IEC 18004 asks for four)
MODULE_PX = 8  # image pixels per module: sharp edges when scaled onto the page
#: A card and a slip go on a small page (A6, cut or folded); the letters on A4.
PAGE_SIZES = {"card": QPageSize.PageSizeId.A6, "slip": QPageSize.PageSizeId.A6}
RESOLUTION_DPI = 300
DOC_DPI = 96  # QTextDocument lays out in pixels of a 96 dpi screen


def qr_image(matrix: tuple[tuple[bool, ...], ...]) -> QImage:
    """The QR code's modules as a black-on-white image with its quiet zone."""
    n = len(matrix) + 2 * QUIET_ZONE
    image = QImage(n * MODULE_PX, n * MODULE_PX, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    black = QColor("black")
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.fillRect(
                    (x + QUIET_ZONE) * MODULE_PX,
                    (y + QUIET_ZONE) * MODULE_PX,
                    MODULE_PX,
                    MODULE_PX,
                    black,
                )
    painter.end()
    return image


def text_document(printout: Printout) -> QTextDocument:
    doc = QTextDocument()
    if printout.qr_matrix:
        doc.addResource(
            QTextDocument.ResourceType.ImageResource.value,
            QUrl(QR_IMAGE),
            qr_image(printout.qr_matrix),
        )
    doc.setHtml(printout.html)
    return doc


def page_layout(printout: Printout) -> QPageLayout:
    size = QPageSize(PAGE_SIZES.get(printout.document, QPageSize.PageSizeId.A4))
    margins = (
        QMarginsF(8, 8, 8, 8) if printout.document in PAGE_SIZES else QMarginsF(18, 18, 18, 18)
    )
    return QPageLayout(size, QPageLayout.Orientation.Portrait, margins, QPageLayout.Unit.Millimeter)


def laid_out(printout: Printout) -> QTextDocument:
    """The document laid out on the page's printable area, in the document's own pixels
    (96 per inch), so Qt scales it onto the printer without its default 2 cm margins."""
    doc = text_document(printout)
    area = page_layout(printout).paintRect(QPageLayout.Unit.Inch)
    doc.setPageSize(QSizeF(area.width() * DOC_DPI, area.height() * DOC_DPI))
    doc.setDocumentMargin(0)
    return doc


def write_pdf(printout: Printout, path: Path) -> None:
    """The printout as a PDF file at `path` (a file the user chose: it holds patient data)."""
    writer = QPdfWriter(str(path))
    writer.setResolution(RESOLUTION_DPI)
    writer.setPageLayout(page_layout(printout))
    writer.setTitle(printout.title)  # the document's kind, never the patient's name
    writer.setCreator("FieldChart")
    laid_out(printout).print_(writer)
    del writer  # closes the file
    if not path.is_file() or path.stat().st_size == 0:  # QPdfWriter only warns
        raise OSError(errno.EIO, _("the PDF file was not written"))


def print_to(printout: Printout, printer: QPrinter) -> None:
    """The printout on a printer the user chose (the print dialog's)."""
    printer.setPageLayout(page_layout(printout))
    laid_out(printout).print_(printer)
