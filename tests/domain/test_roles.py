"""Who may run what: clinicians run clinical commands; staff register, edit demographics and
schedule; admins manage users, devices and sync but record no clinical data. Enforced by the
domain (`check_role`, called first by `decide`), not only by the UI."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.decide import RULES, check_role, decide
from app.domain.errors import RoleError
from app.domain.roles import Actor, Role
from tests.clinic_fixtures import ADMIN, DESK, DOC, prescription
from tests.domain.builders import PID, context

CLINICAL = [
    c.StartEncounter,
    c.FinishEncounter,
    c.RecordVitals,
    c.RecordDiagnosis,
    c.ResolveDiagnosis,
    c.RecordAllergy,
    c.UpdateAllergyStatus,
    c.PrescribeMedication,
    c.DiscontinueMedication,
    c.ChangeDose,
    c.AddNote,
    c.DeclineProtocolSuggestion,
    c.RecordTestResult,
    c.RecordUrineDipstick,
    c.ReferPatient,
    c.CancelReferral,
]
# Front desk, including settling sync conflicts (a person decides, whoever is at the desk).
FRONT_DESK = [
    c.RegisterPatient,
    c.UpdateDemographics,
    c.ScheduleFollowUp,
    c.RescheduleAppointment,
    c.CancelAppointment,
    c.MarkAttended,
    c.MarkNoShow,
    c.MarkEnteredInError,
    c.ResolveSyncConflict,
    # Staff copy cards only (historical doses): decide refuses them a dose given here
    # (tests/domain/test_decide_immunization.py).
    c.RecordImmunization,
    c.RecordCallAttempt,
    c.RemoveFromWorklist,
    # Staff only for demographics-only records (decide; tests/services/test_merge.py).
    c.MergePatients,
    c.UndoMerge,
]

# One valid-looking instance per command type (role checks come before any other check).
SAMPLES: dict[type[c.Command], c.Command] = {
    c.RegisterPatient: c.RegisterPatient(
        given="A", family="B", birth_date="1980-01-01", sex="male"
    ),
    c.UpdateDemographics: c.UpdateDemographics(patient_id=PID),
    c.StartEncounter: c.StartEncounter(patient_id=PID),
    c.FinishEncounter: c.FinishEncounter(patient_id=PID, encounter_id="e"),
    c.RecordVitals: c.RecordVitals(patient_id=PID, heart_rate=70),
    c.RecordDiagnosis: c.RecordDiagnosis(patient_id=PID, text="x"),
    c.ResolveDiagnosis: c.ResolveDiagnosis(patient_id=PID, diagnosis_id="d"),
    c.RecordAllergy: c.RecordAllergy(patient_id=PID, substance="x"),
    c.UpdateAllergyStatus: c.UpdateAllergyStatus(patient_id=PID, allergy_id="a", status="inactive"),
    c.PrescribeMedication: prescription(PID, "x", dose=1, frequency="QD"),
    c.DiscontinueMedication: c.DiscontinueMedication(
        patient_id=PID, prescription_id="m", reason="x"
    ),
    c.ChangeDose: c.ChangeDose(patient_id=PID, prescription_id="m", dose=2),
    c.AddNote: c.AddNote(patient_id=PID, text="x"),
    c.RecordTestResult: c.RecordTestResult(patient_id=PID, test="haemoglobin", value=12),
    c.RecordUrineDipstick: c.RecordUrineDipstick(patient_id=PID, protein="1+"),
    c.ReferPatient: c.ReferPatient(patient_id=PID, to_facility="x", reason="x"),
    c.CancelReferral: c.CancelReferral(patient_id=PID, referral_id="r", reason="x"),
    c.RecordCallAttempt: c.RecordCallAttempt(patient_id=PID, outcome="moved"),
    c.RemoveFromWorklist: c.RemoveFromWorklist(patient_id=PID, reason="x"),
    c.ScheduleFollowUp: c.ScheduleFollowUp(patient_id=PID, clinician="doc", start="x"),
    c.RescheduleAppointment: c.RescheduleAppointment(patient_id=PID, appointment_id="a", start="x"),
    c.CancelAppointment: c.CancelAppointment(patient_id=PID, appointment_id="a"),
    c.MarkAttended: c.MarkAttended(patient_id=PID, appointment_id="a"),
    c.MarkNoShow: c.MarkNoShow(patient_id=PID, appointment_id="a"),
    c.MarkEnteredInError: c.MarkEnteredInError(patient_id=PID, item_id="i", reason="x"),
    c.RecordImmunization: c.RecordImmunization(
        patient_id=PID, vaccine="bcg", dose_number=1, historical=True
    ),
    c.DeclineProtocolSuggestion: c.DeclineProtocolSuggestion(
        patient_id=PID, vitals_id="v", suggestion="x", reason="x"
    ),
    c.MergePatients: c.MergePatients(patient_id=PID, replaced_patient_id="p2", reason="x"),
    c.UndoMerge: c.UndoMerge(patient_id=PID, merge_id="m", reason="x"),
    c.ResolveSyncConflict: c.ResolveSyncConflict(
        patient_id=PID, conflict_command_id="cmd", resolution="take-servers"
    ),
}


def test_every_command_is_in_exactly_one_family_and_has_a_rule() -> None:
    assert sorted(t.__name__ for t in CLINICAL + FRONT_DESK) == sorted(
        t.__name__ for t in c.ALL_COMMANDS
    )
    assert set(RULES) == set(c.ALL_COMMANDS) == set(SAMPLES)


@pytest.mark.parametrize("command_type", CLINICAL, ids=lambda t: t.__name__)
def test_clinical_commands_are_for_clinicians_only(command_type: type[c.Command]) -> None:
    command = SAMPLES[command_type]
    check_role(command, context(actor=DOC))
    for actor, role in ((DESK, "staff"), (ADMIN, "admin")):
        with pytest.raises(RoleError) as info:
            check_role(command, context(actor=actor))
        assert info.value.message == (
            f"A user with the {role} role may not {command_type.LABEL}; this needs a clinician"
        )


@pytest.mark.parametrize("command_type", FRONT_DESK, ids=lambda t: t.__name__)
def test_front_desk_commands_are_for_staff_and_clinicians(command_type: type[c.Command]) -> None:
    command = SAMPLES[command_type]
    check_role(command, context(actor=DOC))
    check_role(command, context(actor=DESK))
    with pytest.raises(RoleError) as info:
        check_role(command, context(actor=ADMIN))
    assert info.value.message == (
        f"A user with the admin role may not {command_type.LABEL}; this needs a clinician or staff"
    )


def test_the_role_message_reads_plainly() -> None:
    with pytest.raises(RoleError) as info:
        check_role(SAMPLES[c.RecordVitals], context(actor=DESK))
    assert info.value.message == (
        "A user with the staff role may not record vitals; this needs a clinician"
    )
    assert info.value.field is None


def test_decide_checks_the_role_before_anything_else() -> None:
    # No chart at all: a role refusal, not "patient not registered".
    with pytest.raises(RoleError):
        decide(None, SAMPLES[c.AddNote], context(actor=Actor("it", Role.ADMIN)))
