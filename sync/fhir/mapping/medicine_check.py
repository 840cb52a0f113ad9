"""What the allergy and duplicate checks resolved a drug or an allergy to, as one FieldChart
extension, so every device's chart shows the same markers (an unchecked prescription, an
allergy not matched to the medicine list) and the same ingredients.

Item keys and their sub-extensions: lists are repeated valueString entries, flags
valueBoolean, texts valueString. A resource without the extension (another system wrote
it) reads as the defaults: nothing resolved, nothing flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.fhir.mapping.common import FIELDCHART, Json, find_extension, set_extension

EXT_MEDICINE_CHECK = f"{FIELDCHART}:extension:medicine-check"

# item data key -> (sub-extension url, kind: "list" | "text" | "flag")
Spec = tuple[tuple[str, str, str], ...]
PRESCRIPTION: Spec = (
    ("ingredient_ids", "ingredient", "list"),
    ("drug_match", "match", "text"),
    ("typed_drug", "typed", "text"),
    ("unchecked", "unchecked", "flag"),
)
ALLERGY: Spec = (
    ("ingredient_ids", "ingredient", "list"),
    ("class_ids", "class", "list"),
    ("caution_class_ids", "caution-class", "list"),
    ("substance_match", "match", "text"),
    ("unresolved", "unresolved", "flag"),
)


def update_check(resource: Json, data: Mapping[str, Any], spec: Spec) -> None:
    parts: list[Json] = []
    for key, url, kind in spec:
        value = data.get(key)
        if kind == "list":
            parts += [{"url": url, "valueString": str(v)} for v in value or []]
        elif kind == "flag" and value:
            parts.append({"url": url, "valueBoolean": True})
        elif kind == "text" and value:
            parts.append({"url": url, "valueString": str(value)})
    wanted = {"url": EXT_MEDICINE_CHECK, "extension": parts} if parts else None
    set_extension(resource, EXT_MEDICINE_CHECK, wanted)


def read_check(resource: Mapping[str, Any], spec: Spec) -> dict[str, Any]:
    found = find_extension(resource, EXT_MEDICINE_CHECK)
    raw = found.get("extension") if found else None
    entries = [e for e in raw if isinstance(e, Mapping)] if isinstance(raw, list) else []
    data: dict[str, Any] = {}
    for key, url, kind in spec:
        mine = [e for e in entries if e.get("url") == url]
        if kind == "list":
            data[key] = [e["valueString"] for e in mine if isinstance(e.get("valueString"), str)]
        elif kind == "flag":
            data[key] = any(e.get("valueBoolean") is True for e in mine)
        else:
            texts = [e["valueString"] for e in mine if isinstance(e.get("valueString"), str)]
            data[key] = texts[0] if texts else None
    return data
