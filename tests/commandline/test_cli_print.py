"""`fieldchart print DOCUMENT PATIENT --out FILE.pdf`, the real CLI in separate processes: the
PDF is written (its text read back with QtPdf: the name, the card number, the unsynced
warning), the print is in `fieldchart audit`, and an --out that is not a .pdf is refused naming
the option."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtPdf import QPdfDocument

from app.services.printouts.card_code import short_number
from tests.commandline.test_cli_clinic import exec_as, results, run_cli, vault_with_clinician


def pdf_text(path: Path) -> str:
    pdf = QPdfDocument()
    assert pdf.load(str(path)) == QPdfDocument.Error.None_
    text = "\n".join(pdf.getAllText(page).text() for page in range(pdf.pageCount()))
    pdf.close()
    return " ".join(text.split())


def test_fieldchart_print_writes_the_pdf_and_audits_it(tmp_path: Path) -> None:
    data = vault_with_clinician(tmp_path / "vault")
    register = {
        "type": "RegisterPatient",
        "given": "Zawadi",
        "family": "Mushi",
        "birth_date": "1990-06-01",
        "sex": "female",
    }
    pid = results(exec_as(data, "doc", register))[0]["patient_id"]
    out = tmp_path / "card.pdf"
    done = run_cli("print", "card", pid, "--data-dir", data, "--out", out, user="doc")
    assert done.returncode == 0, done.stderr
    assert "Patient card written to" in done.stdout and "1 change(s) not yet sent" in done.stdout
    text = pdf_text(out)
    assert "Mushi, Zawadi" in text and short_number(pid) in text
    assert "Includes 1 change not yet sent to the central server" in text
    audit = run_cli("audit", "--data-dir", data, user="doc")
    assert "ChartPrinted" in audit.stdout or "Chart printed" in audit.stdout, audit.stdout
    bad = run_cli("print", "card", pid, "--data-dir", data, "--out", tmp_path / "x.txt", user="doc")
    assert bad.returncode != 0 and "--out" in bad.stderr
