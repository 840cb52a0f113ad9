"""Forms of the follow-up call worklist: record a call (outcome, note, next call date) and
take a patient off the list with a reason. Both open with the focus on their first field."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QWidget

from app.domain.commands import (
    CALL_OUTCOMES,
    Command,
    RecordCallAttempt,
    RemoveFromWorklist,
)
from app.services.call_worklist import WorklistRow
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.chart_form import choices
from app.ui.session import ClinicSession

OUTCOME_TEXT = {
    "agreed-to-come": "Agreed to come",
    "remind-later": "Remind later",
    "wrong-number": "Wrong number",
    "no-answer": "No answer",
    "moved": "Moved away",
    "died": "Died",
    "refused": "Refused",
}


def outcome_text(outcome: str | None) -> str:
    if outcome is None:
        return ""
    return OUTCOME_TEXT.get(outcome, "Removed from list" if outcome == "removed" else outcome)


def row_label(row: WorklistRow) -> str:
    return f"{row.patient_name} — {row.phone or 'no phone'} — {row.missed} {row.appointment_start}"


class RecordCallDialog(CommandFormDialog):
    COMMAND = RecordCallAttempt
    SAVE_LABEL = "Record call"

    def __init__(
        self, session: ClinicSession, row: WorklistRow, parent: QWidget | None = None
    ) -> None:
        super().__init__(session, "Record call", parent, row_label(row))
        self.row = row
        options: list[tuple[str, str | None]] = [("Choose the outcome…", None)]
        options += [(OUTCOME_TEXT[o], o) for o in CALL_OUTCOMES]
        self.outcome = self.add_field("outcome", "Outcome", choices(self, options))
        self.note = self.add_field("note", "Note", QPlainTextEdit(self))
        self.note.setTabChangesFocus(True)
        self.note.setFixedHeight(64)
        example = (session.today() + timedelta(days=3)).isoformat()
        self.next_call_on = self.add_field(
            "next_call_on",
            "Next call on",
            QLineEdit(self),
            f"A date like {example}; needed for 'Remind later' and 'No answer', "
            "left empty for moved, died, refused",
        )

    def build_command(self) -> Command:
        return RecordCallAttempt(
            command_id=self.command_id,
            patient_id=self.row.patient_id,
            appointment_id=self.row.appointment_id,
            outcome=self.text(self.outcome) or "",
            note=self.text(self.note),
            next_call_on=self.text(self.next_call_on),
        )


class RemoveFromListDialog(CommandFormDialog):
    COMMAND = RemoveFromWorklist
    SAVE_LABEL = "Remove from list"
    ALIASES: ClassVar[dict[str, str]] = {}

    def __init__(
        self, session: ClinicSession, row: WorklistRow, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            session,
            "Remove from call list",
            parent,
            row_label(row) + "\nThe patient stays findable; a later missed appointment "
            "brings them back onto the list.",
        )
        self.row = row
        self.reason = self.add_field("reason", "Reason", QLineEdit(self))

    def build_command(self) -> Command:
        return RemoveFromWorklist(
            command_id=self.command_id,
            patient_id=self.row.patient_id,
            reason=self.text(self.reason) or "",
        )
