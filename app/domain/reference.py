"""Reference data the domain checks against (ICD-10 subset, medicines, allergy substances).

Plain values only; loading the bundled JSON files is the store's job.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.immunization_schedule import ImmunizationSchedule, Vaccine
from app.domain.poc_tests import PocTest
from app.domain.wording import N_, Text, as_text, joined, t

# Letters that Unicode does not decompose into a base letter plus accent.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ß": "ss",
        "ł": "l",
        "đ": "d",
        "þ": "th",
        "ð": "d",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
    }
)


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for every name comparison."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.translate(_LETTERS).strip()


@dataclass(frozen=True)
class Icd10Code:
    code: str
    title: str


@dataclass(frozen=True)
class Medicine:
    id: str
    name: str
    classes: frozenset[str] = frozenset()
    routes: tuple[str, ...] = ()
    rxnorm: str | None = None
    # Ingredient medicine ids; empty means the medicine is its own single ingredient. Allergy
    # and duplicate checks compare ingredients, so "Augmentin" meets an amoxicillin allergy.
    ingredients: frozenset[str] = frozenset()
    # Only given as part of a combination (clavulanic acid): pick-lists may hide it.
    component_only: bool = False

    @property
    def ingredient_ids(self) -> frozenset[str]:
        return self.ingredients or frozenset({self.id})


@dataclass(frozen=True)
class AllergySubstance:
    id: str
    name: str
    classes: frozenset[str] = frozenset()  # drug classes this allergy rules out
    medicines: frozenset[str] = frozenset()  # medicine ids this allergy rules out
    category: str = "medication"
    # Drug classes with possible cross-reactivity (penicillin -> cephalosporin): a caution
    # when prescribing, not a refusal.
    caution_classes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VitalText:
    """How FieldChart writes one vital sign for people."""

    label: str  # forms, the chart summary, plots
    short: str  # one-line summaries: chart lists and the timeline
    unit: str  # the unit as people read it (vitals.json `unit_label`; not the UCUM code)


# The one home of vital-sign wording, in the order of the vitals form and the summary. It is
# here, not only in resources/codes/vitals.json, because the read models and the domain
# cannot read files; the store's loader refuses a vitals.json whose keys or `unit_label`s
# disagree, and fills VitalSign's text from this table.
VITAL_TEXT: Mapping[str, VitalText] = {
    "systolic": VitalText(N_("Systolic BP"), N_("BP"), "mmHg"),  # short: written with diastolic
    "diastolic": VitalText(N_("Diastolic BP"), N_("BP"), "mmHg"),
    "heart_rate": VitalText(N_("Heart rate"), N_("HR"), "/min"),
    "respiratory_rate": VitalText(N_("Respiratory rate"), N_("RR"), "/min"),
    "temperature": VitalText(N_("Temperature"), N_("Temp"), "°C"),
    "spo2": VitalText(N_("SpO₂"), N_("SpO₂"), "%"),
    "weight": VitalText(N_("Weight"), N_("Weight"), "kg"),
    "height": VitalText(N_("Height"), N_("Height"), "cm"),
    "bmi": VitalText(N_("BMI"), N_("BMI"), "kg/m²"),
}


def vitals_line(measurements: Mapping[str, Any], bmi: Any = None) -> Text:
    """One set of vitals in one line ("BP 120/80 mmHg, HR 72 /min, ..., BMI 22.9"), in the
    form's order; blood pressure only as a pair, BMI without its unit. Empty (false) if none.
    The short names are N_-marked: the reader's language renders them."""
    parts: list[Text] = []
    if "systolic" in measurements and "diastolic" in measurements:
        bp = VITAL_TEXT["systolic"]
        pair = f"{_n(measurements['systolic'])}/{_n(measurements['diastolic'])}"
        parts.append(t("{name} {value} {unit}", name=as_text(bp.short), value=pair, unit=bp.unit))
    for key, text in VITAL_TEXT.items():
        if key in measurements and key not in ("systolic", "diastolic", "bmi"):
            value = _n(measurements[key])
            parts.append(
                t("{name} {value} {unit}", name=as_text(text.short), value=value, unit=text.unit)
            )
    if bmi is not None:
        parts.append(t("{name} {value}", name=as_text(VITAL_TEXT["bmi"].short), value=_n(bmi)))
    return joined(parts, ", ")


def _n(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class VitalSign:
    key: str
    loinc: str
    display: str  # the LOINC display (FHIR), not what the chart shows
    unit: str  # UCUM
    minimum: float
    maximum: float
    # What the chart shows: VITAL_TEXT's entry for `key` (the loader fills these).
    label: str = ""
    short_label: str = ""
    unit_label: str = ""


@dataclass(frozen=True)
class Catalog:
    icd10: Mapping[str, Icd10Code] = field(default_factory=dict)
    medicines: Mapping[str, Medicine] = field(default_factory=dict)
    substances: Mapping[str, AllergySubstance] = field(default_factory=dict)
    vitals: Mapping[str, VitalSign] = field(default_factory=dict)
    routes: frozenset[str] = frozenset()
    frequencies: frozenset[str] = frozenset()
    # Other names of medicines (brands, BAN/USAN spellings, local names) -> medicine id.
    medicine_names: Mapping[str, str] = field(default_factory=dict)
    # Free-text allergy phrases ("sulpha drugs", "NSAIDs") -> allergy substance id.
    allergy_names: Mapping[str, str] = field(default_factory=dict)
    # Drug class id -> display (lets an allergy typed as a class name resolve to the class).
    class_names: Mapping[str, str] = field(default_factory=dict)
    # Drug class id -> substance id: an allergy to any member counts as an allergy to the
    # class (an amoxicillin allergy is a penicillin allergy).
    class_allergies: Mapping[str, str] = field(default_factory=dict)
    # Vaccines (resources/codes/vaccines.json) by id, and the routine schedule in effect.
    vaccines: Mapping[str, Vaccine] = field(default_factory=dict)
    immunization_schedule: ImmunizationSchedule = field(default_factory=ImmunizationSchedule)
    # Point-of-care tests (resources/codes/poc_tests.json) by key.
    poc_tests: Mapping[str, PocTest] = field(default_factory=dict)
    # Lookups derived from the fields above, built once per catalog by app.domain.medicines
    # (a catalog is read-only after loading). Not an init field, so dataclasses.replace()
    # gives the changed catalog fresh lookups instead of sharing stale ones.
    memo: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def medicine_named(self, text: str) -> Medicine | None:
        """A bundled medicine whose id or name matches free text, if any."""
        key = fold(text)
        for med in self.medicines.values():
            if key in (fold(med.id), fold(med.name)):
                return med
        return None


def drug_terms(medicine: Medicine | None, free_text: str) -> set[str]:
    """Everything an allergy could match a prescription on: id, name, classes, free text."""
    terms = {fold(free_text)} if free_text else set()
    if medicine is not None:
        terms |= {fold(medicine.id), fold(medicine.name)} | {fold(c) for c in medicine.classes}
    return terms


def allergy_terms(substance: AllergySubstance | None, free_text: str) -> set[str]:
    terms = {fold(free_text)} if free_text else set()
    if substance is not None:
        terms |= {fold(substance.id), fold(substance.name)}
        terms |= {fold(c) for c in substance.classes} | {fold(m) for m in substance.medicines}
    return terms
