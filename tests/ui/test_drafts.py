"""Unsaved work survives the lock, comes back only to its user, and Esc asks before discarding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.services.drafts import STALE_AFTER_DAYS
from app.ui import confirm
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.forms import reopen
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.encounter_forms import NoteDialog, VitalsDialog
from app.ui.forms.schedule_forms import BookFollowUpDialog
from app.ui.main_window import MainView
from app.ui.unlock_dialog import UnlockDialog
from tests.clock import SettableClock
from tests.ui.conftest import (
    CLINICIAN,
    CLINICIAN_PASS,
    STAFF,
    STAFF_PASS,
    open_as,
    register_patient,
)
from tests.ui.helpers import TIMEOUT, fill

MARKER = "Qzvbnq"  # a word no file of the data directory may hold in plaintext
NOTE = (
    f"{MARKER} presented with three days of fever, headache and joint pains. "
    "No rash, no neck stiffness. Drinking well; passing urine normally. "
    "Malaria RDT positive; started on artemether-lumefantrine, first dose given here. "
    "Advised fluids, paracetamol for fever, and to return at once if vomiting or drowsy."
)


@dataclass
class Asked:
    """Stands in for the question box: records each question, answers from a queue (or
    keeps the answer callback for the test to call)."""

    answers: list[str] = field(default_factory=list)
    questions: list[confirm.Question] = field(default_factory=list)
    waiting: list[confirm.Answer] = field(default_factory=list)

    def __call__(self, parent: QWidget, question: confirm.Question, answer: confirm.Answer) -> None:
        self.questions.append(question)
        if self.answers:
            answer(self.answers.pop(0))
        else:
            self.waiting.append(answer)


@pytest.fixture
def asked() -> Iterator[Asked]:
    fake = Asked()
    previous = confirm.use(fake)
    yield fake
    confirm.use(previous)


def _open_note(qtbot: QtBot, window: MainView, patient_id: str) -> NoteDialog:
    chart = window.chart
    chart.show_patient(patient_id)
    qtbot.waitUntil(lambda: chart.current is not None, timeout=TIMEOUT)
    chart.chart_actions.last_form = None
    chart.chart_actions.actions["note"].trigger()
    qtbot.waitUntil(lambda: chart.chart_actions.last_form is not None, timeout=TIMEOUT)
    form = chart.chart_actions.last_form
    assert isinstance(form, NoteDialog)
    qtbot.waitUntil(form.isVisible, timeout=TIMEOUT)
    return form


def _type_note(qtbot: QtBot, form: NoteDialog) -> None:
    """Type with the keyboard into the field that has the focus (the note, first in the form;
    a click puts it there where the form has not focused it yet)."""
    if form.focusWidget() is not form.body:
        QTest.mouseClick(form.body.viewport(), Qt.MouseButton.LeftButton)
    focused = form.focusWidget()
    assert focused is form.body
    QTest.keyClicks(focused, NOTE)
    assert form.body.toPlainText() == NOTE


def _clinicians_note(qtbot: QtBot, controller: AppController, seeded: Backend) -> NoteDialog:
    """A patient registered; the clinician signs in and opens a note on them."""
    patient_id = register_patient(seeded)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    return _open_note(qtbot, window, patient_id)


def _note_typed_by_the_clinician(qtbot: QtBot, controller: AppController, seeded: Backend) -> None:
    """The clinician's note on a new patient, typed and not saved."""
    _type_note(qtbot, _clinicians_note(qtbot, controller, seeded))


def _idle_lock(qtbot: QtBot, controller: AppController) -> None:
    """Drive the idle check directly: no input since the lock was armed, time is up."""
    timeout = controller.idle.timeout_ms
    controller.idle.set_timeout_ms(0)
    controller.idle._tick()
    controller.idle.set_timeout_ms(timeout)  # or the next session would lock at once
    qtbot.waitUntil(lambda: controller.window is None, timeout=TIMEOUT)
    assert isinstance(controller.dialog, UnlockDialog)


