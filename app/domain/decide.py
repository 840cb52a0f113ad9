"""decide(chart, command, context) -> Decision: the single entry point of the domain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain import commands as c
from app.domain import decide_calls as calls
from app.domain import decide_clinical as clinical
from app.domain import decide_immunization as immunization
from app.domain import decide_medication as medication
from app.domain import decide_patient as patient
from app.domain import decide_referral as referral
from app.domain import decide_schedule as schedule
from app.domain import decide_tests as tests
from app.domain import merge
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.decision import Decision
from app.domain.errors import RoleError, ValidationError
from app.domain.hearts import decline as hearts_decline
from app.domain.wording import as_text, t

Rule = Callable[[PatientChart | None, Any, DecisionContext], Decision]

RULES: dict[type[c.Command], Rule] = {
    c.MergePatients: merge.merge,
    c.UndoMerge: merge.undo,
    c.RegisterPatient: patient.register,
    c.UpdateDemographics: patient.update_demographics,
    c.StartEncounter: clinical.start_encounter,
    c.FinishEncounter: clinical.finish_encounter,
    c.RecordVitals: clinical.record_vitals,
    c.RecordDiagnosis: clinical.record_diagnosis,
    c.ResolveDiagnosis: clinical.resolve_diagnosis,
    c.RecordAllergy: clinical.record_allergy,
    c.UpdateAllergyStatus: clinical.update_allergy_status,
    c.PrescribeMedication: medication.prescribe,
    c.DiscontinueMedication: medication.discontinue,
    c.ChangeDose: medication.change_dose,
    c.AddNote: clinical.add_note,
    c.RecordTestResult: tests.record_test_result,
    c.RecordUrineDipstick: tests.record_dipstick,
    c.RecordImmunization: immunization.record_immunization,
    c.ScheduleFollowUp: schedule.schedule,
    c.RescheduleAppointment: schedule.reschedule,
    c.CancelAppointment: schedule.cancel,
    c.MarkAttended: schedule.attended,
    c.MarkNoShow: schedule.no_show,
    c.MarkEnteredInError: schedule.entered_in_error,
    c.ResolveSyncConflict: patient.resolve_conflict,
    c.DeclineProtocolSuggestion: hearts_decline.decline_suggestion,
    c.ReferPatient: referral.refer,
    c.CancelReferral: referral.cancel,
    c.RecordCallAttempt: calls.record_call,
    c.RemoveFromWorklist: calls.remove_from_worklist,
}


def check_role(command: c.Command, ctx: DecisionContext) -> None:
    if ctx.actor.role not in command.ALLOWED_ROLES:
        allowed = " or ".join(sorted(r.value for r in command.ALLOWED_ROLES))
        raise RoleError(
            t(
                "A user with the {role} role may not {label}; this needs a {allowed}",
                role=ctx.actor.role.value,
                label=as_text(command.LABEL),
                allowed=allowed,
            )
        )


def decide(chart: PatientChart | None, command: c.Command, ctx: DecisionContext) -> Decision:
    """Validate `command` against the chart; return the events to record or raise."""
    check_role(command, ctx)
    if ctx.replaced_by(command.patient_id) is not None:
        # Its items show on the survivor's chart: new ones are recorded there.
        raise ValidationError(
            t("This record was merged into another patient's chart: record on that chart"),
            "patient_id",
        )
    return RULES[type(command)](chart, command, ctx)
