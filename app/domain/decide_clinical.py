"""Encounters, vitals, diagnoses, allergies, prescriptions and notes."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain import commands as c
from app.domain import values as v
from app.domain.allergens import resolve_allergen
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.decision import Decision, require_item, require_registered
from app.domain.errors import (
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
    NoteAdded,
    VitalsRecorded,
)
from app.domain.reference import VITAL_TEXT, fold
from app.domain.vitals_rules import check_blood_pressure
from app.domain.wording import N_, Text, t

# Plausible (low, high) of each vital sign, used when the bundled list lacks a vital (keeps
# the domain usable with an empty catalog); its label and unit are VITAL_TEXT's.
VITAL_RANGES: Mapping[str, tuple[float, float]] = {
    "systolic": (40, 300),
    "diastolic": (20, 200),
    "heart_rate": (20, 300),
    "respiratory_rate": (4, 80),
    "temperature": (25, 45),
    "spo2": (50, 100),
    "weight": (0.2, 500),
    "height": (20, 272),
}
ALLERGY_CATEGORIES = ("food", "medication", "environment", "biologic")
SEVERITIES = ("mild", "moderate", "severe")
CRITICALITIES = ("low", "high", "unable-to-assess")
ALLERGY_STATUSES = ("active", "inactive", "resolved")
# Allergies that prescriptions are checked against (foods and the environment are not).
DRUG_CATEGORIES = ("medication", "biologic")
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
        raise ValidationError(t("An item with this id already exists on the chart"), field)
    if ctx.item_id_taken(chosen):
        raise ValidationError(
            t("This id is already used by an item on another patient's chart; choose another"),
            field,
        )
    return chosen


def encounter_of(chart: PatientChart, encounter_id: str | None) -> str | None:
    if encounter_id:
        require_item(chart, encounter_id, "encounter", "encounter_id", N_("encounter"))
    return encounter_id or None


def start_encounter(
    chart: PatientChart | None, cmd: c.StartEncounter, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    encounter_id = new_item_id(chart, cmd.encounter_id, "encounter_id", ctx)
    started = v.past_instant(cmd.started_at, "started_at", N_("Start time"), ctx.now)
    reason = v.text(cmd.reason, "reason", N_("Reason"), required=False)
    return Decision(
        [EncounterStarted(encounter_id=encounter_id, started_at=started, reason=reason)], started
    )


def finish_encounter(
    chart: PatientChart | None, cmd: c.FinishEncounter, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    item = require_item(chart, cmd.encounter_id, "encounter", "encounter_id", N_("encounter"))
    if item.status != "in-progress":
        raise AlreadyDoneError(t("This encounter is already finished"), "encounter_id")
    finished = v.past_instant(cmd.finished_at, "finished_at", N_("Finish time"), ctx.now)
    if v.instant(finished, "finished_at", N_("Finish time")) < v.instant(
        item.data["started_at"], "started_at", N_("Start time")
    ):
        raise ValidationError(t("An encounter cannot finish before it started"), "finished_at")
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
        known = ctx.catalog.vitals.get(key)
        low, high = VITAL_RANGES[key] if known is None else (known.minimum, known.maximum)
        text = VITAL_TEXT[key]
        measurements[key] = v.number(raw, key, text.label, low, high, text.unit)
    if not measurements:
        raise ValidationError(t("Enter at least one measurement"), "systolic")
    if ("systolic" in measurements) != ("diastolic" in measurements):
        missing = "diastolic" if "systolic" in measurements else "systolic"
        raise ValidationError(t("Blood pressure needs both systolic and diastolic values"), missing)
    if "systolic" in measurements and measurements["diastolic"] >= measurements["systolic"]:
        raise ValidationError(t("Diastolic pressure must be below systolic pressure"), "diastolic")
    if "systolic" in measurements:
        check_blood_pressure(measurements["systolic"], measurements["diastolic"])
    bmi = None
    if "weight" in measurements and "height" in measurements:
        metres = measurements["height"] / 100
        bmi = round(measurements["weight"] / (metres * metres), 1)
    taken = v.past_instant(cmd.taken_at, "taken_at", N_("Time taken"), ctx.now)
    return Decision(
        [
            VitalsRecorded(
                vitals_id=new_item_id(chart, cmd.vitals_id, "vitals_id", ctx),
                taken_at=taken,
                measurements=measurements,
                bmi=bmi,
                encounter_id=encounter_of(chart, cmd.encounter_id),
            )
        ],
        taken,
    )


def record_diagnosis(
    chart: PatientChart | None, cmd: c.RecordDiagnosis, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    code = v.text(cmd.code, "code", N_("ICD-10 code"), required=False, max_len=10)
    free_text = v.text(cmd.text, "text", N_("Diagnosis"), required=False, max_len=500)
    if code is not None:
        code = code.upper()
        known = ctx.catalog.icd10.get(code)
        if known is None:
            raise ValidationError(
                t(
                    "{code} is not in the bundled ICD-10 list; pick a listed code or enter the "
                    "diagnosis as free text",
                    code=code,
                ),
                "code",
            )
        free_text = free_text or known.title
    if free_text is None:
        raise ValidationError(t("Enter an ICD-10 code or describe the diagnosis"), "text")
    onset = v.past_instant(cmd.onset, "onset", N_("Onset"), ctx.now) if cmd.onset else None
    return Decision(
        [
            DiagnosisRecorded(
                diagnosis_id=new_item_id(chart, cmd.diagnosis_id, "diagnosis_id", ctx),
                code=code,
                text=free_text,
                recorded_at=v.iso(ctx.now),
                onset=onset,
                encounter_id=encounter_of(chart, cmd.encounter_id),
            )
        ],
        onset or v.iso(ctx.now),
    )


def resolve_diagnosis(
    chart: PatientChart | None, cmd: c.ResolveDiagnosis, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    item = require_item(chart, cmd.diagnosis_id, "diagnosis", "diagnosis_id", N_("diagnosis"))
    if item.status != "active":
        raise AlreadyDoneError(t("This diagnosis is already resolved"), "diagnosis_id")
    resolved = v.past_instant(cmd.resolved_at, "resolved_at", N_("Resolution time"), ctx.now)
    return Decision(
        [DiagnosisResolved(diagnosis_id=cmd.diagnosis_id, resolved_at=resolved)], resolved
    )


def record_allergy(
    chart: PatientChart | None, cmd: c.RecordAllergy, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    substance_text = v.required_text(cmd.substance, "substance", N_("Substance"))
    # Resolved to ingredients and classes now, so the chart can say when it could not be:
    # such an allergy is only checked against prescriptions of exactly its name.
    found = resolve_allergen(ctx.catalog, substance_text)
    known = found.substance
    category = v.choice(
        cmd.category or (known.category if known else "medication"),
        "category",
        N_("Category"),
        ALLERGY_CATEGORIES,
    )
    severity = v.choice(cmd.severity, "severity", N_("Severity"), SEVERITIES, required=False)
    criticality = v.choice(cmd.criticality, "criticality", N_("Criticality"), CRITICALITIES)
    for other in chart.of_kind("allergy"):
        if other.active and fold(other.data["substance"]) == fold(substance_text):
            raise ValidationError(t("This allergy is already recorded and active"), "substance")
    unresolved = not found.resolved and category in DRUG_CATEGORIES
    warnings: list[Text] = []
    if unresolved:
        warnings.append(
            t(
                "{substance} is not matched to the medicine list — prescriptions are only "
                "checked against its exact name",
                substance=substance_text,
            )
        )
    elif found.how == "spelling" and found.read_as:
        warnings.append(
            t(
                "“{typed}” was read as {read_as}, the closest name in the medicine "
                "list; check that this is the substance you meant",
                typed=substance_text,
                read_as=found.read_as,
            )
        )
    return Decision(
        [
            AllergyRecorded(
                allergy_id=new_item_id(chart, cmd.allergy_id, "allergy_id", ctx),
                substance=substance_text,
                substance_id=known.id if known else None,
                category=category or "medication",
                criticality=criticality or "unable-to-assess",
                recorded_at=v.iso(ctx.now),
                reaction=v.text(cmd.reaction, "reaction", N_("Reaction"), required=False),
                severity=severity,
                ingredient_ids=sorted(found.ingredients),
                class_ids=sorted(found.classes),
                caution_class_ids=sorted(found.caution_classes),
                substance_match=found.how if found.resolved else None,
                unresolved=unresolved,
            )
        ],
        v.iso(ctx.now),
        warnings,
    )


def update_allergy_status(
    chart: PatientChart | None, cmd: c.UpdateAllergyStatus, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    item = require_item(chart, cmd.allergy_id, "allergy", "allergy_id", N_("allergy"))
    status = v.choice(cmd.status, "status", N_("Status"), ALLERGY_STATUSES)
    if cmd.expected_status is not None and cmd.expected_status != item.status:
        raise PreconditionError(
            t("The allergy's status was changed by someone else"),
            "status",
            expected=cmd.expected_status,
            actual=item.status,
        )
    if status == item.status:
        raise AlreadyDoneError(t("The allergy is already {status}", status=status), "status")
    return Decision(
        [
            AllergyStatusChanged(
                allergy_id=cmd.allergy_id, status=status or "", previous=item.status
            )
        ],
        v.iso(ctx.now),
    )


def add_note(chart: PatientChart | None, cmd: c.AddNote, ctx: DecisionContext) -> Decision:
    chart = require_registered(chart)
    body = v.required_text(cmd.text, "text", N_("Note"), max_len=v.MAX_TEXT)
    return Decision(
        [
            NoteAdded(
                note_id=new_item_id(chart, cmd.note_id, "note_id", ctx),
                text=body,
                written_at=v.iso(ctx.now),
                encounter_id=encounter_of(chart, cmd.encounter_id),
            )
        ],
        v.iso(ctx.now),
    )
