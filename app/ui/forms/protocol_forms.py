"""Declining the hypertension protocol's suggestion: the reason is asked for and required
(the domain refuses a blank one, and the form shows that under the field)."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QWidget

from app.domain.commands import Command, DeclineProtocolSuggestion
from app.domain.hearts.engine import Suggestion
from app.i18n import N_, _, say
from app.services.dto import PatientSummary
from app.ui.forms.base import CommandFormDialog
from app.ui.session import ClinicSession


class DeclineSuggestionDialog(CommandFormDialog):
    """Opens on the reason: Ctrl+Enter declines; the suggestion and reading are shown."""

    COMMAND = DeclineProtocolSuggestion
    SAVE_LABEL = N_("Decline suggestion")

    def __init__(
        self,
        session: ClinicSession,
        patient: PatientSummary,
        suggestion: Suggestion,
        parent: QWidget | None = None,
    ) -> None:
        intro = _(
            "Suggested: {suggestion}.\nBased on BP {blood_pressure}. "
            "The reason is kept in the chart as a note."
        ).format(suggestion=say(suggestion.summary), blood_pressure=suggestion.blood_pressure)
        super().__init__(
            session,
            _("Decline protocol suggestion — {family}, {given}").format(
                family=patient.family, given=patient.given
            ),
            parent,
            intro,
        )
        self.patient_id = patient.patient_id
        self.suggestion = suggestion
        self.reason = self.add_field(
            "reason",
            _("Reason"),
            QLineEdit(self),
            _("Why the suggestion is not followed (required)"),
        )

    def build_command(self) -> Command:
        return DeclineProtocolSuggestion(
            command_id=self.command_id,
            patient_id=self.patient_id,
            vitals_id=self.suggestion.vitals_id or "",
            suggestion=str(self.suggestion.summary),  # the chart's note keeps the English
            reason=self.text(self.reason) or "",
        )