def _restored(qtbot: QtBot, controller: AppController, count: int = 1) -> list[CommandFormDialog]:
    qtbot.waitUntil(lambda: len(controller.drafts.restored) >= count, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    return controller.drafts.restored


def _open_forms(window: MainView) -> list[CommandFormDialog]:
    return [f for f in window.findChildren(CommandFormDialog) if f.isVisible()]


def _plaintext_hits(*places: Path) -> list[str]:
    found = []
    for place in places:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
        found += [str(p) for p in files if MARKER.encode() in p.read_bytes()]
    return found


def test_a_note_typed_before_the_idle_lock_comes_back_to_the_same_user(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    asked: Asked,
    settings_path: Path,
) -> None:
    patient_id = register_patient(seeded)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    form = _open_note(qtbot, window, patient_id)
    _type_note(qtbot, form)
    command_id, title = form.command_id, form.windowTitle()

    _idle_lock(qtbot, controller)
    assert asked.questions == []  # locking never asks: it keeps the draft instead
    # The draft is in the vault, encrypted: no file of the data directory, nor the
    # preferences file, holds what was typed.
    assert _plaintext_hits(seeded.data_dir, settings_path) == []

    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    [again] = _restored(qtbot, controller)
    assert isinstance(again, NoteDialog) and again.isVisible()
    assert again.body.toPlainText() == NOTE
    assert again.windowTitle() == title and again.command_id == command_id
    assert again.draft_notice.text().startswith(f"Your unsaved changes to {title} were restored")
    assert controller.drafts.notice == again.draft_notice.text()
    assert asked.questions == []  # the same user, straight back: no question
    qtbot.waitUntil(lambda: window.chart.patient_id == patient_id, timeout=TIMEOUT)

    # Saving it records the note, and the draft is gone: the next unlock brings nothing back.
    again.submit()
    qtbot.waitUntil(lambda: again.last_changes is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    controller.lock()
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    assert controller.drafts.restored == [] and _open_forms(window) == []
    assert asked.questions == []


def test_another_user_sees_nothing_and_the_owner_gets_the_draft_back(
    qtbot: QtBot, controller: AppController, seeded: Backend, asked: Asked
) -> None:
    _note_typed_by_the_clinician(qtbot, controller, seeded)
    _idle_lock(qtbot, controller)

    window = open_as(controller, qtbot, STAFF, STAFF_PASS)
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    assert controller.drafts.restored == [] and _open_forms(window) == []
    assert asked.questions == []
    controller.lock()

    # The owner is asked (someone else signed in meanwhile) and chooses "Not now" ...
    asked.answers = ["later"]
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    qtbot.waitUntil(lambda: len(asked.questions) == 1, timeout=TIMEOUT)
    question = asked.questions[0]
    assert question.text == "You have 1 unsaved form from an earlier session."
    assert "• Write note — Otieno, Juma (from " in question.detail
    assert [key for key, _ in question.choices] == ["restore", "discard", "later"]
    assert controller.drafts.restored == [] and _open_forms(window) == []
    controller.lock()

    # ... so it is offered again next time, and restored on request.
    asked.answers = ["restore"]
    open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    [again] = _restored(qtbot, controller)
    assert len(asked.questions) == 2
    assert isinstance(again, NoteDialog) and again.body.toPlainText() == NOTE


def test_discarding_offered_drafts_drops_them(
    qtbot: QtBot, controller: AppController, seeded: Backend, asked: Asked
) -> None:
    _note_typed_by_the_clinician(qtbot, controller, seeded)
    controller.lock()
    open_as(controller, qtbot, STAFF, STAFF_PASS)
    controller.lock()
    asked.answers = ["discard"]
    open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    qtbot.waitUntil(lambda: len(asked.questions) == 1 and controller.ops.idle, timeout=TIMEOUT)
    controller.lock()
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=TIMEOUT)
    assert len(asked.questions) == 1 and _open_forms(window) == []


def test_every_kind_of_field_comes_back_as_it_was(
    qtbot: QtBot, controller: AppController, seeded: Backend, asked: Asked
) -> None:
    patient_id = register_patient(seeded)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    chart = window.chart
    chart.show_patient(patient_id)
    qtbot.waitUntil(lambda: chart.current is not None, timeout=TIMEOUT)
    chart.chart_actions.open("vitals")
    vitals = chart.chart_actions.last_form
    assert isinstance(vitals, VitalsDialog)
    fill(vitals, systolic="128", heart_rate="88", taken_at="2026-11-20T08:15:00+00:00")
    before = vitals.field_values()
    assert before["taken_at"]["value"]["touched"] is True
    controller.lock()

    open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    [again] = _restored(qtbot, controller)
    assert isinstance(again, VitalsDialog)
    assert again.field_values() == before
    assert again.has_changes()


def test_esc_with_changes_asks_and_keep_editing_keeps_the_text(
    qtbot: QtBot, controller: AppController, seeded: Backend, asked: Asked
) -> None:
    form = _clinicians_note(qtbot, controller, seeded)
    _type_note(qtbot, form)

    asked.answers = ["keep"]
    QTest.keyClick(form.body, Qt.Key.Key_Escape)
    assert [q.text for q in asked.questions] == [f"Discard your changes to {form.windowTitle()}?"]
    assert [label for _, label in asked.questions[0].choices] == ["Keep editing", "Discard"]
    assert form.isVisible() and form.body.toPlainText() == NOTE

    # Cancel and the window's close button ask too; "Discard" closes the form.
    asked.answers = ["keep"]
    form.buttons.button(form.buttons.StandardButton.Cancel).click()
    assert len(asked.questions) == 2 and form.isVisible()
    form.close()
    assert len(asked.questions) == 3 and form.isVisible()
    assert len(asked.waiting) == 1  # the close button's question is still open
    asked.waiting.pop()("discard")
    assert not form.isVisible()


def test_esc_without_changes_closes_at_once(
    qtbot: QtBot, controller: AppController, seeded: Backend, asked: Asked
) -> None:
    patient_id = register_patient(seeded)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    form = _open_note(qtbot, window, patient_id)
    QTest.keyClick(form.body, Qt.Key.Key_Escape)
    assert asked.questions == [] and not form.isVisible()
    # A form typed into and emptied again has no changes either.
    form = _open_note(qtbot, window, patient_id)
    QTest.keyClicks(form.body, "x")
    QTest.keyClick(form.body, Qt.Key.Key_Backspace)
    QTest.keyClick(form.body, Qt.Key.Key_Escape)
    assert asked.questions == [] and not form.isVisible()


def test_a_registration_form_comes_back_and_saving_it_opens_the_chart(
    qtbot: QtBot, controller: AppController, seeded: Backend, asked: Asked
) -> None:
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window.new_patient()
    form = window.last_form
    assert form is not None
    fill(form, given="Neema", family="Mollel", birth_date="1990-05-02", sex="female")
    controller.lock()

    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    [again] = _restored(qtbot, controller)
    assert again.windowTitle() == "New patient"
    assert {k: v["value"] for k, v in again.field_values().items() if k != "sex"} == {
        "given": "Neema",
        "family": "Mollel",
        "birth_date": "1990-05-02",
        "phone": "",
        "address": "",
        "identifier_system": {"data": None, "text": "National ID"},
        "identifier_value": "",
    }
    assert again.field_values()["sex"]["value"]["data"] == "female"
    again.submit()
    qtbot.waitUntil(lambda: again.last_changes is not None, timeout=TIMEOUT)
    assert again.last_changes is not None
    patient_id = again.last_changes.patient_id
    qtbot.waitUntil(lambda: window.chart.patient_id == patient_id, timeout=TIMEOUT)


def test_the_default_question_is_a_box_whose_buttons_answer(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    answers: list[str] = []
    question = confirm.Question(
        "Discard your changes to Write note?",
        (("keep", "Keep editing"), ("discard", "Discard")),
        escape="keep",
    )
    for label, expected in (("Discard", "discard"), (None, "keep")):
        confirm.ask(window, question, answers.append)
        box = window.findChild(QMessageBox, "confirmQuestion")
        assert isinstance(box, QMessageBox) and box.isVisible()
        assert box.defaultButton().text() == "Keep editing"  # Enter keeps the work
        if label is None:
            box.reject()  # Esc / the close button
        else:
            next(b for b in box.buttons() if b.text() == label).click()
        assert answers[-1] == expected
        qtbot.waitUntil(lambda: window.findChild(QMessageBox, "confirmQuestion") is None)


def test_a_follow_up_booked_from_the_schedule_keeps_its_patient_search(
    qtbot: QtBot, controller: AppController, seeded: Backend, asked: Asked
) -> None:
    patient_id = register_patient(seeded)
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window.schedule.book()
    form = window.schedule.last_form
    assert isinstance(form, BookFollowUpDialog) and form.picker is not None
    picker = form.picker
    QTest.keyClicks(picker.query, "Otieno")
    qtbot.waitUntil(lambda: picker.patient_id() == patient_id, timeout=TIMEOUT)
    fill(form, reason="Review the malaria treatment")
    controller.lock()

    open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    [again] = _restored(qtbot, controller)
    assert isinstance(again, BookFollowUpDialog) and again.picker is not None
    assert again.picker.query.text() == "Otieno"
    # The search runs again from the restored text and finds the patient.
    qtbot.waitUntil(lambda: again.picker.patient_id() == patient_id, timeout=TIMEOUT)  # type: ignore[union-attr]
    assert again.field_values()["reason"]["value"] == "Review the malaria treatment"


def test_an_old_draft_is_offered_with_its_age_even_to_the_same_user(
    qtbot: QtBot, controller: AppController, seeded: Backend, asked: Asked, clock: SettableClock
) -> None:
    _note_typed_by_the_clinician(qtbot, controller, seeded)
    controller.lock()
    clock.advance(days=STALE_AFTER_DAYS + 6)
    asked.answers = ["restore"]
    open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    [again] = _restored(qtbot, controller)
    [question] = asked.questions
    assert f"— {STALE_AFTER_DAYS + 6} days old)" in question.detail
    assert isinstance(again, NoteDialog) and again.body.toPlainText() == NOTE


def test_a_form_that_cannot_be_captured_does_not_stop_the_lock(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    asked: Asked,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _note_typed_by_the_clinician(qtbot, controller, seeded)

    def broken(form: CommandFormDialog) -> None:
        raise RuntimeError("cannot describe")

    monkeypatch.setattr(reopen, "describe", broken)
    controller.lock()
    assert controller.window is None and controller.session is None
    assert isinstance(controller.dialog, UnlockDialog)
