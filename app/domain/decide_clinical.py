"""Encounters, vitals, diagnoses, allergies, prescriptions and notes."""

from __future__ import annotations

from app.domain import commands as c
from app.domain import values as v
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.decision import Decision, require_item, require_registered
from app.domain.errors import (
    AllergyConflictError,
    AlreadyDoneError,
    PreconditionError,
    ValidationError,
)
from app.domain.events import (
    AllergyRecorded,
    AllergyStatusChanged,
    DiagnosisRecorded,
    DiagnosisResolved,
    EncounterFinished,
    EncounterStarted,
    MedicationDiscontinued,
    MedicationDoseChanged,
    MedicationPrescribed,
    NoteAdded,
    VitalsRecorded,
)
from app.domain.reference import allergy_terms, caution_terms, drug_terms, fold

# Used when the bundled list lacks a vital (keeps the domain usable with an empty catalog).
VITAL_RANGES: dict[str, tuple[str, float, float, str]] = {
    "systolic": ("Systolic pressure", 40, 300, "mmHg"),
    "diastolic": ("Diastolic pressure", 20, 200, "mmHg"),
    "heart_rate": ("Heart rate", 20, 300, "/min"),
    "respiratory_rate": ("Respiratory rate", 4, 80, "/min"),
    "temperature": ("Temperature", 25, 45, "°C"),
    "spo2": ("SpO2", 50, 100, "%"),
    "weight": ("Weight", 0.2, 500, "kg"),
    "height": ("Height", 20, 272, "cm"),
}
ALLERGY_CATEGORIES = ("food", "medication", "environment", "biologic")
SEVERITIES = ("mild", "moderate", "severe")
CRITICALITIES = ("low", "high", "unable-to-assess")
ALLERGY_STATUSES = ("active", "inactive", "resolved")
DEFAULT_ROUTES = frozenset(
    {
        "oral",
        "intravenous",
        "intramuscular",
        "subcutaneous",
        "topical",
        "inhaled",
        "rectal",
        "vaginal",
        "ophthalmic",
        "sublingual",
        "nasal",
        "otic",
        "transdermal",
    }
)


def new_item_id(chart: PatientChart, value: str | None, field: str, ctx: DecisionContext) -> str:
    """The client-chosen id (checked and unused) or a fresh one."""
    if not value:
        return ctx.new_id()
    chosen = v.item_id(value, field)
    if chosen in chart.items:
        raise ValidationError("An item with this id already exists on the chart", field)
    if ctx.item_id_taken(chosen):
        raise ValidationError(
            "This id is already used by an item on another patient's chart; choose another", field
        )
    return chosen


def _encounter(chart: PatientChart, encounter_id: str | None) -> str | None:
    if encounter_id:
        require_item(chart, encounter_id, "encounter", "encounter_id", "encounter")
    return encounter_id or None


