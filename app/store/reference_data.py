"""Loads the bundled code lists (resources/codes/*.json) into the domain's Catalog, plus an
optional IT-edited file of local medicine names (see resources/README.md, "Local medicine
names")."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from app.domain.medicines import key_of, words
from app.domain.reference import (
    VITAL_TEXT,
    AllergySubstance,
    Catalog,
    Icd10Code,
    Medicine,
    VitalSign,
)
from app.i18n import _
from app.store.immunization_data import bundled_schedule, bundled_vaccines, schedule_for
from app.store.poc_tests_data import poc_tests

# A vault's data directory may hold this file; `catalog_for(data_dir)` merges it.
LOCAL_MEDICINES_FILE = "local_medicines.json"
# Or name any such file here; `bundled_catalog()` merges it (for devices set up by script).
LOCAL_MEDICINES_ENV = "FIELDCHART_LOCAL_MEDICINES"

log = logging.getLogger(__name__)


def _read(name: str) -> dict[str, Any]:
    path = resources.files("resources").joinpath("codes", name)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The list of entries of a code file, whatever its key is called."""
    lists = [v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
    return lists[0] if lists else []


def bundled_catalog() -> Catalog:
    """The catalog from the files shipped with FieldChart (read once per process), with the
    local medicine file named by FIELDCHART_LOCAL_MEDICINES merged in when that is set."""
    return _catalog(os.environ.get(LOCAL_MEDICINES_ENV) or None)


def catalog_for(data_dir: Path) -> Catalog:
    """The bundled catalog plus `<data_dir>/local_medicines.json` when that file exists, and
    the immunization schedule IT put in `data_dir`, if any (app/store/immunization_data.py)."""
    local = Path(data_dir) / LOCAL_MEDICINES_FILE
    catalog = _catalog(str(local)) if local.is_file() else bundled_catalog()
    schedule = schedule_for(data_dir)
    if schedule is catalog.immunization_schedule:
        return catalog
    return replace(catalog, immunization_schedule=schedule)


def load_catalog(local: Path | None = None) -> Catalog:
    """The bundled catalog plus the local medicine file `local`, if given (not cached)."""
    catalog = _shipped()
    if local is None:
        return catalog
    problems: list[str] = []
    merged = merge_local(catalog, _read_local(Path(local), problems), problems)
    for problem in problems:
        log.warning("%s: %s", Path(local).name, problem)
    return merged


@lru_cache(maxsize=4)
def _catalog(local: str | None) -> Catalog:
    return load_catalog(Path(local) if local else None)


def check_local_medicines(path: Path) -> list[str]:
    """What is wrong with a local medicine file (empty when every entry was taken)."""
    problems: list[str] = []
    merge_local(_shipped(), _read_local(Path(path), problems), problems)
    return problems


def _read_local(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # Ignoring the file is safe: a name it would have added stays unresolved, and an
        # unresolved drug is never prescribed without the clinician's acknowledgement.
        problems.append(f"not read ({type(exc).__name__}); its names are not used")
        return {}
    if not isinstance(data, dict):
        problems.append("is not a JSON object; its names are not used")
        return {}
    return data


@lru_cache(maxsize=1)
def _shipped() -> Catalog:
    icd = {
        e["code"]: Icd10Code(e["code"], e["title"])
        for e in _entries(_read("icd10_primary_care.json"))
    }
    medicines_data = _read("essential_medicines.json")
    medicines = {
        e["id"]: Medicine(
            e["id"],
            e["name"],
            frozenset(e.get("classes", [])),
            tuple(e.get("routes", [])),
            e.get("rxnorm"),
        )
        for e in _entries(medicines_data)
    }
    substances_data = _read("allergy_substances.json")
    substances = {
        e["id"]: AllergySubstance(
            e["id"],
            e["name"],
            frozenset(e.get("classes", [])),
            frozenset(e.get("medicines", [])),
            e.get("category", "medication"),
            frozenset(e.get("caution_classes", [])),
        )
        for e in _entries({"substances": substances_data.get("substances", [])})
    }
    vitals = _vitals(_entries(_read("vitals.json")))
    terms = _read("medication_terms.json")
    routes = frozenset(r.get("name", r.get("display", "")).lower() for r in terms.get("routes", []))
    frequencies = frozenset(f["code"] for f in terms.get("frequencies", []) if f.get("code"))
    catalog = Catalog(
        icd10=icd,
        medicines=medicines,
        substances=substances,
        vitals=vitals,
        routes=routes,
        frequencies=frequencies,
        class_names={c["id"]: c["display"] for c in medicines_data.get("drug_classes", [])},
        vaccines=bundled_vaccines(),
        immunization_schedule=bundled_schedule(),
        poc_tests=poc_tests(_read("poc_tests.json")),
    )
    problems: list[str] = []
    catalog = merge_vocabulary(catalog, _read("medicine_vocabulary.json"), problems)
    if problems:  # the bundled files are checked by tests; this is a programming error
        raise ValueError("medicine_vocabulary.json: " + "; ".join(problems))
    return catalog


def _vitals(entries: list[dict[str, Any]]) -> dict[str, VitalSign]:
    """The vital signs of vitals.json, worded as the domain's VITAL_TEXT says; a file whose
    keys or unit labels disagree with it is refused (it is bundled and checked by tests)."""
    keys = [e["key"] for e in entries]
    if keys != list(VITAL_TEXT):
        raise ValueError(
            _("vitals.json: keys {keys} are not {VITAL_TEXT}").format(
                keys=keys, VITAL_TEXT=list(VITAL_TEXT)
            )
        )
    vitals = {}
    for e in entries:
        text = VITAL_TEXT[e["key"]]
        if e.get("unit_label") != text.unit:
            raise ValueError(
                _("vitals.json: {value} unit_label {value2} is not {unit}").format(
                    value=e["key"], value2=repr(e.get("unit_label")), unit=repr(text.unit)
                )
            )
        if "min" in e and "max" in e:  # derived values (BMI) carry no range
            vitals[e["key"]] = VitalSign(
                e["key"],
                e["loinc"],
                e["display"],
                e.get("ucum", e.get("unit", "")),
                float(e["min"]),
                float(e["max"]),
                label=text.label,
                short_label=text.short,
                unit_label=text.unit,
            )
    return vitals


def merge_local(catalog: Catalog, data: Mapping[str, Any], problems: list[str]) -> Catalog:
    """Merge a local medicine file: it may add, never change, what the bundled lists say
    (a local "Augmentin" pointing elsewhere would silently defeat the allergy check)."""
    return merge_vocabulary(catalog, data, problems, local=True)


def merge_vocabulary(
    catalog: Catalog, data: Mapping[str, Any], problems: list[str], *, local: bool = False
) -> Catalog:
    """The catalog with a vocabulary file's sections merged in (format: resources/README.md);
    entries that are malformed or contradict the catalog are skipped and described in
    `problems`."""
    medicines = dict(catalog.medicines)
    class_names = dict(catalog.class_names)
    for entry in _list(data, "drug_classes", problems):
        if _has(entry, ("id", "display"), "drug_classes", problems):
            class_names.setdefault(str(entry["id"]), str(entry["display"]))
    for entry in _list(data, "ingredients", problems):
        if not _has(entry, ("id", "name"), "ingredients", problems):
            continue
        if entry["id"] in medicines:
            problems.append(f"ingredient {entry['id']!r} is already listed; skipped")
            continue
        medicines[entry["id"]] = Medicine(
            str(entry["id"]),
            str(entry["name"]),
            frozenset(entry.get("classes", [])),
            tuple(entry.get("routes", [])),
            entry.get("rxnorm"),
            component_only=bool(entry.get("component_only", False)),
        )
    for entry in _list(data, "products", problems):
        _merge_product(medicines, entry, problems, local)
    names = dict(catalog.medicine_names)
    taken = {key_of(words(n)): m for n, m in names.items()}
    for med in medicines.values():
        for text in (med.id, med.name):
            taken.setdefault(key_of(words(text)), med.id)
    for entry in _list(data, "names", problems):
        if not _has(entry, ("name", "medicine"), "names", problems):
            continue
        name, med_id = str(entry["name"]), str(entry["medicine"])
        key = key_of(words(name))
        if med_id not in medicines or not key:
            problems.append(f"name {name!r}: unknown medicine {med_id!r}; skipped")
        elif taken.get(key, med_id) != med_id:
            problems.append(f"name {name!r} already means {taken[key]!r}; skipped")
        else:
            taken[key] = names[name] = med_id
    allergy_names = dict(catalog.allergy_names)
    for entry in _list(data, "allergy_names", problems):
        if not _has(entry, ("name", "substance"), "allergy_names", problems):
            continue
        if entry["substance"] not in catalog.substances:
            problems.append(f"allergy name {entry['name']!r}: unknown substance; skipped")
        else:
            allergy_names.setdefault(str(entry["name"]), str(entry["substance"]))
    class_allergies = dict(catalog.class_allergies)
    for entry in _list(data, "class_allergies", problems):
        if _has(entry, ("class", "substance"), "class_allergies", problems):
            if entry["substance"] in catalog.substances:
                class_allergies.setdefault(str(entry["class"]), str(entry["substance"]))
            else:
                problems.append(f"class allergy {entry['class']!r}: unknown substance")
    return replace(
        catalog,
        medicines=medicines,
        medicine_names=names,
        allergy_names=allergy_names,
        class_names=class_names,
        class_allergies=class_allergies,
    )


def _merge_product(
    medicines: dict[str, Medicine], entry: dict[str, Any], problems: list[str], local: bool
) -> None:
    if not _has(entry, ("id", "ingredients"), "products", problems):
        return
    product_id = str(entry["id"])
    ingredients = frozenset(str(i) for i in entry["ingredients"])
    missing = sorted(i for i in ingredients if i not in medicines and i != product_id)
    if not ingredients or missing:
        problems.append(f"product {product_id!r}: unknown ingredients {missing}; skipped")
        return
    classes = set(entry.get("classes", []))
    for ingredient in ingredients:
        classes |= medicines[ingredient].classes if ingredient in medicines else set()
    existing = medicines.get(product_id)
    if existing is not None:
        if local or existing.ingredients:
            problems.append(f"product {product_id!r} is already listed; skipped")
            return
        medicines[product_id] = replace(
            existing, ingredients=ingredients, classes=existing.classes | classes
        )
    elif "name" not in entry:
        problems.append(f"product {product_id!r} is new and needs a name; skipped")
    else:
        medicines[product_id] = Medicine(
            product_id,
            str(entry["name"]),
            frozenset(classes),
            tuple(entry.get("routes", [])),
            entry.get("rxnorm"),
            ingredients=ingredients,
        )


def _list(data: Mapping[str, Any], section: str, problems: list[str]) -> list[dict[str, Any]]:
    value = data.get(section, [])
    if not isinstance(value, list):
        problems.append(f"{section} is not a list; skipped")
        return []
    good = [e for e in value if isinstance(e, dict)]
    if len(good) != len(value):
        problems.append(f"{section}: {len(value) - len(good)} entries are not objects; skipped")
    return good


def _has(entry: dict[str, Any], keys: tuple[str, ...], section: str, problems: list[str]) -> bool:
    missing = [k for k in keys if not entry.get(k)]
    if missing:
        problems.append(f"{section}: an entry lacks {', '.join(missing)}; skipped")
    return not missing
