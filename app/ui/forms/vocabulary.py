"""Pick-lists for the forms, from the domain catalog and the bundled medication terms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCompleter, QLineEdit

from app.domain.reference import Catalog
from app.i18n import N_, _, code_names

FALLBACK_FREQUENCIES = (
    ("QD", N_("once daily")),
    ("BID", N_("twice daily")),
    ("TID", N_("three times daily")),
    ("QID", N_("four times daily")),
    ("PRN", N_("as needed")),
)
# The meanings of resources/codes/medication_terms.json's frequencies, marked for the catalog
# (frequency_text shows them translated; a meaning not listed here stays as the file has it).
FREQUENCY_MEANINGS = (
    *(meaning for _code, meaning in FALLBACK_FREQUENCIES),
    N_("every 4 hours"),
    N_("every 6 hours"),
    N_("every 8 hours"),
    N_("every 12 hours"),
    N_("at night (at bedtime)"),
    N_("once (stat)"),
    N_("weekly"),
)
FALLBACK_DOSE_UNITS = ("mg", "g", "mcg", "mL", "tablet", "capsule", "drop", "puff", "IU", "unit")
FALLBACK_ROUTES = ("oral", "intravenous", "intramuscular", "subcutaneous", "topical", "inhaled")
SEP = " — "


@dataclass(frozen=True)
class MedicationTerms:
    frequencies: tuple[tuple[str, str], ...]
    dose_units: tuple[str, ...]


@cache
def medication_terms() -> MedicationTerms:
    try:
        raw = resources.files("resources").joinpath("codes", "medication_terms.json")
        data = json.loads(raw.read_text(encoding="utf-8"))
        return MedicationTerms(
            tuple((f["code"], f["display"]) for f in data["frequencies"]),
            tuple(u["name"] for u in data["dose_units"]),
        )
    except (ModuleNotFoundError, OSError, KeyError, ValueError, TypeError):
        return MedicationTerms(FALLBACK_FREQUENCIES, FALLBACK_DOSE_UNITS)


def frequency_text(meaning: str) -> str:
    """A frequency's meaning ("twice daily") in the current language."""
    return _(meaning) if meaning in FREQUENCY_MEANINGS else meaning  # marked msgids


def icd10_choices(catalog: Catalog) -> list[str]:
    """'I10 — title' for the picker, the title in the user's language where a published
    translation names the code (app/i18n/code_names); only the code is kept (code_of)."""
    return [
        f"{c.code}{SEP}{code_names.diagnosis_title(c.code, c.title)}"
        for c in sorted(catalog.icd10.values(), key=lambda c: c.code)
    ]


def code_of(choice: str) -> str:
    """'J45.909 — Asthma …' -> 'J45.909'; plain text stays as typed."""
    return choice.split(SEP, 1)[0].strip()


def medicine_names(catalog: Catalog) -> list[str]:
    return sorted({m.name for m in catalog.medicines.values()}, key=str.casefold)


def substance_names(catalog: Catalog) -> list[str]:
    return sorted({s.name for s in catalog.substances.values()}, key=str.casefold)


def routes(catalog: Catalog) -> list[str]:
    return sorted(catalog.routes) if catalog.routes else list(FALLBACK_ROUTES)


def attach_completer(field: QLineEdit, choices: list[str]) -> QCompleter:
    """Suggest `choices` containing what was typed, ignoring case."""
    completer = QCompleter(choices, field)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setMaxVisibleItems(12)
    field.setCompleter(completer)
    return completer
