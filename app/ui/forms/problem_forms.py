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
from app.i18n import N_, _, pgettext
from app.ui.forms.chart_form import ChartFormDialog, choices
from app.ui.forms.vocabulary import attach_completer, code_of, icd10_choices, substance_names

# Suggestions for the reaction (typed freely); marked here, offered translated.
REACTIONS = (
    N_("Rash"),
    N_("Urticaria (hives)"),
    N_("Itching"),
    N_("Angioedema"),
    N_("Anaphylaxis"),
    N_("Wheeze"),
    N_("Shortness of breath"),
    N_("Nausea"),
    N_("Vomiting"),
    N_("Diarrhoea"),
)


class DiagnosisDialog(ChartFormDialog):
    COMMAND = RecordDiagnosis
    TITLE = N_("Record diagnosis")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.code = self.add_field(
            "code",
            _("ICD-10 code"),
            QLineEdit(self),
            _("Type a code or words to pick from the list"),
        )
        attach_completer(self.code, icd10_choices(self.session.catalog))
        self.description = self.add_field(
            "text", _("Description"), QLineEdit(self), _("Optional with a listed code")
        )
        self.onset = self.add_time_field("onset", _("Onset"))
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
    TITLE = N_("Resolve problem")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.diagnosis = self.add_picker(
            "diagnosis_id", _("Problem"), self.live("diagnosis", "active"), selected
        )
        self.resolved = self.add_time_field("resolved_at", _("Resolved"))

    def build_command(self) -> Command:
        return ResolveDiagnosis(
            command_id=self.command_id,
            patient_id=self.patient_id,
            diagnosis_id=self.picked(self.diagnosis, "diagnosis_id", _("Choose the problem")),
            resolved_at=self.resolved.iso_or_none(),
        )


class AllergyDialog(ChartFormDialog):
    COMMAND = RecordAllergy
    TITLE = N_("Record allergy")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.substance = self.add_field("substance", _("Substance"), QLineEdit(self))
        attach_completer(self.substance, substance_names(self.session.catalog))
        self.category = self.add_field(
            "category",
            _("Category"),
            choices(
                self,
                [
                    (_("— from the substance —"), None),
                    # Translators: an allergy's category (a medicine)
                    (pgettext("allergy category", "Medication"), "medication"),
                    (_("Food"), "food"),
                    (_("Environment"), "environment"),
                    (_("Biologic"), "biologic"),
                ],
            ),
        )
        reaction = QLineEdit(self)
        attach_completer(reaction, [_(r) for r in REACTIONS])  # marked msgids
        self.reaction = self.add_field("reaction", _("Reaction"), reaction)
        self.severity = self.add_field(
            "severity",
            _("Severity"),
            choices(
                self,
                [
                    (_("— not known —"), None),
                    (_("Mild"), "mild"),
                    (_("Moderate"), "moderate"),
                    (_("Severe"), "severe"),
                ],
            ),
        )
        self.criticality = self.add_field(
            "criticality",
            _("Criticality"),
            choices(
                self,
                [
                    (_("Unable to assess"), "unable-to-assess"),
                    # Translators: an allergy's criticality
                    (pgettext("criticality", "Low"), "low"),
                    # Translators: an allergy's criticality
                    (pgettext("criticality", "High"), "high"),
                ],
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
    TITLE = N_("Change allergy status")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.allergy = self.add_picker("allergy_id", _("Allergy"), self.live("allergy"), selected)
        self.status = self.add_field(
            "status",
            _("New status"),
            choices(
                self,
                [
                    # Translators: an allergy's status
                    (pgettext("allergy status", "Inactive"), "inactive"),
                    # Translators: an allergy's status
                    (pgettext("allergy status", "Resolved"), "resolved"),
                    # Translators: an allergy's status
                    (pgettext("allergy status", "Active"), "active"),
                ],
            ),
        )

    def build_command(self) -> Command:
        allergy_id = self.picked(self.allergy, "allergy_id", _("Choose the allergy"))
        current = next((a.status for a in self.live("allergy") if a.item_id == allergy_id), None)
        return UpdateAllergyStatus(
            command_id=self.command_id,
            patient_id=self.patient_id,
            allergy_id=allergy_id,
            status=self.text(self.status) or "",
            expected_status=current,
        )
