"""Prescribe (with the allergy override), change a dose, and discontinue medications."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QWidget

from app.domain.commands import ChangeDose, Command, DiscontinueMedication, PrescribeMedication
from app.domain.errors import AllergyConflictError, ValidationError
from app.i18n import N_, _
from app.ui.forms.chart_form import ChartFormDialog
from app.ui.forms.vocabulary import (
    MedicationTerms,
    attach_completer,
    frequency_text,
    medication_terms,
    medicine_names,
    routes,
)


def _dose_unit_combo(parent: QWidget, terms: MedicationTerms) -> QComboBox:
    unit = QComboBox(parent)
    unit.setEditable(True)
    unit.addItems(list(terms.dose_units))
    return unit


def _frequency_combo(parent: QWidget, terms: MedicationTerms) -> QComboBox:
    frequency = QComboBox(parent)
    for code, display in terms.frequencies:
        frequency.addItem(
            _("{code} — {meaning}").format(code=code, meaning=frequency_text(display)), code
        )
    return frequency


def _required_dose(field: QLineEdit) -> float:
    dose = ChartFormDialog.number(field, "dose", _("Dose"))
    if dose is None:
        raise ValidationError(_("Dose is required"), "dose")
    return dose


# The routes of resources/codes/medication_terms.json: the route kept is the English name,
# the list shows it in the user's language (a device's own route is shown as written).
ROUTE_WORDS = (
    N_("oral"),
    N_("intravenous"),
    N_("intramuscular"),
    N_("subcutaneous"),
    N_("topical"),
    N_("inhaled"),
    N_("rectal"),
    N_("vaginal"),
    N_("ophthalmic"),
    N_("sublingual"),
    N_("nasal"),
    N_("otic"),
    N_("buccal"),
    N_("transdermal"),
)


class PrescribeDialog(ChartFormDialog):
    """A prescription that clashes with a recorded allergy is refused until the clinician
    gives a reason; the form then shows the clash and a reason field, and resubmits."""

    COMMAND = PrescribeMedication
    SAVE_LABEL = N_("Prescribe")
    TITLE = N_("Prescribe")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        drug = QLineEdit(self)
        attach_completer(drug, medicine_names(self.session.catalog))
        self.drug = self.add_field("drug", _("Drug"), drug)
        self.dose = self.add_field("dose", _("Dose"), QLineEdit(self))
        terms = medication_terms()
        self.dose_unit = self.add_field("dose_unit", _("Dose unit"), _dose_unit_combo(self, terms))
        route = QComboBox(self)
        for name in routes(self.session.catalog):
            route.addItem(_(name), name)  # ROUTE_WORDS: the shipped routes, translated
        route.setCurrentIndex(max(route.findData("oral"), 0))
        self.route = self.add_field("route", _("Route"), route)
        self.frequency = self.add_field("frequency", _("Frequency"), _frequency_combo(self, terms))
        self.duration = self.add_field("duration_days", _("Duration (days)"), QLineEdit(self))
        self.instructions = self.add_field("instructions", _("Instructions"), QLineEdit(self))
        self.encounter = self.add_encounter_field()
        self.override = self.add_field(
            "override_reason",
            _("Override reason"),
            QLineEdit(self),
            _("Why prescribe despite the recorded allergy (kept in the record)"),
        )
        self.set_row_visible("override_reason", False)
        self.unchecked = QCheckBox(_("Prescribe it without the checks"), self)
        self.add_field(
            "unchecked_acknowledged",
            _("Not checked"),
            self.unchecked,
            _("Recorded with the prescription, and shown on the chart"),
        )
        self.set_row_visible("unchecked_acknowledged", False)

    def show_error(self, exc: BaseException) -> None:
        super().show_error(exc)
        if isinstance(exc, AllergyConflictError):
            self.save_button.setText(_("Prescribe anyway"))

    def build_command(self) -> Command:
        dose = _required_dose(self.dose)
        asks_reason = self.form.isRowVisible(self.rows["override_reason"].label)
        return PrescribeMedication(
            command_id=self.command_id,
            patient_id=self.patient_id,
            drug=self.text(self.drug) or "",
            dose=dose,
            dose_unit=self.text(self.dose_unit) or "",
            route=self.text(self.route) or "",
            frequency=self.text(self.frequency) or "",
            duration_days=self.whole(self.duration, "duration_days", _("Duration")),
            instructions=self.text(self.instructions),
            encounter_id=self.text(self.encounter),
            override_reason=self.text(self.override) if asks_reason else None,
            unchecked_acknowledged=self.unchecked.isChecked(),
        )


class DiscontinueDialog(ChartFormDialog):
    COMMAND = DiscontinueMedication
    SAVE_LABEL = N_("Stop medication")
    TITLE = N_("Stop medication")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.prescription = self.add_picker(
            "prescription_id", _("Medication"), self.live("medication"), selected
        )
        self.reason = self.add_reason_field()

    def build_command(self) -> Command:
        return DiscontinueMedication(
            command_id=self.command_id,
            patient_id=self.patient_id,
            prescription_id=self.picked(
                self.prescription, "prescription_id", _("Choose the medication")
            ),
            reason=self.text(self.reason) or "",
        )


class ChangeDoseDialog(ChartFormDialog):
    """The dose the clinician saw travels with the change, so a dose changed meanwhile on
    another device is not overwritten silently."""

    COMMAND = ChangeDose
    SAVE_LABEL = N_("Change dose")
    TITLE = N_("Change dose")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.prescription = self.add_picker(
            "prescription_id", _("Medication"), self.live("medication"), selected
        )
        self.dose = self.add_field("dose", _("New dose"), QLineEdit(self))
        terms = medication_terms()
        self.dose_unit = self.add_field("dose_unit", _("Dose unit"), _dose_unit_combo(self, terms))
        self.frequency = self.add_field("frequency", _("Frequency"), _frequency_combo(self, terms))
        self.reason = self.add_reason_field()
        self.prescription.currentIndexChanged.connect(self._show_current)
        self._show_current()

    def _current(self) -> dict[str, object]:
        chosen = self.prescription.currentData()
        for item in self.chart.medications:
            if item.item_id == chosen:
                return item.data
        return {}

    def _show_current(self) -> None:
        data = self._current()
        if data.get("dose_unit"):
            self.dose_unit.setCurrentText(str(data["dose_unit"]))
        index = self.frequency.findData(data.get("frequency"))
        if index >= 0:
            self.frequency.setCurrentIndex(index)

    def build_command(self) -> Command:
        dose = _required_dose(self.dose)
        current = self._current().get("dose")
        return ChangeDose(
            command_id=self.command_id,
            patient_id=self.patient_id,
            prescription_id=self.picked(
                self.prescription, "prescription_id", _("Choose the medication")
            ),
            dose=dose,
            dose_unit=self.text(self.dose_unit),
            frequency=self.text(self.frequency),
            expected_dose=float(current) if isinstance(current, int | float) else None,
            reason=self.text(self.reason),
        )
