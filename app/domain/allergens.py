"""What a typed allergy rules out: ingredient and class ids, and cross-reactivity cautions.

"Augmentin allergy", "amoxycillin", "sulpha drugs", "Bactrim", "NSAIDs": the text is matched
against the allergy substances, their other names (allergy_names) and the drug classes, then
resolved as a drug (app.domain.medicines) and last read as a one-letter slip. What does not
resolve is recorded as unresolved, and prescriptions are checked against its exact name only.

Pure: the vocabulary arrives in the Catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.medicines import (
    FUZZY_MIN_LENGTH,
    DrugMatch,
    Lookups,
    essential_words,
    key_of,
    lookups,
    one_slip_apart,
    remember,
    resolve_drug,
    words,
)
from app.domain.reference import AllergySubstance, Catalog


@dataclass(frozen=True)
class AllergenMatch:
    """What a typed allergy rules out (ingredients, classes) and cautions about."""

    text: str
    substance: AllergySubstance | None = None
    ingredients: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    caution_classes: frozenset[str] = frozenset()
    how: str = "none"
    read_as: str | None = None

    @property
    def resolved(self) -> bool:
        return self.substance is not None or bool(self.ingredients or self.classes)

    def merged(self, other: AllergenMatch) -> AllergenMatch:
        return AllergenMatch(
            self.text,
            self.substance or other.substance,
            self.ingredients | other.ingredients,
            self.classes | other.classes,
            self.caution_classes | other.caution_classes,
            self.how if self.how != "none" else other.how,
            self.read_as or other.read_as,
        )


def resolve_allergen(catalog: Catalog, text: str, substance_id: str | None = None) -> AllergenMatch:
    """What an allergy typed as `text` (or linked to a listed substance) rules out."""
    idx = lookups(catalog)
    text = text.strip()
    cached = idx.allergies.get((text, substance_id))
    if isinstance(cached, AllergenMatch):
        return cached
    match = _resolve_allergen(catalog, idx, text, substance_id)
    remember(idx.allergies, (text, substance_id), match)
    return match


def _resolve_allergen(
    catalog: Catalog, idx: Lookups, text: str, substance_id: str | None
) -> AllergenMatch:
    listed = catalog.substances.get(substance_id or "")
    if listed is not None:
        return _of_substance(catalog, text, listed, "listed")
    tokens = words(text)
    essential = essential_words(tokens)
    for candidate in (key_of(tokens), key_of(essential)):
        targets = idx.allergens.get(candidate) if candidate else None
        if targets:
            match = _of_targets(catalog, text, targets, "listed")
            if match is not None:
                return match
    drug = resolve_drug(catalog, text)
    if drug.ingredients:
        return _of_drug(catalog, idx, text, drug)
    key = key_of(essential)
    if len(key) >= FUZZY_MIN_LENGTH - 1:
        near = {
            target
            for name, targets in idx.allergens.items()
            if len(name) >= FUZZY_MIN_LENGTH and one_slip_apart(key, name)
            for target in targets
        }
        match = _of_targets(catalog, text, near, "spelling")
        if match is not None:
            return match
    return AllergenMatch(text)


def _of_targets(
    catalog: Catalog, text: str, targets: set[tuple[str, str]], how: str
) -> AllergenMatch | None:
    substances = {i for kind, i in targets if kind == "substance"}
    classes = {i for kind, i in targets if kind == "class"}
    read_as: str | None
    if len(substances) == 1:
        sub = catalog.substances[substances.pop()]
        read_as = sub.name if how == "spelling" else None
        return _of_substance(catalog, text, sub, how, read_as)
    if not substances and len(classes) == 1:
        class_id = classes.pop()
        read_as = catalog.class_names.get(class_id) if how == "spelling" else None
        return _of_class(catalog, text, class_id, how, read_as)
    return None  # nothing, or two different things: do not guess


def _of_substance(
    catalog: Catalog, text: str, sub: AllergySubstance, how: str, read_as: str | None = None
) -> AllergenMatch:
    ingredients = set(sub.medicines)
    for med_id in sub.medicines:
        med = catalog.medicines.get(med_id)
        if med is not None:
            ingredients |= med.ingredient_ids
    return AllergenMatch(
        text,
        sub,
        frozenset(ingredients),
        sub.classes,
        sub.caution_classes,
        how,
        read_as,
    )


def _of_class(
    catalog: Catalog, text: str, class_id: str, how: str, read_as: str | None
) -> AllergenMatch:
    sub = catalog.substances.get(catalog.class_allergies.get(class_id, ""))
    if sub is not None:
        return _of_substance(catalog, text, sub, how, read_as)
    return AllergenMatch(text, classes=frozenset({class_id}), how=how, read_as=read_as)


def _of_drug(catalog: Catalog, idx: Lookups, text: str, drug: DrugMatch) -> AllergenMatch:
    """An allergy to a drug rules out its ingredients (all of a combination's: which one
    caused the reaction is unknown) and, through the catalogue, what an allergy to each
    ingredient implies: the substance listing it (amoxicillin -> penicillins), a class
    whose members all count (class_allergies), or else a caution on its other classes that
    the catalogue knows as allergy classes (naproxen -> other NSAIDs)."""
    own = {drug.medicine.id} if drug.medicine else set()
    match = AllergenMatch(
        text, ingredients=drug.ingredients | own, how=drug.how, read_as=drug.read_as
    )
    for sub in catalog.substances.values():
        if sub.medicines & (drug.ingredients | own):
            match = match.merged(_of_substance(catalog, text, sub, drug.how))
    for ingredient in drug.ingredients:
        med = catalog.medicines.get(ingredient)
        classes = med.classes if med is not None else drug.classes
        for class_id in classes:
            effect = catalog.substances.get(catalog.class_allergies.get(class_id, ""))
            if effect is not None:
                match = match.merged(_of_substance(catalog, text, effect, drug.how))
            elif class_id in idx.class_level:
                match = match.merged(AllergenMatch(text, caution_classes=frozenset({class_id})))
    return AllergenMatch(
        text,
        None,
        match.ingredients,
        match.classes,
        match.caution_classes - match.classes,
        drug.how,
        drug.read_as,
    )
