"""The problem list and allergies: record and resolve a diagnosis, record an allergy and
change its status."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit

from app.domain.commands import (
    Command,
    RecordAllergy,
    RecordDiagnosis,
    ResolveDiagnosis,
    UpdateAllergyStatus,
)
from app.ui.forms.chart_form import ChartFormDialog, choices
from app.ui.forms.vocabulary import attach_completer, code_of, icd10_choices, substance_names

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


class DiagnosisDialog(ChartFormDialog):
    COMMAND = RecordDiagnosis
    TITLE = "Record diagnosis"

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.code = self.add_field(
            "code", "ICD-10 code", QLineEdit(self), "Type a code or words to pick from the list"
        )
        attach_completer(self.code, icd10_choices(self.session.catalog))
        self.description = self.add_field(
            "text", "Description", QLineEdit(self), "Optional with a listed code"
        )
        self.onset = self.add_time_field("onset", "Onset")
        self.encounter = self.add_encounter_field()

    def build_command(self) -> Command:
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
    TITLE = "Resolve problem"

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.diagnosis = self.add_picker(
            "diagnosis_id", "Problem", self.live("diagnosis", "active"), selected
        )
        self.resolved = self.add_time_field("resolved_at", "Resolved")

    def build_command(self) -> Command:
        return ResolveDiagnosis(
            command_id=self.command_id,
            patient_id=self.patient_id,
            diagnosis_id=self.picked(self.diagnosis, "diagnosis_id", "problem"),
            resolved_at=self.resolved.iso_or_none(),
        )


class AllergyDialog(ChartFormDialog):
    COMMAND = RecordAllergy
    TITLE = "Record allergy"

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.substance = self.add_field("substance", "Substance", QLineEdit(self))
        attach_completer(self.substance, substance_names(self.session.catalog))
        self.category = self.add_field(
            "category",
            "Category",
            choices(
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
            choices(
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
            choices(
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
    TITLE = "Change allergy status"

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.allergy = self.add_picker("allergy_id", "Allergy", self.live("allergy"), selected)
        self.status = self.add_field(
            "status",
            "New status",
            choices(
                self, [("Inactive", "inactive"), ("Resolved", "resolved"), ("Active", "active")]
            ),
        )

    def build_command(self) -> Command:
        allergy_id = self.picked(self.allergy, "allergy_id", "allergy")
        current = next((a.status for a in self.live("allergy") if a.item_id == allergy_id), None)
        return UpdateAllergyStatus(
            command_id=self.command_id,
            patient_id=self.patient_id,
            allergy_id=allergy_id,
            status=self.text(self.status) or "",
            expected_status=current,
        )
