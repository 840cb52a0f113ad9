"""Prescriptions: prescribe (with the allergy and duplicate checks), change a dose, stop.

The checks compare ingredients and drug classes, never only the typed words: the drug and
each recorded allergy are resolved through the medicine list (app.domain.medicines) first.
A drug that cannot be resolved is refused unless the prescriber acknowledges that it was
not checked, so nothing is ever accepted silently unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain import commands as c
from app.domain import values as v
from app.domain.allergens import AllergenMatch, resolve_allergen
from app.domain.chart import Item, PatientChart
from app.domain.context import DecisionContext
from app.domain.decide_clinical import DEFAULT_ROUTES, encounter_of, new_item_id
from app.domain.decision import Decision, require_item, require_registered
from app.domain.errors import (
    AllergyConflictError,
    AlreadyDoneError,
    PreconditionError,
    ValidationError,
)
from app.domain.events import MedicationDiscontinued, MedicationDoseChanged, MedicationPrescribed
from app.domain.medicines import DrugMatch, ingredients_of_item, resolve_drug
from app.domain.reference import Catalog, allergy_terms, drug_terms, fold
from app.domain.wording import N_, Text, t

# The field a refusal of an unresolved drug names, so a form can offer its confirmation.
UNCHECKED_FIELD = "unchecked_acknowledged"


def prescribe(
    chart: PatientChart | None, cmd: c.PrescribeMedication, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    catalog = ctx.catalog
    drug_text = v.required_text(cmd.drug, "drug", N_("Drug"))
    dose = v.number(cmd.dose, "dose", N_("Dose"), 0.0001, 100_000, cmd.dose_unit or "")
    dose_unit = v.required_text(cmd.dose_unit, "dose_unit", N_("Dose unit"), max_len=20)
    routes = catalog.routes or DEFAULT_ROUTES
    route = v.choice(cmd.route, "route", N_("Route"), routes)
    frequency = v.required_text(cmd.frequency, "frequency", N_("Frequency"), max_len=40)
    if cmd.duration_days is not None and (
        isinstance(cmd.duration_days, bool)
        or not isinstance(cmd.duration_days, int)
        or not 1 <= cmd.duration_days <= 3650
    ):
        raise ValidationError(
            t("Duration must be a whole number of days from 1 to 3650"), "duration_days"
        )
    override = v.text(
        cmd.override_reason, "override_reason", N_("Override reason"), required=False, max_len=500
    )
    drug = resolve_drug(catalog, drug_text)
    medicine = drug.medicine
    # The catalogue's spelling when the text is the catalogue's name or a corrected slip;
    # otherwise what was typed (a brand name matters to whoever dispenses it).
    exact = catalog.medicine_named(drug_text) or catalog.medicines.get(drug_text)
    named = medicine if medicine is not None and (exact or drug.how == "spelling") else None
    drug_name = named.name if named is not None else drug_text
    clashes, cautions = _allergy_checks(chart, catalog, drug, drug_text)
    if clashes and override is None:
        raise AllergyConflictError(
            t(
                "The patient has a recorded allergy to {substance} that matches {drug_name}; "
                "give a reason to override",
                substance=clashes[0].data["substance"],
                drug_name=drug_name,
            ),
            clashes[0].id,
        )
    unchecked = not drug.complete
    # Only an explicit True confirms (a command built in code could carry any truthy value).
    if unchecked and cmd.unchecked_acknowledged is not True:
        raise ValidationError(_not_listed(drug, drug_text), UNCHECKED_FIELD)
    warnings = _drug_warnings(drug, drug_text, drug_name)
    warnings += [
        t(
            "Possible cross-reactivity: the patient has a recorded allergy to {substance}, "
            "and {drug} belongs to a related drug class; check the reaction before giving it",
            substance=a.data["substance"],
            drug=drug_name,
        )
        for a in cautions
    ]
    duplicate = _duplicate(chart, catalog, drug, drug_text, drug_name)
    if duplicate:
        warnings.append(duplicate)
    return Decision(
        [
            MedicationPrescribed(
                prescription_id=new_item_id(chart, cmd.prescription_id, "prescription_id", ctx),
                drug=drug_name,
                drug_id=medicine.id if medicine else None,
                dose=dose,
                dose_unit=dose_unit,
                route=route or "",
                frequency=frequency,
                prescribed_at=v.iso(ctx.now),
                duration_days=cmd.duration_days,
                encounter_id=encounter_of(chart, cmd.encounter_id),
                instructions=v.text(
                    cmd.instructions,
                    "instructions",
                    N_("Instructions"),
                    required=False,
                    max_len=1000,
                ),
                override_reason=override if clashes else None,
                overridden_allergy_ids=[a.id for a in clashes],
                ingredient_ids=sorted(drug.ingredients),
                drug_match=None if unchecked else drug.how,
                typed_drug=drug_text if drug.how == "spelling" else None,
                unchecked=unchecked,
            )
        ],
        v.iso(ctx.now),
        warnings,
    )


def allergen_of(catalog: Catalog, data: Mapping[str, Any]) -> AllergenMatch:
    """What a recorded allergy (its chart item data) rules out: its text resolved now (the
    list may have grown since), plus what was resolved when it was recorded."""
    match = resolve_allergen(catalog, str(data.get("substance") or ""), data.get("substance_id"))
    stored = AllergenMatch(
        match.text,
        ingredients=frozenset(data.get("ingredient_ids") or ()),
        classes=frozenset(data.get("class_ids") or ()),
        caution_classes=frozenset(data.get("caution_class_ids") or ()),
    )
    return match.merged(stored)


def _allergy_checks(
    chart: PatientChart, catalog: Catalog, drug: DrugMatch, drug_text: str
) -> tuple[list[Item], list[Item]]:
    """(allergies the drug is ruled out by, allergies it may cross-react with)."""
    clashes, cautions = [], []
    for allergy in chart.of_kind("allergy"):
        if not allergy.active:
            continue
        verdict = allergy_verdict(catalog, drug, drug_text, allergy.data)
        if verdict == CLASH:
            clashes.append(allergy)
        elif verdict == CAUTION:
            cautions.append(allergy)
    return clashes, cautions


CLASH, CAUTION = "clash", "caution"


def allergy_verdict(
    catalog: Catalog, drug: DrugMatch, drug_text: str, allergy: Mapping[str, Any]
) -> str | None:
    """CLASH if an allergy (its chart item data) rules the drug out, CAUTION if the drug may
    cross-react with it, else None."""
    allergen = allergen_of(catalog, allergy)
    ingredients = drug.ingredients | ({drug.medicine.id} if drug.medicine else set())
    substance = catalog.substances.get(allergy.get("substance_id") or "")
    # The exact-name rule of old (id, name, classes, typed text) still applies: it is all an
    # unresolved allergy or drug can be checked by.
    by_name = drug_terms(drug.medicine, drug_text) & allergy_terms(
        substance, str(allergy.get("substance") or "")
    )
    if ingredients & allergen.ingredients or drug.classes & allergen.classes or by_name:
        return CLASH
    if drug.classes & allergen.caution_classes:
        return CAUTION
    return None


def _not_listed(drug: DrugMatch, drug_text: str) -> Text:
    if not drug.ingredients:
        return t(
            "{drug} is not in the medicine list — allergies and duplicates were not "
            "checked; confirm to prescribe it anyway",
            drug=drug_text,
        )
    return t(
        "{parts} (in {drug}) is not in the medicine list — allergies and duplicates "
        "were not checked for it; confirm to prescribe it anyway",
        parts=", ".join(drug.unknown),
        drug=drug_text,
    )


def _drug_warnings(drug: DrugMatch, drug_text: str, drug_name: str) -> list[Text]:
    if not drug.complete:
        return [
            t(
                "{drug} is not in the medicine list: allergies and duplicates were checked "
                "against its name only",
                drug=drug_name,
            )
        ]
    if drug.how == "spelling":
        return [
            t(
                "“{typed}” was read as {read_as}, the closest name in the medicine "
                "list; check that this is the drug you meant",
                typed=drug_text,
                read_as=drug.read_as,
            )
        ]
    return []


def _duplicate(
    chart: PatientChart, catalog: Catalog, drug: DrugMatch, drug_text: str, drug_name: str
) -> Text | None:
    drug_key = drug.medicine.id if drug.medicine else fold(drug_text)
    shared_with: tuple[Item, frozenset[str]] | None = None
    for other in chart.of_kind("medication"):
        if not other.active:
            continue
        other_key = other.data.get("drug_id") or fold(other.data["drug"])
        if other_key == drug_key:
            return t(
                "{drug} is already prescribed and active (duplicate prescription)", drug=drug_name
            )
        shared = drug.ingredients & ingredients_of_item(catalog, other.data)
        if shared and shared_with is None:
            shared_with = (other, shared)
    if shared_with is None:
        return None
    other, shared = shared_with
    names = " and ".join(
        sorted(catalog.medicines[i].name if i in catalog.medicines else i for i in shared)
    )
    return t(
        "{drug} contains {names}, already prescribed and active in {other} "
        "(duplicate prescription)",
        drug=drug_name,
        names=names,
        other=other.data["drug"],
    )


def change_dose(chart: PatientChart | None, cmd: c.ChangeDose, ctx: DecisionContext) -> Decision:
    chart = require_registered(chart)
    item = require_item(
        chart, cmd.prescription_id, "medication", "prescription_id", N_("prescription")
    )
    if item.status != "active":
        raise ValidationError(
            t(
                "This prescription has been stopped, so its dose can no longer be changed; "
                "prescribe again if the patient should continue"
            ),
            "prescription_id",
        )
    current = float(item.data["dose"])
    if cmd.expected_dose is not None and float(cmd.expected_dose) != current:
        raise PreconditionError(
            t("The dose was changed by someone else since you opened the chart"),
            "dose",
            expected=cmd.expected_dose,
            actual=current,
        )
    unit = v.required_text(
        cmd.dose_unit or item.data["dose_unit"], "dose_unit", N_("Dose unit"), max_len=20
    )
    dose = v.number(cmd.dose, "dose", N_("Dose"), 0.0001, 100_000, unit)
    frequency = v.required_text(
        cmd.frequency or item.data["frequency"], "frequency", N_("Frequency"), max_len=40
    )
    if (dose, unit, frequency) == (current, item.data["dose_unit"], item.data["frequency"]):
        raise AlreadyDoneError(t("The prescription already has this dose"), "dose")
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
                reason=v.text(cmd.reason, "reason", N_("Reason"), required=False, max_len=500),
            )
        ],
        v.iso(ctx.now),
    )


def discontinue(
    chart: PatientChart | None, cmd: c.DiscontinueMedication, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    item = require_item(
        chart, cmd.prescription_id, "medication", "prescription_id", N_("prescription")
    )
    if item.status != "active":
        raise AlreadyDoneError(t("This prescription is already stopped"), "prescription_id")
    reason = v.required_text(cmd.reason, "reason", N_("Reason"), max_len=500)
    return Decision(
        [
            MedicationDiscontinued(
                prescription_id=cmd.prescription_id, reason=reason, discontinued_at=v.iso(ctx.now)
            )
        ],
        v.iso(ctx.now),
    )
