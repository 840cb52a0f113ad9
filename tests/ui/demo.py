"""A realistic, invented clinic for screenshots: no real person, plausible data."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.domain import commands as c
from app.services.clinic import Clinic

OTHERS = (
    ("Baraka", "Mwangi", "1962-11-02", "male"),
    ("Neema", "Kilonzo", "2019-05-20", "female"),
    ("Juma", "Otieno", "1975-02-14", "male"),
    ("Wanjiru", "Kamau", "1990-07-01", "female"),
    ("Fatuma", "Hassan", "1948-09-30", "female"),
    ("Kipchoge", "Rotich", "2001-01-17", "male"),
    ("Zawadi", "Njeri", "1987-12-08", "female"),
)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def record_demo_clinic(clinic: Clinic, clinician: str) -> str:
    """Patients, one with a full chart; returns that patient's id."""
    actor = clinic.vault.actor
    run = clinic.commands.execute
    now = clinic.clock().astimezone().replace(microsecond=0)
    pid = run(
        c.RegisterPatient(
            given="Achieng",
            family="Odhiambo",
            birth_date="1971-03-12",
            sex="female",
            phone="+254 712 480 316",
            address="Kisumu, Nyalenda B",
            identifiers=(c.Identifier("National ID", "28456713"),),
        ),
        actor,
    ).patient_id
    for given, family, born, sex in OTHERS:
        run(c.RegisterPatient(given=given, family=family, birth_date=born, sex=sex), actor)
    readings = (  # days ago, systolic, diastolic, heart rate, temperature, SpO2, weight
        (170, 162, 98, 88, 36.8, 97, 84.0),
        (140, 158, 96, 84, 37.1, 98, 83.2),
        (112, 151, 94, 82, 36.9, 97, 82.5),
        (84, 149, 92, 80, 37.4, 96, 81.9),
        (56, 144, 90, 78, 36.7, 98, 81.0),
        (28, 138, 88, 76, 36.9, 98, 80.4),
        (2, 132, 84, 74, 37.0, 98, 79.6),
    )
    for days, sys_, dia, hr, temp, spo2, weight in readings:
        run(
            c.RecordVitals(
                patient_id=pid,
                taken_at=_iso(now - timedelta(days=days, hours=3)),
                systolic=sys_,
                diastolic=dia,
                heart_rate=hr,
                temperature=temp,
                spo2=spo2,
                weight=weight,
                height=162,
            ),
            actor,
        )
    encounter = run(
        c.StartEncounter(patient_id=pid, reason="Hypertension and diabetes review"), actor
    ).item_ids[0]
    run(c.RecordDiagnosis(patient_id=pid, code="I10", encounter_id=encounter), actor)
    run(c.RecordDiagnosis(patient_id=pid, code="E11.9", encounter_id=encounter), actor)
    wrong = run(c.RecordDiagnosis(patient_id=pid, code="J45.909"), actor).item_ids[0]
    run(c.MarkEnteredInError(patient_id=pid, item_id=wrong, reason="Wrong patient"), actor)
    run(
        c.RecordAllergy(
            patient_id=pid,
            substance="Penicillins",
            reaction="Urticaria (hives)",
            severity="moderate",
            criticality="high",
        ),
        actor,
    )
    run(c.RecordAllergy(patient_id=pid, substance="Peanut", reaction="Angioedema"), actor)
    for drug, dose, unit, frequency in (
        ("amlodipine", 5, "mg", "QD"),
        ("metformin", 500, "mg", "BID"),
    ):
        run(
            c.PrescribeMedication(
                patient_id=pid,
                drug=drug,
                dose=dose,
                dose_unit=unit,
                route="oral",
                frequency=frequency,
                duration_days=30,
                encounter_id=encounter,
            ),
            actor,
        )
    run(
        c.AddNote(
            patient_id=pid,
            text="BP improving on amlodipine; fasting glucose 7.9 mmol/L.\n"
            "Continue current treatment, reduce salt, walk 30 minutes a day. Review in 4 weeks.",
            encounter_id=encounter,
        ),
        actor,
    )
    run(c.FinishEncounter(patient_id=pid, encounter_id=encounter), actor)
    run(
        c.ReferPatient(
            patient_id=pid,
            to_facility="Kisumu County Referral Hospital, eye clinic",
            reason="Diabetic retinopathy screening (no fundoscopy here)",
            urgency="routine",
            summary_item_ids=tuple(_summary_ids(clinic, pid)),
            note="Please send the grading and when to screen again.",
        ),
        actor,
    )
    run(
        c.ScheduleFollowUp(
            patient_id=pid,
            clinician=clinician,
            start=_iso(now + timedelta(hours=2)),
            reason="BP and glucose review",
        ),
        actor,
    )
    return pid


def _summary_ids(clinic: Clinic, patient_id: str) -> list[str]:
    """Active problems, allergies, medications and the last vitals: a referral's summary."""
    chart = clinic.queries.chart(patient_id, clinic.vault.actor, record_view=False)
    items = [*chart.problems, *chart.allergies, *chart.medications]
    if chart.last_vitals is not None:
        items.append(chart.last_vitals)
    return [i.item_id for i in items]


def book_day(clinic: Clinic, clinician: str, patient_ids: list[str]) -> None:
    """A few follow-ups around now: some due later today, one overdue."""
    actor = clinic.vault.actor
    now = clinic.clock().astimezone().replace(second=0, microsecond=0)
    slots = (-3, 3, 4, 5)
    for hours, pid in zip(slots, patient_ids, strict=False):
        clinic.commands.execute(
            c.ScheduleFollowUp(
                patient_id=pid,
                clinician=clinician,
                start=_iso(now + timedelta(hours=hours)),
                reason="Follow-up",
            ),
            actor,
        )
