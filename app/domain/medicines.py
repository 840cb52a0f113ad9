"""What a typed drug or allergy is made of: ingredient and class ids.

A clinician types "Augmentin", "amoxycillin 500 mg caps", "TMP/SMX" or "ibuprofin"; the
allergy and duplicate checks must compare what is in the drug, not the words used for it.
Resolution goes, in order: the whole text as a listed name (INN, brand, BAN/USAN spelling,
local name), the text without strengths and dose forms, a combination of listed parts
("amoxicillin + clavulanate"), and last a spelling slip (one letter wrong, missing, extra or
two swapped) that is close to exactly one listed medicine. Anything else is unresolved and
the caller must say so rather than accept it silently.

Pure: the vocabulary arrives in the Catalog; lookups are built once per catalog.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.domain.reference import Catalog, Medicine, fold

# Dropped when the whole text matches nothing: how a drug is packed or given, or words that
# only say the text is about an allergy ("Augmentin allergy", "sulpha drugs").
# i18n: ignore (unit words matched in typed doses, never shown)
_FILLER_WORDS = """
    tablet tablets tab tabs caplet caplets capsule capsules cap caps syrup suspension susp
    injection inj infusion cream ointment gel lotion drops drop solution sol elixir powder
    sachet sachets suppository suppositories pessary inhaler vial vials ampoule ampoules
    oral po iv im sc topical dispersible chewable for of the mg g mcg ug ml iu unit units
    forte duo ds ss es xr sr er retard bd
    allergy allergies allergic to intolerance intolerant sensitivity sensitive
    hypersensitivity reaction reactions drug drugs medicine medicines medication medications
    class group family all any antibiotic antibiotics product products containing
