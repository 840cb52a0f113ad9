"""Mark any item of a chart entered in error."""

from __future__ import annotations

from app.domain.commands import Command, MarkEnteredInError
from app.i18n import N_, _
from app.ui.chart_text import labelled
from app.ui.forms.base import item_combo
from app.ui.forms.chart_form import ChartFormDialog


class EnteredInErrorDialog(ChartFormDialog):
    COMMAND = MarkEnteredInError
    SAVE_LABEL = N_("Mark entered in error")
    TITLE = N_("Mark entered in error")
    INTRO = N_("The item stays in the timeline, struck through, and leaves the summary.")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        chart = self.chart
        items = [
            *chart.problems,
            *chart.allergies,
            *chart.medications,
            *chart.encounters,
            *chart.notes,
            *chart.test_results,
            *chart.immunizations,
            *chart.appointments,
            *chart.referrals,
        ]
        if chart.last_vitals is not None:
            items.append(chart.last_vitals)
        choices = [(i.item_id, labelled(i)) for i in items]
        if selected and all(item_id != selected for item_id, _ in choices):
            choices.insert(0, (selected, selected_text or selected))  # e.g. older vitals
        self.item = self.add_field("item_id", _("Item"), item_combo(self, choices, selected))
        self.reason = self.add_reason_field()

    def build_command(self) -> Command:
        return MarkEnteredInError(
            command_id=self.command_id,
            patient_id=self.patient_id,
            item_id=self.picked(self.item, "item_id", _("Choose the item")),
            reason=self.text(self.reason) or "",
        )
