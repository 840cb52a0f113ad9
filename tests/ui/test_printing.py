"""Printing (issue 17 part 4), checked on the paper itself: every printout is rendered to a PDF
by the real renderer, its text read back with QtPdf (names, medicines, doses, dates, the
unsynced warning), its first page saved as a PNG for a person to look at, and the patient
card's QR code read back from the rendered page module by module and compared with the code of
the patient id. Then a person at the desk: a USB scanner types the card's QR payload (or the
card number is typed) into the patient search and Enter opens that chart; "Print" on the chart
saves a PDF, and the print is in the audit. (`fieldchart print`: tests/commandline/.)"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage
from PySide6.QtPdf import QPdfDocument
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.services.clinic import Clinic
from app.services.printouts.card_code import qr_matrix, short_number
from app.services.printouts.service import printouts_of
from app.store.reference_data import bundled_catalog
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.main_window import MainView
from app.ui.printing.print_dialog import PrintDialog
from app.ui.printing.render import write_pdf
from tests.clinic_fixtures import DOC, FakeClock, clinic_in
from tests.printouts_chart import record_visit
from tests.ui.conftest import open_demo_chart
from tests.ui.helpers import TIMEOUT

SHOTS = Path(os.environ.get("FIELDCHART_SHOTS", "/tmp/fieldchart-shots"))
RENDER_WIDTH = 1050  # pixels across the page of a rendered screenshot


def pdf_text(path: Path) -> str:
    pdf = QPdfDocument()
    assert pdf.load(str(path)) == QPdfDocument.Error.None_
    text = "\n".join(pdf.getAllText(page).text() for page in range(pdf.pageCount()))
    pdf.close()
    return " ".join(text.split())  # the lines as laid out, joined


def page_image(path: Path, shot: str) -> QImage:
    pdf = QPdfDocument()
    assert pdf.load(str(path)) == QPdfDocument.Error.None_
    size = pdf.pagePointSize(0)
    image = pdf.render(0, QSize(RENDER_WIDTH, round(RENDER_WIDTH * size.height() / size.width())))
    pdf.close()
    SHOTS.mkdir(parents=True, exist_ok=True)
    image.save(str(SHOTS / f"printout-{shot}.png"))
    return image


def dark(image: QImage, x: int, y: int) -> bool:
    """Ink: QtPdf leaves the paper transparent, so only an opaque dark pixel counts."""
    color = image.pixelColor(x, y)
    return color.alpha() > 128 and color.lightness() < 128


def qr_read_back(image: QImage, modules: int) -> tuple[tuple[bool, ...], ...]:
    """The modules of the one QR code on a rendered page: its finder patterns are the only
    solid dark runs of seven modules, which give its corners and its module size."""
    long_runs = []
    for y in range(image.height()):
        run = 0
        for x in range(image.width()):
            run = run + 1 if dark(image, x, y) else 0
            if run >= 40:
                long_runs.append((y, x - run + 1))
                break
    top, left = long_runs[0]
    bottom = long_runs[-1][0]
    module = (bottom - top + 1) / modules
    return tuple(
        tuple(
            dark(image, round(left + (c + 0.5) * module), round(top + (r + 0.5) * module))
            for c in range(modules)
        )
        for r in range(modules)
    )


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    with clinic_in(tmp_path / "vault", FakeClock(), catalog=bundled_catalog()) as opened:
        yield opened


EXPECTED = {
    "prescription": (
        "Prescription",
        "Ødegård, Amina",
        "paracetamol 500 mg, oral three times daily",
        "ibuprofen 400 mg, oral twice daily, for 5 days",
        "Allergies Penicillins",
        "Date 21 Nov 2026",
        "Prescriber doc",
    ),
    "referral": (
        "Referral letter",
        "To Mbeya Referral Hospital",
        "Urgency Urgent",
        "Blood pressure not controlled",
        "Vitals: BP 162/101 mmHg",
    ),
    "visit": (
        "Visit summary",
        "Reason headache",
        "BP 162/101 mmHg",
        "I10 Essential (primary) hypertension",
        "Haemoglobin: 11.6 g/dL",
        "Salt intake discussed.",
    ),
    "slip": ("Appointment", "Ødegård, Amina", "Clinician doc"),
    "card": ("Patient card", "Ødegård, Amina", "Born 23 Apr 1980", "Identifier MRN-0001"),
}


def test_each_printout_on_paper(qapp: QApplication, clinic: Clinic, tmp_path: Path) -> None:
    pid = record_visit(clinic)
    printouts = printouts_of(clinic)
    for document, texts in EXPECTED.items():
        printout = printouts.prepare(document, pid, DOC)
        path = tmp_path / f"{document}.pdf"
        write_pdf(printout, path)
        text = pdf_text(path)
        for expected in texts:
            assert expected in text, (document, expected)
        assert "Includes 12 changes not yet sent to the central server" in text, document
        image = page_image(path, document)
        if document == "card":
            assert short_number(pid) in text
            matrix = qr_matrix(pid)
            assert qr_read_back(image, len(matrix) + 0) == matrix


def showing(window: MainView, patient_id: str) -> bool:
    shown = window.chart.current
    return shown is not None and shown.patient.patient_id == patient_id


def test_a_scanned_card_opens_the_chart_and_print_saves_an_audited_pdf(
    qtbot: QtBot, controller: AppController, seeded: Backend, tmp_path: Path
) -> None:
    window, demo_pid = open_demo_chart(qtbot, controller, seeded)
    queries = window.session.clinic.queries
    other = next(p for p in queries.search_patients("") if p.patient_id != demo_pid)
    patients = window.patients
    for typed in (other.patient_id, short_number(demo_pid)):
        patients.focus_search()
        search = patients.search
        qtbot.waitUntil(search.hasFocus, timeout=TIMEOUT)
        QTest.keyClicks(search, typed)  # a USB scanner is a keyboard: it types, then Enter
        QTest.keyClick(search, Qt.Key.Key_Return)
        wanted = other.patient_id if typed == other.patient_id else demo_pid
        qtbot.waitUntil(lambda w=wanted: showing(window, w), timeout=TIMEOUT)  # type: ignore[misc]
    # A typo in the number opens nobody's chart (the check digit is wrong).
    opened = patients.cards_opened
    digits = short_number(other.patient_id).replace(" ", "").replace("-", "")
    patients.focus_search()
    QTest.keyClicks(patients.search, digits[:-1] + str((int(digits[-1]) + 1) % 10))
    QTest.keyClick(patients.search, Qt.Key.Key_Return)
    qtbot.wait(300)
    assert patients.cards_opened == opened
    assert window.chart.current is not None
    assert window.chart.current.patient.patient_id == demo_pid

    menu = window.chart.print_menu
    assert menu.actions_by_document["card"].isEnabled()
    menu.actions_by_document["card"].trigger()
    dialog = menu.last_dialog
    assert isinstance(dialog, PrintDialog)
    qtbot.waitExposed(dialog)
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SHOTS / "print-chart.png"))
    dialog.grab().save(str(SHOTS / "print-dialog.png"))
    out = tmp_path / "card.pdf"
    dialog.path.setFocus()
    dialog.path.selectAll()
    QTest.keyClicks(dialog.path, str(out))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=TIMEOUT)
    assert "Patient card" in pdf_text(out)
    printed = [e for e in queries.audit(patient_id=demo_pid) if e.action == "ChartPrinted"]
    assert [e.detail.split(" ")[0] for e in printed] == ["card"]


def test_a_pdf_path_that_cannot_be_written_is_refused_naming_the_field(
    qtbot: QtBot, controller: AppController, seeded: Backend, tmp_path: Path
) -> None:
    window, _pid = open_demo_chart(qtbot, controller, seeded)
    # The letter of the referral selected on the Referrals tab.
    chart = window.chart
    chart.tabs.setCurrentWidget(chart.referrals)
    selected = chart.referrals.selected_id()
    assert selected is not None
    qtbot.mouseClick(chart.referrals.print_button, Qt.MouseButton.LeftButton)
    dialog = chart.print_menu.last_dialog
    assert dialog is not None and dialog.document == "referral"
    qtbot.waitExposed(dialog)
    assert dialog.item is not None and dialog.item.currentData() == selected
    dialog.path.setText(str(tmp_path / "no-such-folder" / "referral.pdf"))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.message.text() == "PDF file: that folder does not exist"
    dialog.path.setText(str(tmp_path / "referral.txt"))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.message.text().startswith("PDF file:")
    assert not [e for e in window.session.clinic.queries.audit() if e.action == "ChartPrinted"]
    dialog.reject()
