"""Every task form opened from a chart, in one place: the chart's actions open them and the
draft registry (reopen.py) rebuilds them by class name. All share ChartFormDialog's
constructor, (session, chart, parent, selected, selected_text)."""

from __future__ import annotations

from app.ui.forms.chart_form import ChartFormDialog
from app.ui.forms.correction_form import EnteredInErrorDialog
from app.ui.forms.encounter_forms import (
    FinishEncounterDialog,
    NoteDialog,
    StartEncounterDialog,
    VitalsDialog,
)
from app.ui.forms.immunization_forms import ImmunizationDialog
from app.ui.forms.medication_forms import ChangeDoseDialog, DiscontinueDialog, PrescribeDialog
from app.ui.forms.problem_forms import (
    AllergyDialog,
    AllergyStatusDialog,
    DiagnosisDialog,
    ResolveDiagnosisDialog,
)
from app.ui.forms.referral_forms import CancelReferralDialog, ReferPatientDialog
from app.ui.forms.test_result_forms import DipstickDialog, TestResultDialog

__all__ = [
    "BY_NAME",
    "AllergyDialog",
    "AllergyStatusDialog",
    "CancelReferralDialog",
    "ChangeDoseDialog",
    "ChartFormDialog",
    "DiagnosisDialog",
    "DipstickDialog",
    "DiscontinueDialog",
    "EnteredInErrorDialog",
    "FinishEncounterDialog",
    "ImmunizationDialog",
    "NoteDialog",
    "PrescribeDialog",
    "ReferPatientDialog",
    "ResolveDiagnosisDialog",
    "StartEncounterDialog",
    "TestResultDialog",
    "VitalsDialog",
]

BY_NAME: dict[str, type[ChartFormDialog]] = {
    form.__name__: form
    for form in (
        VitalsDialog,
        NoteDialog,
        DiagnosisDialog,
        AllergyDialog,
        StartEncounterDialog,
        PrescribeDialog,
        FinishEncounterDialog,
        ResolveDiagnosisDialog,
        AllergyStatusDialog,
        ChangeDoseDialog,
        DiscontinueDialog,
        ReferPatientDialog,
        CancelReferralDialog,
        EnteredInErrorDialog,
        TestResultDialog,
        DipstickDialog,
        ImmunizationDialog,
    )
}
