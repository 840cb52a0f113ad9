"""DeclineProtocolSuggestion: the clinician says no to the protocol's suggestion, and why.

Decided here (registered in app.domain.decide): the reading must be a blood pressure still
on the chart, the reason is required, and a reading's suggestion is declined once. The
decision also adds a progress note with the same words, so the decline reaches the server
(as a DocumentReference) and every other device; the decline event itself stays on this
device's log and marks the suggestion for that reading as declined.
"""

from __future__ import annotations

from typing import Any

from app.domain import commands as c
from app.domain import values as v
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.decide_clinical import new_item_id
from app.domain.decision import Decision, require_item, require_registered
from app.domain.errors import AlreadyDoneError, ValidationError
from app.domain.events import NoteAdded, ProtocolSuggestionDeclined
from app.domain.wording import N_, t

# i18n: ignore (stored in the chart as the note's text)
NOTE_TEXT = "Hypertension protocol suggestion declined: {suggestion}. Reason: {reason}"


def active_decline(chart: PatientChart, vitals_id: str) -> dict[str, Any] | None:
    """The decline recorded for the suggestion based on a reading, unless its note was since
    marked entered in error (the decline was a mistake: the suggestion is open again)."""
    declined = chart.protocol_declines.get(vitals_id)
    if declined is None:
        return None
    note = chart.items.get(str(declined.get("note_id")))
    return None if note is not None and note.entered_in_error else declined


def decline_suggestion(
    chart: PatientChart | None, cmd: c.DeclineProtocolSuggestion, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    vitals_id = v.required_text(cmd.vitals_id, "vitals_id", N_("Blood pressure reading"))
    reading = require_item(chart, vitals_id, "vitals", "vitals_id", N_("blood pressure reading"))
    measurements = reading.data.get("measurements") or {}
    if "systolic" not in measurements or "diastolic" not in measurements:
        raise ValidationError(t("This vitals set has no blood pressure"), "vitals_id")
    suggestion = v.required_text(cmd.suggestion, "suggestion", N_("Suggestion"), max_len=300)
    reason = v.required_text(cmd.reason, "reason", N_("Reason"), max_len=500)
    if active_decline(chart, vitals_id) is not None:
        raise AlreadyDoneError(
            t("The suggestion for this blood pressure reading was already declined"), "vitals_id"
        )
    note_id = new_item_id(chart, cmd.note_id, "note_id", ctx)
    now = v.iso(ctx.now)
    return Decision(
        [
            ProtocolSuggestionDeclined(
                vitals_id=vitals_id,
                suggestion=suggestion,
                reason=reason,
                declined_at=now,
                note_id=note_id,
            ),
            NoteAdded(
                note_id=note_id,
                text=NOTE_TEXT.format(suggestion=suggestion.rstrip("."), reason=reason),
                written_at=now,
                encounter_id=reading.data.get("encounter_id"),
            ),
        ],
        now,
    )