def start_encounter(
    chart: PatientChart | None, cmd: c.StartEncounter, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    encounter_id = new_item_id(chart, cmd.encounter_id, "encounter_id", ctx)
    started = v.past_instant(cmd.started_at, "started_at", "Start time", ctx.now)
    reason = v.text(cmd.reason, "reason", "Reason", required=False)
    return Decision(
        [EncounterStarted(encounter_id=encounter_id, started_at=started, reason=reason)], started
    )


def finish_encounter(
    chart: PatientChart | None, cmd: c.FinishEncounter, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    item = require_item(chart, cmd.encounter_id, "encounter", "encounter_id", "encounter")
    if item.status != "in-progress":
        raise AlreadyDoneError("This encounter is already finished", "encounter_id")
    finished = v.past_instant(cmd.finished_at, "finished_at", "Finish time", ctx.now)
    if v.instant(finished, "finished_at", "Finish time") < v.instant(
        item.data["started_at"], "started_at", "Start time"
    ):
        raise ValidationError("An encounter cannot finish before it started", "finished_at")
    return Decision(
        [EncounterFinished(encounter_id=cmd.encounter_id, finished_at=finished)], finished
    )


def record_vitals(
    chart: PatientChart | None, cmd: c.RecordVitals, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    measurements: dict[str, float] = {}
    for key in c.VITAL_FIELDS:
        raw = getattr(cmd, key)
        if raw is None:
            continue
        label, low, high, unit = VITAL_RANGES[key]
        known = ctx.catalog.vitals.get(key)
        if known is not None:
            low, high = known.minimum, known.maximum
        measurements[key] = v.number(raw, key, label, low, high, unit)
    if not measurements:
        raise ValidationError("Enter at least one measurement", "systolic")
    if ("systolic" in measurements) != ("diastolic" in measurements):
        missing = "diastolic" if "systolic" in measurements else "systolic"
        raise ValidationError("Blood pressure needs both systolic and diastolic values", missing)
    if "systolic" in measurements and measurements["diastolic"] >= measurements["systolic"]:
        raise ValidationError("Diastolic pressure must be below systolic pressure", "diastolic")
    bmi = None
    if "weight" in measurements and "height" in measurements:
        metres = measurements["height"] / 100
        bmi = round(measurements["weight"] / (metres * metres), 1)
    taken = v.past_instant(cmd.taken_at, "taken_at", "Time taken", ctx.now)
    return Decision(
        [
            VitalsRecorded(
                vitals_id=new_item_id(chart, cmd.vitals_id, "vitals_id", ctx),
                taken_at=taken,
                measurements=measurements,
                bmi=bmi,
                encounter_id=_encounter(chart, cmd.encounter_id),
            )
        ],
        taken,
    )


def record_diagnosis(
    chart: PatientChart | None, cmd: c.RecordDiagnosis, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    code = v.text(cmd.code, "code", "ICD-10 code", required=False, max_len=10)
    free_text = v.text(cmd.text, "text", "Diagnosis", required=False, max_len=500)
    if code is not None:
        code = code.upper()
        known = ctx.catalog.icd10.get(code)
        if known is None:
            raise ValidationError(
                f"{code} is not in the bundled ICD-10 list; pick a listed code or enter the "
                "diagnosis as free text",
                "code",
            )
        free_text = free_text or known.title
    if free_text is None:
        raise ValidationError("Enter an ICD-10 code or describe the diagnosis", "text")
    onset = v.past_instant(cmd.onset, "onset", "Onset", ctx.now) if cmd.onset else None
    return Decision(
        [
            DiagnosisRecorded(
                diagnosis_id=new_item_id(chart, cmd.diagnosis_id, "diagnosis_id", ctx),
                code=code,
                text=free_text,
                recorded_at=v.iso(ctx.now),
                onset=onset,
                encounter_id=_encounter(chart, cmd.encounter_id),
            )
        ],
        onset or v.iso(ctx.now),
    )


def resolve_diagnosis(
    chart: PatientChart | None, cmd: c.ResolveDiagnosis, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    item = require_item(chart, cmd.diagnosis_id, "diagnosis", "diagnosis_id", "diagnosis")
    if item.status != "active":
        raise AlreadyDoneError("This diagnosis is already resolved", "diagnosis_id")
    resolved = v.past_instant(cmd.resolved_at, "resolved_at", "Resolution time", ctx.now)
    return Decision(
        [DiagnosisResolved(diagnosis_id=cmd.diagnosis_id, resolved_at=resolved)], resolved
    )


def record_allergy(
    chart: PatientChart | None, cmd: c.RecordAllergy, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    substance_text = v.required_text(cmd.substance, "substance", "Substance")
    known = ctx.catalog.substance_named(substance_text)
    category = v.choice(
        cmd.category or (known.category if known else "medication"),
        "category",
        "Category",
        ALLERGY_CATEGORIES,
    )
    severity = v.choice(cmd.severity, "severity", "Severity", SEVERITIES, required=False)
    criticality = v.choice(cmd.criticality, "criticality", "Criticality", CRITICALITIES)
    for other in chart.of_kind("allergy"):
        if other.active and fold(other.data["substance"]) == fold(substance_text):
            raise ValidationError("This allergy is already recorded and active", "substance")
    return Decision(
        [
            AllergyRecorded(
                allergy_id=new_item_id(chart, cmd.allergy_id, "allergy_id", ctx),
                substance=substance_text,
                substance_id=known.id if known else None,
                category=category or "medication",
                criticality=criticality or "unable-to-assess",
                recorded_at=v.iso(ctx.now),
                reaction=v.text(cmd.reaction, "reaction", "Reaction", required=False),
                severity=severity,
            )
        ],
        v.iso(ctx.now),
    )


def update_allergy_status(
    chart: PatientChart | None, cmd: c.UpdateAllergyStatus, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    item = require_item(chart, cmd.allergy_id, "allergy", "allergy_id", "allergy")
    status = v.choice(cmd.status, "status", "Status", ALLERGY_STATUSES)
    if cmd.expected_status is not None and cmd.expected_status != item.status:
        raise PreconditionError(
            "The allergy's status was changed by someone else",
            "status",
            expected=cmd.expected_status,
            actual=item.status,
        )
    if status == item.status:
        raise AlreadyDoneError(f"The allergy is already {status}", "status")
    return Decision(
        [
            AllergyStatusChanged(
                allergy_id=cmd.allergy_id, status=status or "", previous=item.status
            )
        ],
        v.iso(ctx.now),
    )


def prescribe(
    chart: PatientChart | None, cmd: c.PrescribeMedication, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    drug_text = v.required_text(cmd.drug, "drug", "Drug")
    medicine = ctx.catalog.medicines.get(drug_text) or ctx.catalog.medicine_named(drug_text)
    dose = v.number(cmd.dose, "dose", "Dose", 0.0001, 100_000, cmd.dose_unit or "")
    dose_unit = v.required_text(cmd.dose_unit, "dose_unit", "Dose unit", max_len=20)
    routes = ctx.catalog.routes or DEFAULT_ROUTES
    route = v.choice(cmd.route, "route", "Route", routes)
    frequency = v.required_text(cmd.frequency, "frequency", "Frequency", max_len=40)
    if cmd.duration_days is not None and (
        isinstance(cmd.duration_days, bool)
        or not isinstance(cmd.duration_days, int)
        or not 1 <= cmd.duration_days <= 3650
    ):
        raise ValidationError(
            "Duration must be a whole number of days from 1 to 3650", "duration_days"
        )
    override = v.text(
        cmd.override_reason, "override_reason", "Override reason", required=False, max_len=500
    )
    terms = drug_terms(medicine, drug_text)
    drug_name = medicine.name if medicine else drug_text
    classes = {fold(c) for c in medicine.classes} if medicine else set()
    clashes, cautions = [], []
    for allergy in chart.of_kind("allergy"):
        if not allergy.active:
            continue
        substance = ctx.catalog.substances.get(allergy.data.get("substance_id") or "")
        if terms & allergy_terms(substance, allergy.data["substance"]):
            clashes.append(allergy)
        elif caution_terms(substance) & classes:
            cautions.append(allergy)
    if clashes and override is None:
        raise AllergyConflictError(
            f"The patient has a recorded allergy to {clashes[0].data['substance']} that matches "
            f"{drug_name}; give a reason to override",
            clashes[0].id,
        )
    warnings = [
        f"Possible cross-reactivity: the patient has a recorded allergy to "
        f"{a.data['substance']}, and {drug_name} belongs to a related drug class; "
        "check the reaction before giving it"
        for a in cautions
    ]
    drug_key = medicine.id if medicine else fold(drug_text)
    for other in chart.of_kind("medication"):
        other_key = other.data.get("drug_id") or fold(other.data["drug"])
        if other.active and other_key == drug_key:
            warnings.append(
                f"{drug_name} is already prescribed and active (duplicate prescription)"
            )
            break
    return Decision(
        [
            MedicationPrescribed(
                prescription_id=new_item_id(chart, cmd.prescription_id, "prescription_id", ctx),
                drug=medicine.name if medicine else drug_text,
                drug_id=medicine.id if medicine else None,
                dose=dose,
                dose_unit=dose_unit,
                route=route or "",
                frequency=frequency,
                prescribed_at=v.iso(ctx.now),
                duration_days=cmd.duration_days,
                encounter_id=_encounter(chart, cmd.encounter_id),
                instructions=v.text(
                    cmd.instructions, "instructions", "Instructions", required=False, max_len=1000
                ),
                override_reason=override if clashes else None,
                overridden_allergy_ids=[a.id for a in clashes],
            )
        ],
        v.iso(ctx.now),
        warnings,
    )


def change_dose(chart: PatientChart | None, cmd: c.ChangeDose, ctx: DecisionContext) -> Decision:
    chart = require_registered(chart)
    item = require_item(chart, cmd.prescription_id, "medication", "prescription_id", "prescription")
    if item.status != "active":
        raise ValidationError(
            "This prescription has been stopped, so its dose can no longer be changed; "
            "prescribe again if the patient should continue",
            "prescription_id",
        )
    current = float(item.data["dose"])
    if cmd.expected_dose is not None and float(cmd.expected_dose) != current:
        raise PreconditionError(
            "The dose was changed by someone else since you opened the chart",
            "dose",
            expected=cmd.expected_dose,
            actual=current,
        )
    unit = v.required_text(
        cmd.dose_unit or item.data["dose_unit"], "dose_unit", "Dose unit", max_len=20
    )
    dose = v.number(cmd.dose, "dose", "Dose", 0.0001, 100_000, unit)
    frequency = v.required_text(
        cmd.frequency or item.data["frequency"], "frequency", "Frequency", max_len=40
    )
    if (dose, unit, frequency) == (current, item.data["dose_unit"], item.data["frequency"]):
        raise AlreadyDoneError("The prescription already has this dose", "dose")
    return Decision(
        [
            MedicationDoseChanged(
                prescription_id=cmd.prescription_id,
                dose=dose,
                dose_unit=unit,
                frequency=frequency,
                previous_dose=current,
                previous_dose_unit=item.data["dose_unit"],
                previous_frequency=item.data["frequency"],
                changed_at=v.iso(ctx.now),
                reason=v.text(cmd.reason, "reason", "Reason", required=False, max_len=500),
            )
        ],
        v.iso(ctx.now),
    )


def discontinue(
    chart: PatientChart | None, cmd: c.DiscontinueMedication, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    item = require_item(chart, cmd.prescription_id, "medication", "prescription_id", "prescription")
    if item.status != "active":
        raise AlreadyDoneError("This prescription is already stopped", "prescription_id")
    reason = v.required_text(cmd.reason, "reason", "Reason", max_len=500)
    return Decision(
        [
            MedicationDiscontinued(
                prescription_id=cmd.prescription_id, reason=reason, discontinued_at=v.iso(ctx.now)
            )
        ],
        v.iso(ctx.now),
    )


def add_note(chart: PatientChart | None, cmd: c.AddNote, ctx: DecisionContext) -> Decision:
    chart = require_registered(chart)
    body = v.required_text(cmd.text, "text", "Note", max_len=v.MAX_TEXT)
    return Decision(
        [
            NoteAdded(
                note_id=new_item_id(chart, cmd.note_id, "note_id", ctx),
                text=body,
                written_at=v.iso(ctx.now),
                encounter_id=_encounter(chart, cmd.encounter_id),
            )
        ],
        v.iso(ctx.now),
    )
