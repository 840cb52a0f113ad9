"""The actions on an open chart (menu, toolbar, keyboard) and the forms they open.

Each action is enabled only when the user's role may run its command, a chart is open, the
chart is not a past ("as of") view, and there is something to act on; otherwise its tooltip
says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QPushButton, QWidget

from app.domain import commands as c
from app.i18n import N_, _
from app.services.dto import ChartView
from app.ui import shortcuts
from app.ui.forms import chart_forms as cf
from app.ui.forms.merge_forms import MergeDialog, UndoMergeDialog
from app.ui.forms.patient_forms import EditDemographicsDialog
from app.ui.forms.schedule_forms import (
    AppointmentRef,
    BookFollowUpDialog,
    CancelAppointmentDialog,
    MoveAppointmentDialog,
)
from app.ui.permissions import gate
from app.ui.referral_text import OPEN_STATUSES
from app.ui.session import ClinicSession


@dataclass(frozen=True)
class Spec:
    text: str  # an English msgid (N_), translated where the action is made
    command: type[c.Command]
    shortcut: str = ""
    needs: str = ""  # the chart list that must not be empty, e.g. "problems"


SPECS: dict[str, Spec] = {
    "vitals": Spec(N_("Record &vitals…"), c.RecordVitals, shortcuts.RECORD_VITALS),
    "note": Spec(N_("Write &note…"), c.AddNote, shortcuts.WRITE_NOTE),
    "prescribe": Spec(N_("&Prescribe…"), c.PrescribeMedication, shortcuts.PRESCRIBE),
    "diagnosis": Spec(N_("Record &diagnosis…"), c.RecordDiagnosis, shortcuts.RECORD_DIAGNOSIS),
    "allergy": Spec(N_("Record &allergy…"), c.RecordAllergy, shortcuts.RECORD_ALLERGY),
    "encounter": Spec(N_("Start &encounter…"), c.StartEncounter, shortcuts.START_ENCOUNTER),
    "finish_encounter": Spec(N_("&Finish encounter…"), c.FinishEncounter, needs="open_encounters"),
    "follow_up": Spec(N_("&Book follow-up…"), c.ScheduleFollowUp, shortcuts.BOOK_FOLLOW_UP),
    "demographics": Spec(N_("Edit de&mographics…"), c.UpdateDemographics),
    "resolve": Spec(N_("&Resolve problem…"), c.ResolveDiagnosis, needs="problems"),
    "allergy_status": Spec(N_("Change allergy &status…"), c.UpdateAllergyStatus, needs="allergies"),
    "change_dose": Spec(N_("Change d&ose…"), c.ChangeDose, needs="medications"),
    "discontinue": Spec(N_("S&top medication…"), c.DiscontinueMedication, needs="medications"),
    "refer": Spec(N_("Re&fer patient…"), c.ReferPatient),
    "cancel_referral": Spec(N_("Cancel referra&l…"), c.CancelReferral, needs="open_referrals"),
    "move": Spec(N_("&Move follow-up…"), c.RescheduleAppointment, needs="booked"),
    "cancel": Spec(N_("&Cancel follow-up…"), c.CancelAppointment, needs="booked"),
    "test_result": Spec(N_("Record test &result…"), c.RecordTestResult),
    "dipstick": Spec(N_("Record urine dipstic&k…"), c.RecordUrineDipstick),
    "immunization": Spec(N_("Record &immunization…"), c.RecordImmunization),
    "entered_in_error": Spec(N_("Mark entered in &error…"), c.MarkEnteredInError),
    "merge": Spec(N_("Mer&ge with another record…"), c.MergePatients),
    "undo_merge": Spec(N_("&Undo merge…"), c.UndoMerge, needs="merges"),
}
# The actions whose form is a chart form (one constructor for all); the others are built below.
CHART_FORMS: dict[str, type[cf.ChartFormDialog]] = {
    "vitals": cf.VitalsDialog,
    "note": cf.NoteDialog,
    "prescribe": cf.PrescribeDialog,
    "diagnosis": cf.DiagnosisDialog,
    "allergy": cf.AllergyDialog,
    "encounter": cf.StartEncounterDialog,
    "finish_encounter": cf.FinishEncounterDialog,
    "resolve": cf.ResolveDiagnosisDialog,
    "allergy_status": cf.AllergyStatusDialog,
    "change_dose": cf.ChangeDoseDialog,
    "discontinue": cf.DiscontinueDialog,
    "refer": cf.ReferPatientDialog,
    "cancel_referral": cf.CancelReferralDialog,
    "test_result": cf.TestResultDialog,
    "dipstick": cf.DipstickDialog,
    "immunization": cf.ImmunizationDialog,
    "entered_in_error": cf.EnteredInErrorDialog,
    "merge": MergeDialog,
    "undo_merge": UndoMergeDialog,
}
NOTHING = {
    "open_encounters": N_("There is no encounter in progress."),
    "problems": N_("There is no active problem."),
    "allergies": N_("There is no allergy on the chart."),
    "medications": N_("There is no active medication."),
    "booked": N_("There is no booked follow-up."),
    "open_referrals": N_("There is no open referral."),
    "merges": N_("No other record is merged into this chart."),
}


class ChartActions(QObject):
    def __init__(self, session: ClinicSession, host: QWidget) -> None:
        super().__init__(host)
        self.session = session
        self.host = host
        self.chart: ChartView | None = None
        self.last_form: QDialog | None = None
        self.actions: dict[str, QAction] = {}
        for key, spec in SPECS.items():
            action = QAction(_(spec.text), host)  # a SPECS msgid
            if spec.shortcut:
                action.setShortcut(QKeySequence(spec.shortcut))
            action.triggered.connect(lambda _=False, k=key: self.open(k))
            self.actions[key] = action
        self.update(None, None)

    def _available(self, chart: ChartView) -> dict[str, bool]:
        return {
            "open_encounters": any(e.status == "in-progress" for e in chart.encounters),
            "problems": bool(chart.problems),
            "allergies": bool(chart.allergies),
            "medications": bool(chart.medications),
            "booked": any(a.status == "booked" for a in chart.appointments),
            "open_referrals": any(r.status in OPEN_STATUSES for r in chart.referrals),
            "merges": bool(chart.merges),
        }

    def update(self, chart: ChartView | None, read_only: str | None) -> None:
        """Re-gate every action for the chart now shown (None: no chart open)."""
        self.chart = chart
        available = self._available(chart) if chart else {}
        for key, spec in SPECS.items():
            reason = self.session.why_not(spec.command)
            if reason is None and chart is None:
                reason = _("Open a patient's chart first.")
            if reason is None and read_only is not None:
                reason = read_only
            if reason is None and spec.needs and not available.get(spec.needs):
                reason = _(NOTHING[spec.needs])  # a NOTHING msgid
            gate(self.actions[key], reason)

    def button(
        self, key: str, label: str, parent: QWidget, clicked: Callable[[], None]
    ) -> QPushButton:
        """A button that follows action `key` (enabled, tooltip) and calls `clicked`."""
        button = QPushButton(label, parent)
        action = self.actions[key]

        def follow() -> None:
            button.setEnabled(action.isEnabled())
            button.setToolTip(action.toolTip())

        follow()
        action.changed.connect(follow)
        button.clicked.connect(lambda _=False: clicked())
        return button

    def open(self, key: str, selected: str | None = None, selected_text: str = "") -> None:
        """Open the form behind action `key` (optionally preselecting an item)."""
        chart, action = self.chart, self.actions[key]
        if chart is None or not action.isEnabled():
            return
        self._show(self._build(key, chart, selected, selected_text))

    def _build(
        self, key: str, chart: ChartView, selected: str | None, selected_text: str
    ) -> QDialog:
        s, host = self.session, self.host
        if key in CHART_FORMS:
            return CHART_FORMS[key](s, chart, host, selected, selected_text)
        if key == "follow_up":
            return BookFollowUpDialog(s, chart.patient, host)
        if key == "demographics":
            return EditDemographicsDialog(s, chart.patient, host)
        booked = [a for a in chart.appointments if a.status == "booked"]
        item = next((a for a in booked if a.item_id == selected), booked[0])
        ref = AppointmentRef.of_item(chart.patient.patient_id, item)
        if key == "move":
            return MoveAppointmentDialog(s, ref, host)
        return CancelAppointmentDialog(s, ref, host)

    def _show(self, dialog: QDialog) -> None:
        self.last_form = dialog
        dialog.open()
