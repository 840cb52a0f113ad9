"""The drafts service: kept per user, stamped by the clinic clock, dropped only on request."""

from __future__ import annotations

from app.services.clinic import Clinic
from app.services.drafts import STALE_AFTER_DAYS, DraftForm
from tests.clinic_fixtures import DESK, DOC, FakeClock

NOTE = DraftForm(
    draft_id="cmd-1",
    form="NoteDialog",
    title="Write note — Ødegård, Amina",
    context={"patient_id": "p-1"},
    fields={"text": {"value": "Fever for three days; no rash.", "shown": True}},
)


def test_a_kept_draft_comes_back_only_to_its_user(clinic: Clinic, clock: FakeClock) -> None:
    clinic.drafts.keep(DOC, [NOTE])
    assert clinic.drafts.pending(DESK) == []
    [draft] = clinic.drafts.pending(DOC)
    assert (draft.draft_id, draft.form, draft.title) == (NOTE.draft_id, NOTE.form, NOTE.title)
    assert draft.context == NOTE.context and draft.fields == NOTE.fields
    assert draft.saved() == clock()
    # Another user cannot discard it; its owner can.
    assert clinic.drafts.discard(DESK, [NOTE.draft_id]) == 0
    assert clinic.drafts.discard(DOC, [NOTE.draft_id]) == 1
    assert clinic.drafts.pending(DOC) == []


def test_keeping_again_replaces_and_drops_in_one_step(clinic: Clinic, clock: FakeClock) -> None:
    other = DraftForm("cmd-2", "VitalsDialog", "Record vitals", {"patient_id": "p-1"}, {})
    clinic.drafts.keep(DOC, [NOTE, other])
    clock.advance(minutes=3)
    changed = DraftForm(NOTE.draft_id, NOTE.form, NOTE.title, NOTE.context, {"text": "longer"})
    clinic.drafts.keep(DOC, [changed], drop=[other.draft_id])
    [draft] = clinic.drafts.pending(DOC)
    assert draft.fields == {"text": "longer"} and draft.saved() == clock()


def test_old_drafts_are_stale_but_still_offered(clinic: Clinic, clock: FakeClock) -> None:
    clinic.drafts.keep(DOC, [NOTE])
    clock.advance(days=STALE_AFTER_DAYS + 1)
    [draft] = clinic.drafts.pending(DOC)
    assert draft.is_stale(clinic.drafts.now())
    assert not draft.is_stale(draft.saved())
