"""The base of every task form opened from a chart, and the inputs several of them share.

Every chart form is built the same way, `Form(session, chart, parent, selected,
selected_text)`, so the chart's actions and the draft registry (reopen.py) open any of them
alike. A form names its TITLE (and INTRO) and lays out its inputs in `add_fields`.
"""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from app.domain.errors import ValidationError
from app.i18n import _
from app.services.dto import ChartView, ItemView
from app.ui.chart_text import describe
from app.ui.forms.base import CommandFormDialog, TimeField, item_combo
from app.ui.session import ClinicSession


class ChartFormDialog(CommandFormDialog):
    """A task form about one patient's chart."""

    TITLE: ClassVar[str] = ""
    INTRO: ClassVar[str] = ""

    def __init__(
        self,
        session: ClinicSession,
        chart: ChartView,
        parent: QWidget | None = None,
        selected: str | None = None,
        selected_text: str = "",
    ) -> None:
        """`selected` preselects an item in the form's picker (`selected_text` describes
        an item the chart's lists no longer hold); forms without a picker ignore both."""
        super().__init__(session, _(self.TITLE), parent, _(self.INTRO) if self.INTRO else "")
        self.chart = chart
        self.patient_id = chart.patient.patient_id
        # Translators: a window title, the form then the patient ("Record vitals — Doe, Jane")
        self.setWindowTitle(
            _("{form} — {family}, {given}").format(
                form=_(self.TITLE), family=chart.patient.family, given=chart.patient.given
            )
        )
        self.add_fields(selected, selected_text)

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        """Lay out the form's inputs (each subclass)."""
        raise NotImplementedError

    # -- inputs several chart forms share --------------------------------------------------

    def live(self, kind: str, status: str | None = None) -> list[ItemView]:
        """The chart's items of `kind` (optionally only those with `status`)."""
        source = {
            "diagnosis": self.chart.problems,
            "allergy": self.chart.allergies,
            "medication": self.chart.medications,
            "encounter": self.chart.encounters,
            "note": self.chart.notes,
            "appointment": self.chart.appointments,
        }.get(kind, [])
        return [i for i in source if status is None or i.status == status]

    def add_time_field(self, name: str, label: str) -> TimeField:
        """A clinical time that means 'now' unless the clinician changes it."""
        return self.add_field(name, label, TimeField(self, self.session.now_q(), touched=False))

    def add_reason_field(self) -> QLineEdit:
        return self.add_field("reason", _("Reason"), QLineEdit(self))

    def add_encounter_field(self) -> QComboBox:
        """Optional link to an encounter in progress (the newest is preselected)."""
        open_ones = self.live("encounter", "in-progress")
        combo = item_combo(self, [("", _("— not linked to an encounter —"))])
        for item in sorted(open_ones, key=lambda i: i.clinical_time, reverse=True):
            combo.addItem(describe(item), item.item_id)
        if open_ones:
            combo.setCurrentIndex(1)
        return self.add_field("encounter_id", _("Encounter"), combo)

    def add_picker(
        self, name: str, label: str, items: list[ItemView], selected: str | None
    ) -> QComboBox:
        """A choice of one of `items`, preselecting `selected`."""
        combo = item_combo(self, [(i.item_id, describe(i)) for i in items], selected)
        return self.add_field(name, label, combo)

    @staticmethod
    def picked(combo: QComboBox, field: str, message: str) -> str:
        """The chosen item's id; `message` (translated, e.g. "Choose the problem") if none."""
        value = combo.currentData()
        if not value:
            raise ValidationError(message, field)
        return str(value)


def choices(parent: QWidget, options: list[tuple[str, str | None]]) -> QComboBox:
    """A fixed combo of (text, value), the first preselected."""
    combo = QComboBox(parent)
    for text, value in options:
        combo.addItem(text, value)
    combo.setCurrentIndex(0)
    return combo
