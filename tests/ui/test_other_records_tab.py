"""The chart's "Other records" tab (issue 16, part 5): other systems' records a sync brought in
are listed read-only; typing in the filter box narrows the rows; selecting the discharge
summary shows its PDF from memory."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtPdf import QPdfDocument
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.services.clinic import Clinic
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from sync.fhir_mapper import FhirResourceMapper
from tests.sync.foreign_seed import well_formed
from tests.ui.conftest import CLINICIAN, CLINICIAN_PASS, open_as, register_patient
from tests.ui.helpers import TIMEOUT, cell

SHOTS = Path(os.environ.get("FIELDCHART_SHOTS", "/tmp/fieldchart-shots"))


def received_from_another_system(clinic: Clinic, patient_id: str) -> None:
    """The seeded foreign records, recorded as a pull records them (mapper, then gateway)."""
    mapper = FhirResourceMapper()
    batch = []
    for n, (_text, resource) in enumerate(well_formed(patient_id)):
        stored = copy.deepcopy(resource)
        stored["id"] = f"foreign-{n}"
        stored["meta"] = {"versionId": "1", "lastUpdated": "2026-11-28T10:00:00.000Z"}
        batch.append(mapper.incoming(stored))
        if resource["resourceType"] == "Procedure":  # and one the hospital retracted
            retracted = {**stored, "id": "foreign-retracted", "status": "entered-in-error"}
            retracted["code"] = {"text": "Cholecystectomy"}
            batch.append(mapper.incoming(retracted))
    clinic.sync_gateway.record_received(batch)


def test_other_records_are_listed_filtered_by_typing_and_a_pdf_opens(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    patient_id = register_patient(seeded)
    clinic = seeded.unlock(CLINICIAN, CLINICIAN_PASS)
    received_from_another_system(clinic, patient_id)
    clinic.close()
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window.resize(1366, 768)
    window.open_patient(patient_id)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    chart = window.chart
    tabs = chart.tabs
    index = next(i for i in range(tabs.count()) if tabs.tabText(i) == "Other records")
    bar = tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert tabs.currentIndex() == index
    tab = chart.other_records
    shown_in_tab = len(chart.current.other_records)  # type: ignore[union-attr]
    # Eight records and a retracted one; lab tests and immunizations FieldChart models show
    # in their own tabs instead.
    assert tab.table.rowCount() == shown_in_tab >= 7

    # A retracted record stays listed, struck through and saying so.
    [row] = [r for r in range(tab.table.rowCount()) if "Cholecystectomy" in cell(tab.table, r, 1)]
    assert cell(tab.table, row, 1) == "[entered in error] Cholecystectomy"
    assert tab.table.item(row, 1).font().strikeOut()  # type: ignore[union-attr]

    tab.filter.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(tab.filter.hasFocus, timeout=TIMEOUT)
    QTest.keyClicks(tab.filter, "regional")
    rows = tab.visible_rows()
    assert rows and all("Regional Referral Hospital" in r for r in rows)
    assert tab.table.rowCount() == len(rows) < shown_in_tab
    assert "match" in tab.count.text()

    QTest.keyClick(tab.filter, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(tab.filter, "discharge")
    assert [cell(tab.table, 0, 0)] == ["Document"] and tab.table.rowCount() == 1
    # To the table and onto the row with the keyboard: the PDF shows from memory.
    QTest.keyClick(tab.filter, Qt.Key.Key_Tab)
    qtbot.waitUntil(tab.table.hasFocus, timeout=TIMEOUT)
    QTest.keyClick(tab.table, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: tab.detail.currentWidget() is tab.pdf_view, timeout=TIMEOUT)
    assert tab.pdf_document.status() is QPdfDocument.Status.Ready
    assert tab.pdf_document.pageCount() == 1
    assert "appendectomy" in tab.pdf_document.getAllText(0).text()
    assert "Discharge summary.pdf" in tab.caption.text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    qtbot.wait(300)  # the view renders its page in the background
    assert window.grab().save(str(SHOTS / "other-records-pdf-1366x768.png"))
    QTest.keyClick(tab.table, Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(tab.filter, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(tab.filter, Qt.Key.Key_Delete)
    assert tab.table.rowCount() == shown_in_tab
    tab.table.selectRow(0)
    assert "Read-only" in tab.detail_text.toPlainText()
    assert window.grab().save(str(SHOTS / "other-records-1366x768.png"))
