"""Record an immunization: pick the vaccine (typing filters the bundled list), the dose number
(the next one of that vaccine for this patient, pre-filled), lot and expiry, site and route
(the vaccine's usual ones, pre-filled), the date, and whether it was given here or is copied
from a card. Staff may record only doses from a card, so for them that box is ticked and
fixed."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit

from app.domain.commands import Command, RecordImmunization
from app.domain.errors import ValidationError
from app.domain.immunization_schedule import Vaccine
from app.domain.immunizations import IMMUNIZATION_ROUTES, IMMUNIZATION_SITES, find_vaccine
from app.domain.roles import Role
from app.i18n import N_, _
from app.ui.forms.chart_form import ChartFormDialog, choices
from app.ui.forms.vocabulary import attach_completer

NOT_SAID = N_("— not recorded —")
# How the routes are offered (marked here, translated at use); the sites show the domain's
# marked display ("left arm"), capitalised.
ROUTE_TEXT = {
    "intramuscular": N_("Intramuscular"),
    "subcutaneous": N_("Subcutaneous"),
    "intradermal": N_("Intradermal"),
    "oral": N_("Oral"),
    "intranasal": N_("Intranasal"),
}


def choice_text(key: str, display: str) -> str:
    label = ROUTE_TEXT.get(key)
    if label:
        return _(label)
    shown = _(display)  # an IMMUNIZATION_SITES display, marked in the domain
    return shown[:1].upper() + shown[1:]


class ImmunizationDialog(ChartFormDialog):
    COMMAND = RecordImmunization
    TITLE = N_("Record immunization")
    INTRO = N_("A dose given here, or one copied from the patient's vaccination card.")

    def add_fields(self, selected: str | None, selected_text: str) -> None:
        self.vaccines = sorted(self.session.catalog.vaccines.values(), key=lambda v: v.name)
        self.vaccine = self.add_field(
            "vaccine",
            _("Vaccine"),
            QLineEdit(self),
            _("Type part of the name and pick from the list"),
        )
        attach_completer(self.vaccine, [v.name for v in self.vaccines])
        self.dose = self.add_field("dose_number", _("Dose number"), QLineEdit(self))
        self.given_on = self.add_field(
            "given_on", _("Date given"), QLineEdit(self), _("Empty: now. A card's date: 2026-11-30")
        )
        self.lot = self.add_field("lot", _("Lot number"), QLineEdit(self))
        self.expiry = self.add_field("lot_expiry", _("Lot expiry"), QLineEdit(self))
        self.expiry.setPlaceholderText(_("e.g. 2027-06-30"))
        self.site = self.add_field("site", _("Site"), self._combo(IMMUNIZATION_SITES))
        self.route = self.add_field("route", _("Route"), self._combo(IMMUNIZATION_ROUTES))
        self.historical = self.add_field(
            "historical", _("From a card"), QCheckBox(_("Historical: copied from a card"), self)
        )
        self.source = self.add_field("source", _("Card / source"), QLineEdit(self))
        self.encounter = self.add_encounter_field()
        if self.session.role is Role.STAFF:
            # Staff record cards only (the domain refuses the rest; say so before typing).
            self.historical.setChecked(True)
            self.historical.setEnabled(False)
        self.chosen: Vaccine | None = None
        self.vaccine.textChanged.connect(self._vaccine_changed)
        self.historical.toggled.connect(self._historical_changed)
        self._historical_changed(self.historical.isChecked())

    def _combo(self, table: Mapping[str, tuple[str, str]]) -> QComboBox:
        options: list[tuple[str, str | None]] = [(_(NOT_SAID), None)]
        options += [(choice_text(key, display), key) for key, (_code, display) in table.items()]
        return choices(self, options)

    def next_dose(self, vaccine: Vaccine) -> int:
        """The next dose of `vaccine` for this patient: one more than recorded so far."""
        given = sum(1 for i in self.chart.immunizations if i.data.get("vaccine_id") == vaccine.id)
        return min(given + 1, vaccine.doses)

    def _vaccine_changed(self, text: str) -> None:
        vaccine = find_vaccine(self.session.catalog, text) if text.strip() else None
        if vaccine is None or vaccine is self.chosen:
            return
        self.chosen = vaccine
        self.dose.setText(str(self.next_dose(vaccine)))
        for combo, value in ((self.site, vaccine.site), (self.route, vaccine.route)):
            combo.setCurrentIndex(max(0, combo.findData(value)))

    def _historical_changed(self, historical: bool) -> None:
        self.set_row_visible("source", historical)
        self.set_row_visible("encounter_id", not historical)

    def _dose_number(self) -> int:
        dose = self.whole(self.dose, "dose_number", _("Dose number"))
        if dose is None:
            raise ValidationError(_("Dose number is required"), "dose_number")
        return dose

    def build_command(self) -> Command:
        historical = self.historical.isChecked()
        return RecordImmunization(
            command_id=self.command_id,
            patient_id=self.patient_id,
            vaccine=self.text(self.vaccine) or "",
            dose_number=self._dose_number(),
            given_on=self.text(self.given_on),
            lot=self.text(self.lot),
            lot_expiry=self.text(self.expiry),
            site=self.text(self.site),
            route=self.text(self.route),
            historical=historical,
            source=self.text(self.source) if historical else None,
            encounter_id=None if historical else self.text(self.encounter),
        )
