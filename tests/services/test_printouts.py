"""Printouts as built from the chart (app/services/printouts): what each document says, the
unsynced warning, the patient card's QR payload and short number (both found by the patient
search), the audit entry of each print, and bad input refused naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import segno

from app.domain.errors import NotFoundError, RoleError, ValidationError
from app.i18n import current_language, pgettext, using_language
from app.services.clinic import Clinic
from app.services.printouts.card_code import (
    luhn_digit,
    parse_short_number,
    qr_matrix,
    short_number,
)
from app.services.printouts.service import Printouts, printouts_of
from app.store import outbox
from app.store.database import write_transaction
from app.store.reference_data import bundled_catalog
from tests.clinic_fixtures import ADMIN, DESK, DOC, FakeClock, clinic_in, register
from tests.printouts_chart import record_visit


@pytest.fixture
def clinic(tmp_path: Path, clock: FakeClock) -> Iterator[Clinic]:
    with clinic_in(tmp_path / "vault", clock, catalog=bundled_catalog()) as opened:
        yield opened


@pytest.fixture
def printouts(clinic: Clinic) -> Printouts:
    return printouts_of(clinic)


def mark_all_synced(clinic: Clinic) -> None:
    with write_transaction(clinic.vault.engine) as conn:
        for entry in outbox.with_status(conn, outbox.PENDING):
            outbox.set_status(conn, entry.command_id, outbox.SYNCED)


def test_prescription_lists_the_chosen_medicines_prescriber_and_allergies(
    clinic: Clinic, printouts: Printouts
) -> None:
    pid = record_visit(clinic)
    every = printouts.prepare("prescription", pid, DOC)
    assert every.item_ids == ("rx-1", "rx-2")
    assert "paracetamol 500 mg, oral three times daily" in every.html
    assert "ibuprofen 400 mg, oral twice daily, for 5 days" in every.html
    assert "Penicillins" in every.html and "Prescriber" in every.html
    one = printouts.prepare("prescription", pid, DOC, ["rx-2"])
    assert one.item_ids == ("rx-2",) and "paracetamol" not in one.html


def test_referral_letter_visit_summary_and_slip(clinic: Clinic, printouts: Printouts) -> None:
    pid = record_visit(clinic)
    letter = printouts.prepare("referral", pid, DOC).html
    for text in ("Mbeya Referral Hospital", "Urgent", "Blood pressure not controlled"):
        assert text in letter
    assert "BP 162/101 mmHg" in letter and "(I10)" in letter  # the summary recorded with it
    visit = printouts.prepare("visit", pid, DOC).html
    for text in ("headache", "BP 162/101 mmHg", "I10", "paracetamol 500 mg", "11.6 g/dL"):
        assert text in visit
    assert "Salt intake discussed." in visit and "ibuprofen" not in visit  # not in this visit
    slip = printouts.prepare("slip", pid, DESK)
    assert slip.item_ids == ("ap-1",) and "doc" in slip.html


def test_a_chart_with_unsynced_changes_says_so_on_the_page(
    clinic: Clinic, printouts: Printouts
) -> None:
    pid = record_visit(clinic)
    pending = printouts.prepare("visit", pid, DOC)
    assert pending.pending_changes == 12
    assert "Includes 12 changes not yet sent to the central server" in pending.html
    mark_all_synced(clinic)
    synced = printouts.prepare("visit", pid, DOC)
    assert synced.pending_changes == 0 and "not yet sent" not in synced.html


def test_card_qr_holds_the_patient_id_and_the_search_finds_it(
    clinic: Clinic, printouts: Printouts
) -> None:
    pid = record_visit(clinic)
    other = register(clinic, patient_id="pat-print-2", given="Neema")
    card = printouts.prepare("card", pid, DESK)
    assert card.qr_payload == pid
    assert card.qr_matrix == qr_matrix(pid)
    # A full QR code (segno.make would pick a Micro QR for a short id: few scanners read it).
    expected = segno.make_qr(pid, error="m", boost_error=False)
    assert card.qr_matrix == tuple(tuple(bool(v) for v in row) for row in expected.matrix)
    number = short_number(pid)
    assert number in card.html and "MRN-0001" in card.html
    # What a scanner types, and the number read off the card, name exactly this patient.
    assert [p.patient_id for p in clinic.queries.patients_of_card(pid)] == [pid]
    assert [p.patient_id for p in clinic.queries.patients_of_card(number)] == [pid]
    assert [p.patient_id for p in clinic.queries.patients_of_card(number.replace(" ", ""))] == [pid]
    assert pid in [p.patient_id for p in clinic.queries.search_patients(number)]
    assert other not in [p.patient_id for p in clinic.queries.search_patients(number)]


def test_a_mistyped_card_number_finds_nobody() -> None:
    number = short_number("pat-print-1")
    digits = number.replace(" ", "").replace("-", "")
    assert parse_short_number(number) == digits
    assert luhn_digit(digits[:-1]) == digits[-1]
    for position in range(10):  # any one digit wrong: the check digit catches it
        wrong = digits[:position] + str((int(digits[position]) + 3) % 10) + digits[position + 1 :]
        assert parse_short_number(wrong) is None
    swapped = digits[1] + digits[0] + digits[2:]
    assert digits[0] == digits[1] or parse_short_number(swapped) is None
    assert parse_short_number("12345") is None


def test_every_print_is_audited_with_its_document(clinic: Clinic, printouts: Printouts) -> None:
    pid = record_visit(clinic)
    for document in ("prescription", "referral", "visit", "slip", "card"):
        printouts.record_printed(printouts.prepare(document, pid, DOC), DOC)
    printed = [e for e in clinic.queries.audit(patient_id=pid) if e.action == "ChartPrinted"]
    assert [(e.user, e.detail) for e in reversed(printed)] == [
        ("doc", f"{d} (12 not yet sent)")
        for d in ("prescription", "referral", "visit", "slip", "card")
    ]
    assert {e.patient_name for e in printed} == {"Ødegård, Amina"}


def test_bad_input_names_the_field_and_records_nothing(
    clinic: Clinic, printouts: Printouts
) -> None:
    pid = record_visit(clinic)
    bare = register(clinic, patient_id="pat-print-3", given="Baraka")
    before = len(clinic.queries.audit())
    with pytest.raises(ValidationError) as bad:
        printouts.prepare("poster", pid, DOC)
    assert bad.value.field == "document"
    with pytest.raises(NotFoundError) as missing:
        printouts.prepare("referral", pid, DOC, ["ref-404"])
    assert missing.value.field == "referral"
    with pytest.raises(NotFoundError) as none:
        printouts.prepare("prescription", bare, DOC)
    assert none.value.field == "prescription" and "Baraka" not in str(none.value)
    with pytest.raises(RoleError):
        printouts.prepare("card", pid, ADMIN)
    assert len(clinic.queries.audit()) == before


@pytest.mark.parametrize("language", ["fr", "sw", "ar"])
def test_a_printout_can_be_in_the_patients_language(
    clinic: Clinic, printouts: Printouts, language: str
) -> None:
    """The user reads English; the patient's prescription is printed in the patient's
    language, and the user's own language is untouched afterwards."""
    pid = record_visit(clinic)
    english = printouts.prepare("prescription", pid, DOC)
    theirs = printouts.prepare("prescription", pid, DOC, language=language)
    with using_language(language):
        prescriber = pgettext("printed label", "Prescriber")
    assert prescriber != "Prescriber" and prescriber in theirs.html
    assert "Prescriber" not in theirs.html and "Prescriber" in english.html
    assert "paracetamol" in theirs.html  # the medicine as prescribed
    assert current_language() == "en"
