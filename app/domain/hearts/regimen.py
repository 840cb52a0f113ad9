"""What the protocol reads from a chart: the hypertension diagnosis, the newest blood
pressure, the antihypertensives taken now, and what may not be given (allergies, the
child-bearing-age rule, drug classes never combined).

Entered-in-error items and stopped prescriptions are not read (Item.active).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.domain.chart import Item, PatientChart
from app.domain.decide_clinical import DRUG_CATEGORIES
from app.domain.decide_medication import CLASH, allergy_verdict
from app.domain.hearts.protocol import Component, DrugOption, Protocol
from app.domain.medicines import ingredients_of_item, resolve_drug
from app.domain.reference import Catalog
from app.domain.wording import N_, Text, t


@dataclass(frozen=True)
class BloodPressure:
    vitals_id: str
    taken_at: str
    systolic: float
    diastolic: float

    @property
    def text(self) -> str:
        return f"{self.systolic:g}/{self.diastolic:g} mmHg"


@dataclass(frozen=True)
class Taking:
    """An active prescription that is one of a component's options."""

    item: Item
    component: Component
    option: DrugOption
    # Its dose in the option's unit; None when it cannot be compared (another unit, or the
    # option is one part of a combination product).
    dose: float | None


def hypertension(chart: PatientChart, protocol: Protocol) -> Item | None:
    """An active diagnosis whose ICD-10 code is one of the protocol's (I10-I15)."""
    for item in chart.of_kind("diagnosis"):
        code = str(item.data.get("code") or "").upper()
        if item.active and code and code.startswith(protocol.diagnosis_codes):
            return item
    return None


def latest_blood_pressure(chart: PatientChart) -> BloodPressure | None:
    """The newest recorded blood pressure by clinical time (recording order breaks ties)."""
    readings = []
    for order, item in enumerate(chart.of_kind("vitals")):
        m = item.data.get("measurements") or {}
        if item.active and "systolic" in m and "diastolic" in m:
            taken = str(item.data.get("taken_at") or "")
            readings.append((_instant(taken), order, item, taken, m))
    if not readings:
        return None
    _, _, item, taken, m = max(readings, key=lambda r: (r[0], r[1]))
    return BloodPressure(item.id, taken, float(m["systolic"]), float(m["diastolic"]))


_NEVER = datetime(1, 1, 2, tzinfo=UTC)  # an unreadable time sorts first


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _NEVER
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def active_medications(chart: PatientChart) -> list[Item]:
    return [m for m in chart.of_kind("medication") if m.active]


def taking(chart: PatientChart, protocol: Protocol, catalog: Catalog) -> dict[str, list[Taking]]:
    """Component id -> the active prescriptions that are one of its options."""
    found: dict[str, list[Taking]] = {}
    for item in active_medications(chart):
        ingredients = ingredients_of_item(catalog, item.data)
        for component in protocol.components:
            for option in component.options:
                if option.medicine in ingredients:
                    found.setdefault(component.id, []).append(
                        Taking(item, component, option, _dose(item, option, ingredients))
                    )
    return found


def _dose(item: Item, option: DrugOption, ingredients: frozenset[str]) -> float | None:
    unit = str(item.data.get("dose_unit") or "").strip().casefold()
    if len(ingredients) != 1 or unit != option.unit.casefold():
        return None
    try:
        return float(item.data["dose"])
    except (KeyError, TypeError, ValueError):
        return None


def classes_taken(chart: PatientChart, catalog: Catalog) -> frozenset[str]:
    """The drug classes of every active prescription."""
    classes: set[str] = set()
    for item in active_medications(chart):
        for ingredient in ingredients_of_item(catalog, item.data):
            medicine = catalog.medicines.get(ingredient)
            if medicine is not None:
                classes |= medicine.classes
    return frozenset(classes)


def allergy_to(chart: PatientChart, catalog: Catalog, medicine_id: str) -> str | None:
    """The recorded allergy (its substance as written) that rules the medicine out, if any:
    the same ingredient and class check a prescription gets."""
    drug = resolve_drug(catalog, medicine_id)
    for allergy in chart.of_kind("allergy"):
        if not allergy.active:
            continue
        if allergy.data.get("category", "medication") not in DRUG_CATEGORIES:
            continue
        if allergy_verdict(catalog, drug, medicine_id, allergy.data) == CLASH:
            return str(allergy.data.get("substance") or "a recorded allergy")
    return None


def age_on(birth_date: str, today: date) -> int | None:
    try:
        born = date.fromisoformat(birth_date)
    except (TypeError, ValueError):
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def child_bearing_reason(
    chart: PatientChart, protocol: Protocol, catalog: Catalog, today: date
) -> Text | None:
    """Why the child-bearing rule applies to this patient ("pregnant", "a woman of
    child-bearing age without recorded contraception"), or None."""
    rule = protocol.child_bearing
    if rule is None:
        return None
    for item in chart.of_kind("diagnosis"):
        code = str(item.data.get("code") or "").upper()
        if item.active and code and code.startswith(rule.pregnancy_codes):
            return t(N_("the patient is pregnant"))
    if str(chart.demographics.get("sex") or "").casefold() != rule.sex.casefold():
        return None
    age = age_on(str(chart.demographics.get("birth_date") or ""), today)
    if age is None or not rule.min_age <= age <= rule.max_age:
        return None
    if classes_taken(chart, catalog) & rule.contraception_classes:
        return None
    return t("a woman aged {age} (child-bearing age) without recorded contraception", age=age)