"""
FILLER = frozenset(_FILLER_WORDS.split())
_STRENGTH = re.compile(r"\d[\d.,]*(mg|g|mcg|ug|ml|iu|u|units?|mmol|meq|%)?")
# "Tylenol with codeine", "amoxicillin and clavulanate": words that join parts like "+".
_JOINERS = frozenset({"and", "with", "plus"})
_NOT_A_LETTER = re.compile(r"[^\w+]|_")
_PLUS = re.compile(r"\s*[+/&]\s*")
# A spelling slip is only trusted on names this long: short names sit too close together.
FUZZY_MIN_LENGTH = 6
_CACHE_LIMIT = 4096
K = TypeVar("K")
V = TypeVar("V")


def words(text: str) -> list[str]:
    """Case-, accent- and punctuation-free words; "+" (also for "/" and "&") is a word."""
    plain = _PLUS.sub(" + ", fold(text))
    return _NOT_A_LETTER.sub(" ", plain).split()


def key_of(tokens: Iterable[str]) -> str:
    """Spaces and hyphens never matter: "co-trimoxazole" == "cotrimoxazole"."""
    return "".join(tokens)


def essential_words(tokens: list[str]) -> list[str]:
    """The words without filler and strengths, and without dangling "+"."""
    kept = [t for t in tokens if t not in FILLER and not _STRENGTH.fullmatch(t)]
    tidy: list[str] = []
    for token in kept:
        if token == "+" and (not tidy or tidy[-1] == "+"):
            continue
        tidy.append(token)
    while tidy and tidy[-1] == "+":
        tidy.pop()
    return tidy


def _parts(tokens: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token == "+" or token in _JOINERS:
            parts.append([])
        else:
            parts[-1].append(token)
    return [p for p in parts if p]


def one_slip_apart(a: str, b: str) -> bool:
    """True if b is a with one letter changed, dropped, added, or two neighbours swapped."""
    if a == b:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    if abs(len(a) - len(b)) != 1:
        return False
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


def _name_variants(name: str) -> Iterator[str]:
    """A listed name, and for "epinephrine (adrenaline)" each half on its own."""
    yield name
    if "(" in name:
        outside, _, inside = name.partition("(")
        yield outside
        yield inside.rstrip(") ")


@dataclass(frozen=True)
class DrugMatch:
    """What a typed drug resolved to. `how`: "listed" (a catalogue name or id), "name" (a
    brand, synonym or other spelling), "combination" (listed parts), "spelling" (a slip
    close to one listed name) or "none"."""

    text: str
    medicine: Medicine | None = None
    ingredients: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    how: str = "none"
    unknown: tuple[str, ...] = ()  # parts that matched nothing
    read_as: str | None = None  # the listed name a spelling slip was read as

    @property
    def complete(self) -> bool:
        """Every part of the drug is known, so the checks saw all of it."""
        return bool(self.ingredients) and not self.unknown


@dataclass
class Lookups:
    medicines: dict[str, set[str]] = field(default_factory=dict)  # key -> medicine ids
    own_keys: dict[str, set[str]] = field(default_factory=dict)  # medicine id -> its own keys
    allergens: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    by_ingredients: dict[frozenset[str], str] = field(default_factory=dict)
    class_level: frozenset[str] = frozenset()  # classes a catalogued class allergy names
    drugs: dict[str, DrugMatch] = field(default_factory=dict)
    # (allergy text, substance id) -> its resolution (app.domain.allergens)
    allergies: dict[tuple[str, str | None], Any] = field(default_factory=dict)


def lookups(catalog: Catalog) -> Lookups:
    found = catalog.memo.get("medicines")
    if isinstance(found, Lookups):
        return found
    idx = Lookups()
    for med in catalog.medicines.values():
        own = idx.own_keys.setdefault(med.id, set())
        for text in (med.id, *_name_variants(med.name)):
            key = key_of(words(text))
            if key:
                own.add(key)
                idx.medicines.setdefault(key, set()).add(med.id)
    for name, med_id in catalog.medicine_names.items():
        key = key_of(words(name))
        if key and med_id in catalog.medicines:
            idx.medicines.setdefault(key, set()).add(med_id)
    for med in sorted(catalog.medicines.values(), key=lambda m: m.id):
        if len(med.ingredient_ids) > 1 or med.ingredients:
            idx.by_ingredients.setdefault(med.ingredient_ids, med.id)
    for sub in catalog.substances.values():
        for text in (sub.id, *_name_variants(sub.name)):
            _add_allergen(idx, text, ("substance", sub.id))
    for name, sub_id in catalog.allergy_names.items():
        if sub_id in catalog.substances:
            _add_allergen(idx, name, ("substance", sub_id))
    for class_id, display in catalog.class_names.items():
        for text in (class_id, *_name_variants(display)):
            _add_allergen(idx, text, ("class", class_id))
            _add_allergen(idx, text + "s", ("class", class_id))
    idx.class_level = frozenset(
        c for s in catalog.substances.values() if not s.medicines for c in s.classes
    )
    catalog.memo["medicines"] = idx
    return idx


def _add_allergen(idx: Lookups, text: str, target: tuple[str, str]) -> None:
    key = key_of(words(text))
    if key:
        idx.allergens.setdefault(key, set()).add(target)


def remember(cache: dict[K, V], key: K, value: V) -> V:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


# -- drugs -----------------------------------------------------------------------------------


def resolve_drug(catalog: Catalog, text: str) -> DrugMatch:
    """The ingredients and classes of a typed drug (see the module docstring)."""
    idx = lookups(catalog)
    text = text.strip()
    cached = idx.drugs.get(text)
    if cached is not None:
        return cached
    return remember(idx.drugs, text, _resolve_drug(catalog, idx, text))


def _resolve_drug(catalog: Catalog, idx: Lookups, text: str) -> DrugMatch:
    tokens = words(text)
    essential = essential_words(tokens)
    for candidate in (tokens, essential):
        match = _listed(catalog, idx, text, key_of(candidate))
        if match is not None:
            return match
    parts = _parts(essential)
    if len(parts) > 1:
        return _combination(catalog, idx, text, parts)
    return _slip(catalog, idx, text, key_of(essential)) or DrugMatch(text, unknown=(text,))


def _listed(catalog: Catalog, idx: Lookups, text: str, key: str) -> DrugMatch | None:
    ids = idx.medicines.get(key) if key else None
    if not ids or len(ids) != 1:
        return None  # unknown, or a name two medicines share: never guess between them
    (med_id,) = ids
    how = "listed" if key in idx.own_keys.get(med_id, ()) else "name"
    return _of_medicine(catalog, text, catalog.medicines[med_id], how)


def _of_medicine(
    catalog: Catalog, text: str, med: Medicine, how: str, read_as: str | None = None
) -> DrugMatch:
    return DrugMatch(text, med, med.ingredient_ids, _classes_of(catalog, med), how, read_as=read_as)


def _classes_of(catalog: Catalog, med: Medicine) -> frozenset[str]:
    classes = set(med.classes)
    for ingredient in med.ingredients:
        known = catalog.medicines.get(ingredient)
        if known is not None:
            classes |= known.classes
    return frozenset(classes)


def _slip(catalog: Catalog, idx: Lookups, text: str, key: str) -> DrugMatch | None:
    if len(key) < FUZZY_MIN_LENGTH - 1:
        return None
    near = {
        med_id
        for name, ids in idx.medicines.items()
        if len(name) >= FUZZY_MIN_LENGTH and one_slip_apart(key, name)
        for med_id in ids
    }
    if len(near) != 1:
        return None  # nothing close, or close to two different medicines: do not guess
    med = catalog.medicines[near.pop()]
    return _of_medicine(catalog, text, med, "spelling", read_as=med.name)


def _combination(catalog: Catalog, idx: Lookups, text: str, parts: list[list[str]]) -> DrugMatch:
    ingredients: set[str] = set()
    classes: set[str] = set()
    unknown: list[str] = []
    slips: list[str] = []
    for part in parts:
        shown = " ".join(part)
        match = _listed(catalog, idx, shown, key_of(part)) or _slip(
            catalog, idx, shown, key_of(part)
        )
        if match is None:
            unknown.append(shown)
            continue
        ingredients |= match.ingredients
        classes |= match.classes
        if match.read_as:
            slips.append(match.read_as)
    product_id = idx.by_ingredients.get(frozenset(ingredients)) if not unknown else None
    product = catalog.medicines.get(product_id) if product_id else None
    if product is not None:
        classes |= _classes_of(catalog, product)
    return DrugMatch(
        text,
        product,
        frozenset(ingredients),
        frozenset(classes),
        "spelling" if slips else "combination",
        tuple(unknown),
        " + ".join(slips) or None,
    )


def ingredients_of_item(catalog: Catalog, data: dict[str, object]) -> frozenset[str]:
    """The ingredients of a prescription on the chart: as recorded, else from its drug id or
    name (server copies and prescriptions recorded before ingredients were)."""
    recorded = data.get("ingredient_ids")
    if isinstance(recorded, list) and recorded:
        return frozenset(str(i) for i in recorded)
    med = catalog.medicines.get(str(data.get("drug_id") or ""))
    if med is not None:
        return med.ingredient_ids
    return resolve_drug(catalog, str(data.get("drug") or "")).ingredients
