"""Register a patient; edit demographics (sending the values the user saw, to catch edits
made elsewhere meanwhile)."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from app.domain.commands import (
    Command,
    FieldChange,
    Identifier,
    RegisterPatient,
    UpdateDemographics,
)
from app.services.dto import PatientSummary
from app.ui.forms.base import CommandFormDialog
from app.ui.session import ClinicSession

SEXES = (
    ("", "— choose —"),
    ("female", "Female"),
    ("male", "Male"),
    ("other", "Other"),
    ("unknown", "Unknown"),
)
ID_SYSTEMS = ("National ID", "Clinic number", "Insurance number", "Passport")


def sex_combo(parent: QWidget, current: str = "") -> QComboBox:
    combo = QComboBox(parent)
    for value, text in SEXES:
        combo.addItem(text, value or None)
    index = combo.findData(current) if current else 0
    combo.setCurrentIndex(max(index, 0))
    return combo


class RegisterPatientDialog(CommandFormDialog):
    COMMAND = RegisterPatient
    SAVE_LABEL = "Register"
    ALIASES: ClassVar[dict[str, str]] = {"identifiers": "identifier_value"}

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(session, "New patient", parent)
        self.given = self.add_field("given", "Given name", QLineEdit(self))
        self.family = self.add_field("family", "Family name", QLineEdit(self))
        born = QLineEdit(self)
        born.setPlaceholderText("YYYY-MM-DD")
        self.birth_date = self.add_field(
            "birth_date", "Birth date", born, "As YYYY-MM-DD, e.g. 1984-03-12"
        )
        self.sex = self.add_field("sex", "Sex", sex_combo(self))
        self.phone = self.add_field("phone", "Phone", QLineEdit(self))
        self.address = self.add_field("address", "Address", QLineEdit(self))
        system = QComboBox(self)
        system.setEditable(True)
        system.addItems(ID_SYSTEMS)
        self.id_system = self.add_field("identifier_system", "Identifier type", system)
        self.id_value = self.add_field(
            "identifier_value", "Identifier", QLineEdit(self), "Optional: national ID, clinic no."
        )

    def build_command(self) -> Command:
        value = self.text(self.id_value)
        identifiers = (
            (Identifier(self.text(self.id_system) or "", value),) if value is not None else ()
        )
        return RegisterPatient(
            command_id=self.command_id,
            given=self.text(self.given) or "",
            family=self.text(self.family) or "",
            birth_date=self.text(self.birth_date) or "",
            sex=self.text(self.sex) or "",
            phone=self.text(self.phone),
            address=self.text(self.address),
            identifiers=identifiers,
        )


class EditDemographicsDialog(CommandFormDialog):
    COMMAND = UpdateDemographics
    ALIASES: ClassVar[dict[str, str]] = {"changes": "given"}

    def __init__(
        self, session: ClinicSession, patient: PatientSummary, parent: QWidget | None = None
    ) -> None:
        super().__init__(session, "Edit demographics", parent)
        self.patient = patient
        self.before = {
            "given": patient.given,
            "family": patient.family,
            "birth_date": patient.birth_date,
            "sex": patient.sex,
            "phone": patient.phone,
            "address": patient.address,
        }
        self.inputs: dict[str, QWidget] = {}
        for name, label in (
            ("given", "Given name"),
            ("family", "Family name"),
            ("birth_date", "Birth date"),
        ):
            self.inputs[name] = self.add_field(name, label, QLineEdit(self.before[name] or ""))
        self.inputs["sex"] = self.add_field("sex", "Sex", sex_combo(self, patient.sex))
        for name, label in (("phone", "Phone"), ("address", "Address")):
            self.inputs[name] = self.add_field(name, label, QLineEdit(self.before[name] or ""))

    def build_command(self) -> Command:
        changes = {}
        for name, widget in self.inputs.items():
            new = self.text(widget)
            if new != (self.before[name] or None):
                changes[name] = FieldChange(new=new, expected=self.before[name])
        return UpdateDemographics(
            command_id=self.command_id, patient_id=self.patient.patient_id, changes=changes
        )
