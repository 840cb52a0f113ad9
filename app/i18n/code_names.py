"""Display names of the bundled code lists in the current language, from published translations.

resources/codes/translations/<lang>.json holds, per section (diagnoses, vitals, tests,
vaccines), only names copied from a published translation that the section's `source`
cites (CID-10 from DATASUS, CIE-10 from PAHO, ...). A code without a name there is shown in
English: nothing is translated here, and codes themselves never change.

    diagnosis_title("I10", "Essential (primary) hypertension")  # es: "Hipertensión esencial…"

docs/translations-code-lists.md lists the sources and how many codes each covers.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Final

from app.i18n import current_language

__all__ = [
    "SECTIONS",
    "TRANSLATIONS_DIR",
    "diagnosis_title",
    "recorded_diagnosis",
    "sources",
    "test_name",
    "vaccine_name",
    "vital_name",
]

TRANSLATIONS_DIR: Final = (
    Path(__file__).resolve().parents[2] / "resources" / "codes" / "translations"
)
SECTIONS: Final = ("diagnoses", "vitals", "tests", "vaccines")


@cache
def _sections(language: str) -> dict[str, dict[str, object]]:
    """The language's file, read once; {} for English or a language without one."""
    path = TRANSLATIONS_DIR / f"{language}.json"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as handle:
        document = json.load(handle)
    sections = document.get("sections", {}) if isinstance(document, dict) else {}
    return {name: body for name, body in sections.items() if isinstance(body, dict)}


@cache
def _names(language: str, section: str) -> dict[str, str]:
    body = _sections(language).get(section, {})
    names = body.get("names", {})
    if not isinstance(names, dict):
        return {}
    return {str(key): str(value) for key, value in names.items() if value}


def _lookup(section: str, key: str, english: str) -> str:
    return _names(current_language(), section).get(key, english)


def diagnosis_title(code: str, english: str) -> str:
    """The ICD-10 title of `code` in the current language, else `english`."""
    return _lookup("diagnoses", code, english)


@cache
def _bundled_titles() -> dict[str, str]:
    """ICD-10 code -> the English title of the bundled list (resources/codes)."""
    path = TRANSLATIONS_DIR.parent / "icd10_primary_care.json"
    with path.open(encoding="utf-8") as handle:
        codes = json.load(handle).get("codes", [])
    return {str(c["code"]): str(c["title"]) for c in codes if "code" in c and "title" in c}


def recorded_diagnosis(code: str, recorded: str) -> str:
    """A recorded diagnosis's text as shown: the published translation when the clinician
    kept the list's own title; their own words (a qualifier, free text) as they wrote them."""
    if recorded.strip() != _bundled_titles().get(code):
        return recorded
    return diagnosis_title(code, recorded)


def vital_name(key: str, english: str) -> str:
    """The name of the vital sign `key` (resources/codes/vitals.json) in the current language."""
    return _lookup("vitals", key, english)


def test_name(key: str, english: str) -> str:
    """The name of the point-of-care test `key` (resources/codes/poc_tests.json)."""
    return _lookup("tests", key, english)


def vaccine_name(vaccine_id: str, english: str) -> str:
    """The name of the vaccine `vaccine_id` (resources/codes/vaccines.json)."""
    return _lookup("vaccines", vaccine_id, english)


def sources(language: str) -> dict[str, str]:
    """{section: the publication its names come from} for the sections that have names."""
    language = language.replace("-", "_").split("_")[0].lower()
    cited: dict[str, str] = {}
    if not language.isalpha():
        return cited
    for section, body in _sections(language).items():
        source = body.get("source")
        if _names(language, section) and isinstance(source, str) and source:
            cited[section] = source
    return cited
