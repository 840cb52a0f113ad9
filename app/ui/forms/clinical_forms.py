"""Task forms opened from a chart: encounters, vitals, diagnoses, allergies, notes, corrections."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit, QPlainTextEdit, QWidget

from app.domain.commands import (
    AddNote,
    Command,
    FinishEncounter,
    MarkEnteredInError,
    RecordAllergy,
    RecordDiagnosis,
    RecordVitals,
    ResolveDiagnosis,
    StartEncounter,
    UpdateAllergyStatus,
)
from app.domain.errors import ValidationError
from app.services.dto import ChartView, ItemView
from app.ui.chart_text import describe, labelled
from app.ui.formatting import VITALS
from app.ui.forms.base import CommandFormDialog, TimeField, item_combo
from app.ui.forms.vocabulary import attach_completer, code_of, icd10_choices, substance_names
from app.ui.session import ClinicSession

REACTIONS = (
    "Rash",
    "Urticaria (hives)",
    "Itching",
    "Angioedema",
    "Anaphylaxis",
    "Wheeze",
    "Shortness of breath",
    "Nausea",
    "Vomiting",
    "Diarrhoea",
)


class ChartFormDialog(CommandFormDialog):
    """A task form about one patient's chart."""

    def __init__(
        self,
        session: ClinicSession,
        chart: ChartView,
        title: str,
        parent: QWidget | None = None,
        intro: str = "",
    ) -> None:
        super().__init__(session, title, parent, intro)
        self.chart = chart
        self.patient_id = chart.patient.patient_id
        self.setWindowTitle(f"{title} — {chart.patient.family}, {chart.patient.given}")

    def live(self, kind: str, status: str | None = None) -> list[ItemView]:
        source = {
            "diagnosis": self.chart.problems,
            "allergy": self.chart.allergies,
            "medication": self.chart.medications,
            "encounter": self.chart.encounters,
            "note": self.chart.notes,
            "appointment": self.chart.appointments,
        }.get(kind, [])
        return [i for i in source if status is None or i.status == status]

    def encounter_field(self) -> QComboBox:
        """Optional link to an encounter in progress (the newest is preselected)."""
        open_ones = self.live("encounter", "in-progress")
        combo = item_combo(self, [("", "— not linked to an encounter —")])
        for item in sorted(open_ones, key=lambda i: i.clinical_time, reverse=True):
            combo.addItem(describe(item), item.item_id)
        if open_ones:
            combo.setCurrentIndex(1)
        return combo

    def picker(self, items: list[ItemView], selected: str | None) -> QComboBox:
        return item_combo(self, [(i.item_id, describe(i)) for i in items], selected)

    @staticmethod
    def picked(combo: QComboBox, field: str, what: str) -> str:
        value = combo.currentData()
        if not value:
            raise ValidationError(f"Choose the {what}", field)
        return str(value)


class StartEncounterDialog(ChartFormDialog):
    COMMAND = StartEncounter

    def __init__(self, session: ClinicSession, chart: ChartView, parent: QWidget | None = None):
        super().__init__(session, chart, "Start encounter", parent)
        self.reason = self.add_field("reason", "Reason for visit", QLineEdit(self))
        self.started = self.add_field(
            "started_at", "Started", TimeField(self, session.now_q(), touched=False)
        )

    def build_command(self) -> Command:
        assert isinstance(self.started, TimeField)
        return StartEncounter(
            command_id=self.command_id,
            patient_id=self.patient_id,
            reason=self.text(self.reason),
            started_at=self.started.iso_or_none(),
        )


class FinishEncounterDialog(ChartFormDialog):
    COMMAND = FinishEncounter

    def __init__(
        self,
        session: ClinicSession,
        chart: ChartView,
        parent: QWidget | None = None,
        selected: str | None = None,
    ) -> None:
        super().__init__(session, chart, "Finish encounter", parent)
        self.encounter = self.add_field(
            "encounter_id",
            "Encounter",
            self.picker(self.live("encounter", "in-progress"), selected),
        )
        self.finished_at = self.add_field(
            "finished_at", "Finished", TimeField(self, session.now_q(), touched=False)
        )

    def build_command(self) -> Command:
        assert isinstance(self.encounter, QComboBox) and isinstance(self.finished_at, TimeField)
        return FinishEncounter(
            command_id=self.command_id,
            patient_id=self.patient_id,
            encounter_id=self.picked(self.encounter, "encounter_id", "encounter"),
            finished_at=self.finished_at.iso_or_none(),
        )


