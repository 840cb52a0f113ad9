"""Loads the bundled code lists (resources/codes/*.json) into the domain's Catalog."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from app.domain.reference import AllergySubstance, Catalog, Icd10Code, Medicine, VitalSign


def _read(name: str) -> dict[str, Any]:
    path = resources.files("resources").joinpath("codes", name)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The list of entries of a code file, whatever its key is called."""
    lists = [v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
    return lists[0] if lists else []


@lru_cache(maxsize=1)
def bundled_catalog() -> Catalog:
    """The catalog from the files shipped with FieldChart (read once per process)."""
    icd = {
        e["code"]: Icd10Code(e["code"], e["title"])
        for e in _entries(_read("icd10_primary_care.json"))
    }
    medicines = {
        e["id"]: Medicine(
            e["id"],
            e["name"],
            frozenset(e.get("classes", [])),
            tuple(e.get("routes", [])),
            e.get("rxnorm"),
        )
        for e in _entries(_read("essential_medicines.json"))
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
    vitals = {}
    for e in _entries(_read("vitals.json")):
        if "min" in e and "max" in e:  # derived values (BMI) carry no range
            vitals[e["key"]] = VitalSign(
                e["key"],
                e["loinc"],
                e["display"],
                e.get("ucum", e.get("unit", "")),
                float(e["min"]),
                float(e["max"]),
            )
    terms = _read("medication_terms.json")
    routes = frozenset(r.get("name", r.get("display", "")).lower() for r in terms.get("routes", []))
    frequencies = frozenset(f["code"] for f in terms.get("frequencies", []) if f.get("code"))
    return Catalog(
        icd10=icd,
        medicines=medicines,
        substances=substances,
        vitals=vitals,
        routes=routes,
        frequencies=frequencies,
    )
