"""One visit recorded for the printing tests: an encounter with vitals, a diagnosis, a
prescription, a test result, a note and a referral, an allergy on the chart, a follow-up booked."""

from __future__ import annotations

from app.domain import commands as c
from app.services.clinic import Clinic
from tests.clinic_fixtures import DESK, DOC, prescription, register


def record_visit(clinic: Clinic, patient_id: str = "pat-print-1") -> str:
    pid = register(clinic, patient_id=patient_id)
    enc = "enc-1"
    for command in (
        c.StartEncounter(patient_id=pid, encounter_id=enc, reason="headache"),
        c.RecordAllergy(patient_id=pid, allergy_id="al-1", substance="Penicillins"),
        c.RecordVitals(
            patient_id=pid, vitals_id="v-1", systolic=162, diastolic=101, encounter_id=enc
        ),
        c.RecordDiagnosis(patient_id=pid, diagnosis_id="dx-1", code="I10", encounter_id=enc),
        prescription(pid, "paracetamol", prescription_id="rx-1", encounter_id=enc),
        prescription(
            pid, "ibuprofen", prescription_id="rx-2", dose=400, frequency="BID", duration_days=5
        ),
        c.RecordTestResult(
            patient_id=pid, result_id="tr-1", test="haemoglobin", value=11.6, encounter_id=enc
        ),
        c.AddNote(patient_id=pid, note_id="n-1", text="Salt intake discussed.", encounter_id=enc),
        c.ReferPatient(
            patient_id=pid,
            referral_id="ref-1",
            to_facility="Mbeya Referral Hospital",
            reason="Blood pressure not controlled",
            urgency="urgent",
            summary_item_ids=("v-1", "dx-1"),
            encounter_id=enc,
        ),
        c.FinishEncounter(patient_id=pid, encounter_id=enc),
    ):
        clinic.commands.execute(command, DOC)
    clinic.commands.execute(
        c.ScheduleFollowUp(
            patient_id=pid, appointment_id="ap-1", clinician="doc", start="2026-12-05T09:30:00Z"
        ),
        DESK,
    )
    return pid
