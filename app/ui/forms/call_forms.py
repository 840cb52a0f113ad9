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
from app.i18n import N_, _, word
from app.services.call_worklist import WorklistRow
from app.ui.chart_text import OUTCOME_TEXT
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.chart_form import choices
from app.ui.session import ClinicSession

# Marked here, translated where shown (outcome_text, the outcome combo).


def outcome_text(outcome: str | None) -> str:
    if outcome is None:
        return ""
    return _("Removed from list") if outcome == "removed" else word(OUTCOME_TEXT, outcome)


def row_label(row: WorklistRow) -> str:
    return _("{name} — {phone} — {missed} {start}").format(
        name=row.patient_name,
        phone=row.phone or _("no phone"),
        missed=row.missed,
        start=row.appointment_start,
    )


class RecordCallDialog(CommandFormDialog):
    COMMAND = RecordCallAttempt
    SAVE_LABEL = N_("Record call")

    def __init__(
        self, session: ClinicSession, row: WorklistRow, parent: QWidget | None = None
    ) -> None:
        super().__init__(session, _("Record call"), parent, row_label(row))
        self.row = row
        options: list[tuple[str, str | None]] = [(_("Choose the outcome…"), None)]
        options += [(_(OUTCOME_TEXT[o]), o) for o in CALL_OUTCOMES]  # a marked table
        self.outcome = self.add_field("outcome", _("Outcome"), choices(self, options))
        self.note = self.add_field("note", _("Note"), QPlainTextEdit(self))
        self.note.setTabChangesFocus(True)
        self.note.setFixedHeight(64)
        example = (session.today() + timedelta(days=3)).isoformat()
        self.next_call_on = self.add_field(
            "next_call_on",
            _("Next call on"),
            QLineEdit(self),
            _(
                "A date like {example}; needed for 'Remind later' and 'No answer', "
                "left empty for moved, died, refused"
            ).format(example=example),
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
    SAVE_LABEL = N_("Remove from list")
    ALIASES: ClassVar[dict[str, str]] = {}

    def __init__(
        self, session: ClinicSession, row: WorklistRow, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            session,
            _("Remove from call list"),
            parent,
            _(
                "{row}\nThe patient stays findable; a later missed appointment "
                "brings them back onto the list."
            ).format(row=row_label(row)),
        )
        self.row = row
        self.reason = self.add_field("reason", _("Reason"), QLineEdit(self))

    def build_command(self) -> Command:
        return RemoveFromWorklist(
            command_id=self.command_id,
            patient_id=self.row.patient_id,
            reason=self.text(self.reason) or "",
        )
