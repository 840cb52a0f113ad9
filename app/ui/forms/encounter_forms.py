"""What a clinician records during a visit: start and finish an encounter, vitals, a note."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QPlainTextEdit

from app.domain.commands import (
    VITAL_FIELDS,
    AddNote,
    Command,
    FinishEncounter,
    RecordVitals,
    StartEncounter,
)
from app.i18n import N_, _
from app.ui.formatting import VITALS
from app.ui.forms.chart_form import ChartFormDialog


class StartEncounterDialog(ChartFormDialog):
    COMMAND = StartEncounter
    TITLE = N_("Start encounter")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.reason = self.add_field("reason", _("Reason for visit"), QLineEdit(self))
        self.started = self.add_time_field("started_at", _("Started"))

    def build_command(self) -> Command:
        return StartEncounter(
            command_id=self.command_id,
            patient_id=self.patient_id,
            reason=self.text(self.reason),
            started_at=self.started.iso_or_none(),
        )


class FinishEncounterDialog(ChartFormDialog):
    COMMAND = FinishEncounter
    TITLE = N_("Finish encounter")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.encounter = self.add_picker(
            "encounter_id", _("Encounter"), self.live("encounter", "in-progress"), selected
        )
        self.finished_at = self.add_time_field("finished_at", _("Finished"))

    def build_command(self) -> Command:
        return FinishEncounter(
            command_id=self.command_id,
            patient_id=self.patient_id,
            encounter_id=self.picked(self.encounter, "encounter_id", _("Choose the encounter")),
            finished_at=self.finished_at.iso_or_none(),
        )


class VitalsDialog(ChartFormDialog):
    COMMAND = RecordVitals
    TITLE = N_("Record vitals")
    INTRO = N_("Fill in what was measured; leave the rest.")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.values: dict[str, QLineEdit] = {}
        for key in VITAL_FIELDS:
            label, unit = VITALS[key]
            field = QLineEdit(self)
            field.setPlaceholderText(unit)
            self.values[key] = self.add_field(key, _(label), field)  # VITALS: marked msgids
        self.taken = self.add_time_field("taken_at", _("Taken"))
        self.encounter = self.add_encounter_field()

    def build_command(self) -> Command:
        numbers = {k: self.number(w, k, _(VITALS[k][0])) for k, w in self.values.items()}
        return RecordVitals(
            command_id=self.command_id,
            patient_id=self.patient_id,
            taken_at=self.taken.iso_or_none(),
            encounter_id=self.text(self.encounter),
            systolic=numbers["systolic"],
            diastolic=numbers["diastolic"],
            heart_rate=numbers["heart_rate"],
            respiratory_rate=numbers["respiratory_rate"],
            temperature=numbers["temperature"],
            spo2=numbers["spo2"],
            weight=numbers["weight"],
            height=numbers["height"],
        )


class NoteDialog(ChartFormDialog):
    COMMAND = AddNote
    TITLE = N_("Write note")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        body = QPlainTextEdit(self)
        body.setMinimumHeight(180)
        body.setTabChangesFocus(True)
        self.body = self.add_field("text", _("Note"), body, _("Ctrl+Enter saves"))
        self.encounter = self.add_encounter_field()

    def build_command(self) -> Command:
        return AddNote(
            command_id=self.command_id,
            patient_id=self.patient_id,
            text=self.text(self.body) or "",
            encounter_id=self.text(self.encounter),
        )