class VitalsDialog(ChartFormDialog):
    COMMAND = RecordVitals

    def __init__(self, session: ClinicSession, chart: ChartView, parent: QWidget | None = None):
        super().__init__(
            session, chart, "Record vitals", parent, "Fill in what was measured; leave the rest."
        )
        self.values: dict[str, QLineEdit] = {}
        for key in (
            "systolic",
            "diastolic",
            "heart_rate",
            "respiratory_rate",
            "temperature",
            "spo2",
            "weight",
            "height",
        ):
            label, unit = VITALS[key]
            field = QLineEdit(self)
            field.setPlaceholderText(unit)
            self.add_field(key, label, field)
            self.values[key] = field
        self.taken = self.add_field(
            "taken_at", "Taken", TimeField(self, session.now_q(), touched=False)
        )
        self.encounter = self.add_field("encounter_id", "Encounter", self.encounter_field())

    def build_command(self) -> Command:
        assert isinstance(self.taken, TimeField)
        numbers = {k: self.number(w, k, VITALS[k][0]) for k, w in self.values.items()}
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


class DiagnosisDialog(ChartFormDialog):
    COMMAND = RecordDiagnosis

    def __init__(self, session: ClinicSession, chart: ChartView, parent: QWidget | None = None):
        super().__init__(session, chart, "Record diagnosis", parent)
        self.code = self.add_field(
            "code", "ICD-10 code", QLineEdit(self), "Type a code or words to pick from the list"
        )
        assert isinstance(self.code, QLineEdit)
        attach_completer(self.code, icd10_choices(session.catalog))
        self.description = self.add_field(
            "text", "Description", QLineEdit(self), "Optional with a listed code"
        )
        self.onset = self.add_field(
            "onset", "Onset", TimeField(self, session.now_q(), touched=False)
        )
        self.encounter = self.add_field("encounter_id", "Encounter", self.encounter_field())

    def build_command(self) -> Command:
        assert isinstance(self.onset, TimeField)
        code = self.text(self.code)
        return RecordDiagnosis(
            command_id=self.command_id,
            patient_id=self.patient_id,
            code=code_of(code) if code else None,
            text=self.text(self.description),
            onset=self.onset.iso_or_none(),
            encounter_id=self.text(self.encounter),
        )


class ResolveDiagnosisDialog(ChartFormDialog):
    COMMAND = ResolveDiagnosis

    def __init__(
        self,
        session: ClinicSession,
        chart: ChartView,
        parent: QWidget | None = None,
        selected: str | None = None,
    ) -> None:
        super().__init__(session, chart, "Resolve problem", parent)
        self.diagnosis = self.add_field(
            "diagnosis_id", "Problem", self.picker(self.live("diagnosis", "active"), selected)
        )
        self.resolved = self.add_field(
            "resolved_at", "Resolved", TimeField(self, session.now_q(), touched=False)
        )

    def build_command(self) -> Command:
        assert isinstance(self.diagnosis, QComboBox) and isinstance(self.resolved, TimeField)
        return ResolveDiagnosis(
            command_id=self.command_id,
            patient_id=self.patient_id,
            diagnosis_id=self.picked(self.diagnosis, "diagnosis_id", "problem"),
            resolved_at=self.resolved.iso_or_none(),
        )


def _choices(parent: QWidget, options: list[tuple[str, str | None]], current: int = 0) -> QComboBox:
    combo = QComboBox(parent)
    for text, value in options:
        combo.addItem(text, value)
    combo.setCurrentIndex(current)
    return combo


