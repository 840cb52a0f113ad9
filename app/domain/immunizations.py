"""What the domain, the forms and the FHIR mapping share about immunizations: the sites and
routes a dose may be recorded with (and their HL7 codes), finding a vaccine by what was typed,
and how a date-only dose is timed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, time

from app.domain.immunization_schedule import Vaccine
from app.domain.reference import Catalog, fold
from app.domain.wording import N_

# key -> (HL7 v3 RouteOfAdministration code, display): the FHIR immunization-route value set.
IMMUNIZATION_ROUTES: Mapping[str, tuple[str, str]] = {
    "intramuscular": ("IM", "Injection, intramuscular"),
    "subcutaneous": ("SQ", "Injection, subcutaneous"),
    "intradermal": ("IDINJ", "Injection, intradermal"),
    "oral": ("PO", "Swallow, oral"),
    "intranasal": ("NASINHLC", "Inhalant, nasal"),
}
# key -> (HL7 v3 ActSite code, display): the FHIR immunization-site value set and its kin.
IMMUNIZATION_SITES: Mapping[str, tuple[str, str]] = {
    "left-arm": ("LA", N_("left arm")),
    "right-arm": ("RA", N_("right arm")),
    "left-deltoid": ("LD", N_("left deltoid")),
    "right-deltoid": ("RD", N_("right deltoid")),
    "left-thigh": ("LT", N_("left thigh")),
    "right-thigh": ("RT", N_("right thigh")),
    "left-vastus-lateralis": ("LVL", N_("left vastus lateralis")),
    "right-vastus-lateralis": ("RVL", N_("right vastus lateralis")),
}
# A date-only dose is dated noon UTC: the same calendar day from UTC-11 to UTC+11.
DATE_ONLY_TIME = time(12, 0, tzinfo=UTC)


def find_vaccine(catalog: Catalog, text: str) -> Vaccine | None:
    """The bundled vaccine named by id, name or CVX code."""
    key = fold(text)
    for vaccine in catalog.vaccines.values():
        if key in (fold(vaccine.id), fold(vaccine.name)) or (vaccine.cvx and key == vaccine.cvx):
            return vaccine
    return None
