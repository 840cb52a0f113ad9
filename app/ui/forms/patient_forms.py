"""Register a patient; edit demographics (sending the values the user saw, to catch edits
made elsewhere meanwhile)."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLineEdit, QVBoxLayout, QWidget

from app.domain.commands import (
    Command,
    FieldChange,
    Identifier,
    RegisterPatient,
    UpdateDemographics,
)
from app.domain.errors import ValidationError
from app.i18n import N_, _
from app.services.dto import PatientSummary
from app.services.duplicate_check import (
    RegistrationDraft,
    SimilarPatient,
    SimilarPatients,
    similar_patients,
)
from app.services.remote_lookup import BroughtPatient, RemotePatientLookup
from app.services.sync_status import SyncState
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.similar_patients_panel import SimilarPatientsPanel
from app.ui.session import ClinicSession

# Marked here, translated in sex_combo.
SEXES = (
    ("", N_("— choose —")),
    ("female", N_("Female")),
    ("male", N_("Male")),
    # Translators: a patient's sex
    ("other", N_("Other")),
    ("unknown", N_("Unknown")),
)
ID_SYSTEMS = ("National ID", "Clinic number", "Insurance number", "Passport")


def sex_combo(parent: QWidget, current: str = "") -> QComboBox:
    combo = QComboBox(parent)
    for value, text in SEXES:
        combo.addItem(_(text), value or None)  # a SEXES msgid
    index = combo.findData(current) if current else 0
    combo.setCurrentIndex(max(index, 0))
    return combo


class RegisterPatientDialog(CommandFormDialog):
    """New patient. Before registering, patients already here who may be the same person are
    listed (once the names and birth date are typed, and again on Register if the values
    changed): "This is the same person" opens their chart instead, "New patient" registers.
    On a device enrolled with a central server the check on Register also asks the server
    (only then: a slow link is not hit at every field); a patient found only there is brought
    onto this device when chosen, and their chart opens."""

    COMMAND = RegisterPatient
    SAVE_LABEL = N_("Register")
    ALIASES: ClassVar[dict[str, str]] = {"identifiers": "identifier_value"}
    existing_chosen = Signal(str)  # the patient id of "This is the same person"

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(session, _("New patient"), parent)
        self.given = self.add_field("given", _("Given name"), QLineEdit(self))
        self.family = self.add_field("family", _("Family name"), QLineEdit(self))
        born = QLineEdit(self)
        # Translators: the date format typed (ISO); translate the letters only
        born.setPlaceholderText(_("YYYY-MM-DD"))
        self.birth_date = self.add_field(
            "birth_date", _("Birth date"), born, _("As YYYY-MM-DD, e.g. 1984-03-12")
        )
        self.sex = self.add_field("sex", _("Sex"), sex_combo(self))
        self.phone = self.add_field("phone", _("Phone"), QLineEdit(self))
        self.address = self.add_field("address", _("Address"), QLineEdit(self))
        system = QComboBox(self)
        system.setEditable(True)
        system.addItems(ID_SYSTEMS)
        self.id_system = self.add_field("identifier_system", _("Identifier type"), system)
        self.id_value = self.add_field(
            "identifier_value",
            _("Identifier"),
            QLineEdit(self),
            _("Optional: national ID, clinic no."),
        )
        self.similar = SimilarPatientsPanel(self)
        outer = self.layout()
        assert isinstance(outer, QVBoxLayout)  # CommandFormDialog's: fields, then buttons
        outer.insertWidget(outer.count() - 1, self.similar)
        self.similar.same_person.connect(self._same_person)
        self.similar.new_patient.connect(self._register_new)
        self.birth_date.editingFinished.connect(lambda: self._check(then_register=False))
        self.checked_for: RegistrationDraft | None = None  # the values the list shown is for
        self._new_for: RegistrationDraft | None = None  # "New patient" was chosen for these
        self._checking = self._register_after_check = False
        self._asked_server_for: RegistrationDraft | None = None  # the server's list is for these
        factory = session.backend.remote_patients
        self._lookup: RemotePatientLookup | None = factory(session.clinic) if factory else None

    # -- the duplicate check ---------------------------------------------------------------

    def draft(self) -> RegistrationDraft | None:
        """The values typed so far, or None when there are too few to look for anyone."""
        value = self.text(self.id_value)
        draft = RegistrationDraft(
            self.text(self.given) or "",
            self.text(self.family) or "",
            self.text(self.birth_date) or "",
            self.text(self.sex) or "",
            self.text(self.phone),
            ((self.text(self.id_system) or "", value),) if value else (),
        )
        try:
            return draft.checked()
        except ValidationError:
            return None  # registering shows what is wrong with the field

    def submit(self) -> None:
        draft = self.draft()
        if draft is None or draft == self._new_for:
            super().submit()
        elif draft == self.checked_for and (
            self._server_lookup() is None or draft == self._asked_server_for
        ):
            if self.similar.patients:
                self.similar.focus_list()  # choose first: same person or new patient
            else:
                super().submit()
        else:
            self._check(then_register=True)

    def _server_lookup(self) -> RemotePatientLookup | None:
        """The central server's look-up, when this device is enrolled with one."""
        if self._lookup is None or self.session.sync.status.state is SyncState.NOT_CONFIGURED:
            return None
        return self._lookup

    def _check(self, then_register: bool) -> None:
        draft = self.draft()
        if draft is None or not self.save_button.isEnabled():
            return
        if self._checking:
            # Register pressed while the check started on leaving the birth date runs: decide
            # when it answers (submit looks again at the values then).
            self._register_after_check = self._register_after_check or then_register
            return
        if not then_register and (not draft.birth_date or draft == self.checked_for):
            return
        self._checking = True
        clinic = self.session.clinic
        lookup = self._server_lookup() if then_register else None
        if then_register:
            # As a plain form's Save does: an error shown for earlier values no longer holds,
            # and Register waits for the check (it is pressed again only after the answer).
            self.clear_errors()
            self.save_button.setEnabled(False)

        def shown(found: SimilarPatients) -> None:
            self._checking = False
            if then_register:
                self.save_button.setEnabled(True)
            self.checked_for = draft
            if lookup is not None:
                self._asked_server_for = draft  # answered, or said why not: not asked again
            # Why the server was not asked matters only where there is a server to ask.
            self.similar.show_patients(found.patients, found.server_note if lookup else "")
            if self._register_after_check:
                self._register_after_check = False
                self.submit()
            elif then_register and found.patients:
                self.similar.focus_list()  # Enter: the same person; Alt+N: a new patient
            elif then_register:
                super(RegisterPatientDialog, self).submit()

        def failed(exc: BaseException) -> None:
            self._checking = self._register_after_check = False
            if then_register:
                self.save_button.setEnabled(True)
            self.show_error(exc)

        self.session.run(
            lambda: similar_patients(clinic, draft, lookup),
            success=shown,
            failure=failed,
            owner=self,
            label=_("Looking for this patient…"),
        )

    def _register_new(self) -> None:
        self._new_for = self.draft()
        self.similar.clear()
        super().submit()

    def _same_person(self, patient: SimilarPatient) -> None:
        if self.similar.isHidden():
            return  # chosen already (Enter reaches the list and the panel)
        if patient.where == "server":
            self._bring(patient)
            return
        self.similar.clear()
        self.existing_chosen.emit(patient.patient_id)
        self.discard_and_close()

    def _bring(self, patient: SimilarPatient) -> None:
        """Bring a patient found only on the central server onto this device (audited by the
        look-up), then open their chart; nothing is registered."""
        lookup, server_id = self._lookup, patient.server_id
        if lookup is None or not server_id or not self.similar.isEnabled():
            return
        self.similar.setEnabled(False)  # one bring at a time

        def brought(result: BroughtPatient) -> None:
            self.similar.setEnabled(True)
            self.similar.clear()
            self.existing_chosen.emit(result.patient_id)
            self.discard_and_close()

        def failed(exc: BaseException) -> None:
            self.similar.setEnabled(True)
            self.similar.focus_list()
            self.show_error(exc)

        self.session.run(
            lambda: lookup.bring(server_id),
            success=brought,
            failure=failed,
            owner=self,
            label=_("Bringing the patient's record…"),
        )

    def discard_and_close(self) -> None:
        """Close without registering and without asking: the person is already here."""
        self._discard_confirmed = True
        self.reject()

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
        super().__init__(session, _("Edit demographics"), parent)
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
            ("given", _("Given name")),
            ("family", _("Family name")),
            ("birth_date", _("Birth date")),
        ):
            self.inputs[name] = self.add_field(name, label, QLineEdit(self.before[name] or ""))
        self.inputs["sex"] = self.add_field("sex", _("Sex"), sex_combo(self, patient.sex))
        for name, label in (("phone", _("Phone")), ("address", _("Address"))):
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