class AllergyDialog(ChartFormDialog):
    COMMAND = RecordAllergy

    def __init__(self, session: ClinicSession, chart: ChartView, parent: QWidget | None = None):
        super().__init__(session, chart, "Record allergy", parent)
        self.substance = self.add_field("substance", "Substance", QLineEdit(self))
        assert isinstance(self.substance, QLineEdit)
        attach_completer(self.substance, substance_names(session.catalog))
        self.category = self.add_field(
            "category",
            "Category",
            _choices(
                self,
                [
                    ("— from the substance —", None),
                    ("Medication", "medication"),
                    ("Food", "food"),
                    ("Environment", "environment"),
                    ("Biologic", "biologic"),
                ],
            ),
        )
        reaction = QLineEdit(self)
        attach_completer(reaction, list(REACTIONS))
        self.reaction = self.add_field("reaction", "Reaction", reaction)
        self.severity = self.add_field(
            "severity",
            "Severity",
            _choices(
                self,
                [
                    ("— not known —", None),
                    ("Mild", "mild"),
                    ("Moderate", "moderate"),
                    ("Severe", "severe"),
                ],
            ),
        )
        self.criticality = self.add_field(
            "criticality",
            "Criticality",
            _choices(
                self, [("Unable to assess", "unable-to-assess"), ("Low", "low"), ("High", "high")]
            ),
        )

    def build_command(self) -> Command:
        return RecordAllergy(
            command_id=self.command_id,
            patient_id=self.patient_id,
            substance=self.text(self.substance) or "",
            category=self.text(self.category),
            reaction=self.text(self.reaction),
            severity=self.text(self.severity),
            criticality=self.text(self.criticality) or "unable-to-assess",
        )


class AllergyStatusDialog(ChartFormDialog):
    COMMAND = UpdateAllergyStatus

    def __init__(
        self,
        session: ClinicSession,
        chart: ChartView,
        parent: QWidget | None = None,
        selected: str | None = None,
    ) -> None:
        super().__init__(session, chart, "Change allergy status", parent)
        self.allergy = self.add_field(
            "allergy_id", "Allergy", self.picker(self.live("allergy"), selected)
        )
        self.status = self.add_field(
            "status",
            "New status",
            _choices(
                self, [("Inactive", "inactive"), ("Resolved", "resolved"), ("Active", "active")]
            ),
        )

    def build_command(self) -> Command:
        assert isinstance(self.allergy, QComboBox)
        allergy_id = self.picked(self.allergy, "allergy_id", "allergy")
        current = next((a.status for a in self.live("allergy") if a.item_id == allergy_id), None)
        return UpdateAllergyStatus(
            command_id=self.command_id,
            patient_id=self.patient_id,
            allergy_id=allergy_id,
            status=self.text(self.status) or "",
            expected_status=current,
        )


class NoteDialog(ChartFormDialog):
    COMMAND = AddNote

    def __init__(self, session: ClinicSession, chart: ChartView, parent: QWidget | None = None):
        super().__init__(session, chart, "Write note", parent)
        body = QPlainTextEdit(self)
        body.setMinimumHeight(180)
        body.setTabChangesFocus(True)
        self.body = self.add_field("text", "Note", body, "Ctrl+Enter saves")
        self.encounter = self.add_field("encounter_id", "Encounter", self.encounter_field())

    def build_command(self) -> Command:
        return AddNote(
            command_id=self.command_id,
            patient_id=self.patient_id,
            text=self.text(self.body) or "",
            encounter_id=self.text(self.encounter),
        )


class EnteredInErrorDialog(ChartFormDialog):
    COMMAND = MarkEnteredInError
    SAVE_LABEL = "Mark entered in error"

    def __init__(
        self,
        session: ClinicSession,
        chart: ChartView,
        parent: QWidget | None = None,
        selected: str | None = None,
        selected_text: str = "",
    ) -> None:
        super().__init__(
            session,
            chart,
            "Mark entered in error",
            parent,
            "The item stays in the timeline, struck through, and leaves the summary.",
        )
        items = [
            *chart.problems,
            *chart.allergies,
            *chart.medications,
            *chart.encounters,
            *chart.notes,
            *chart.appointments,
        ]
        if chart.last_vitals is not None:
            items.append(chart.last_vitals)
        choices = [(i.item_id, labelled(i)) for i in items]
        if selected and all(item_id != selected for item_id, _ in choices):
            choices.insert(0, (selected, selected_text or selected))  # e.g. older vitals
        combo = item_combo(self, choices, selected)
        self.item = self.add_field("item_id", "Item", combo)
        self.reason = self.add_field("reason", "Reason", QLineEdit(self))

    def build_command(self) -> Command:
        assert isinstance(self.item, QComboBox)
        return MarkEnteredInError(
            command_id=self.command_id,
            patient_id=self.patient_id,
            item_id=self.picked(self.item, "item_id", "item"),
            reason=self.text(self.reason) or "",
        )
