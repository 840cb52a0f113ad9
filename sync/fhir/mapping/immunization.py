"""Immunization <-> an immunization item (ImmunizationRecorded).

vaccineCode carries the CDC CVX code (http://hl7.org/fhir/sid/cvx) and our vaccine id; a dose
copied from a card is `primarySource: false` with `reportOrigin` "record" (its text: where it
came from); the dose number is `protocolApplied[0].doseNumberPositiveInt` (other entries and
the rest of the first are kept). A day without a time (a card) is written as a FHIR date.

Read: an Immunization another system wrote (a campaign's) is an immunization item whatever its
vaccine: with a CVX code of the bundled list it counts for the schedule (the services resolve
it), with another code or only text it is shown as written. A "not-done" Immunization (refused,
contraindicated) is valid but not a dose given: unsupported, so it is kept as an "other"
record. A dose whose day is not known (occurrenceString, "2019") likewise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.domain.chart import Item
from app.domain.immunizations import DATE_ONLY_TIME, IMMUNIZATION_ROUTES, IMMUNIZATION_SITES
from sync.fhir.mapping.common import (
    FIELDCHART,
    Base,
    Json,
    code_in,
    coding,
    concept_text,
    expect_kind,
    mark_item,
    put,
    start_from,
    update,
    update_reference,
    update_status,
    update_value,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single
from sync.fhir.mapping.times import instant_key

CVX = "http://hl7.org/fhir/sid/cvx"
# The bundled vaccine id (resources/codes/vaccines.json).
VACCINE_SYSTEM = f"{FIELDCHART}:vaccine"
ORIGIN = "http://terminology.hl7.org/CodeSystem/immunization-origin"
ACT_SITE = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
OWNED = frozenset(
    {
        "status",
        "vaccineCode",
        "patient",
        "encounter",
        "occurrenceDateTime",
        "primarySource",
        "reportOrigin",
        "lotNumber",
        "expirationDate",
        "site",
        "route",
        "protocolApplied",
        "extension",
    }
)
CODES = frozenset({"completed", "entered-in-error", "not-done"})
_SITE_OF_CODE = {code: key for key, (code, _display) in IMMUNIZATION_SITES.items()}
_ROUTE_OF_CODE = {code: key for key, (code, _display) in IMMUNIZATION_ROUTES.items()}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def to_fhir_immunization(patient_id: str, item: Item, base: Base) -> Json:
    """The Immunization to PUT for an immunization item, starting from the server's copy."""
    expect_kind(item, "immunization")
    data = item.data
    resource = start_from(base, "Immunization", item.id)
    update_status(resource, "status", item, {}, "entered-in-error")
    mark_item(resource, item)
    _update_vaccine(resource, data)
    update_reference(resource, "patient", "Patient", patient_id)
    update_reference(resource, "encounter", "Encounter", data.get("encounter_id"))
    when = data["given_at"] if data.get("time_known", True) else data["given_on"]
    update(resource, "occurrenceDateTime", when, _occurrence_key, _occurrence_key(when))
    historical = bool(data.get("historical"))
    update_value(resource, "primarySource", not historical)
    origin: Json | None = None
    if historical:
        origin = {"coding": [coding(ORIGIN, "record", "Written Record")]}
        if data.get("source"):
            origin["text"] = data["source"]
    update(resource, "reportOrigin", origin, _origin, (historical, data.get("source")))
    put(resource, "lotNumber", data.get("lot"))
    put(resource, "expirationDate", data.get("lot_expiry"))
    _update_coded(resource, "site", ACT_SITE, IMMUNIZATION_SITES, _SITE_OF_CODE, data.get("site"))
    _update_coded(resource, "route", ROUTE, IMMUNIZATION_ROUTES, _ROUTE_OF_CODE, data.get("route"))
    _update_dose(resource, data.get("dose_number"))
    return resource


def _update_vaccine(resource: Json, data: Mapping[str, Any]) -> None:
    codings = []
    if data.get("cvx"):
        codings.append(coding(CVX, data["cvx"], data["vaccine"]))
    if data.get("vaccine_id"):
        codings.append(coding(VACCINE_SYSTEM, data["vaccine_id"]))
    wanted: Json = (
        {"coding": codings, "text": data["vaccine"]} if codings else {"text": data["vaccine"]}
    )
    update(resource, "vaccineCode", wanted, _vaccine, (data.get("cvx"), data["vaccine"]))


def _vaccine(concept: Any) -> tuple[str | None, str | None]:
    return code_in(concept, CVX), concept_text(concept)


def _occurrence_key(value: Any) -> Any:
    """A date is its own key; a dateTime compares by instant."""
    return value if isinstance(value, str) and _DATE.fullmatch(value) else instant_key(value)


def _origin(concept: Any) -> tuple[bool, str | None]:
    if concept is None:
        return False, None
    text = concept.get("text") if isinstance(concept, Mapping) else None
    return True, text if isinstance(text, str) else None


def _update_coded(
    resource: Json,
    key: str,
    system: str,
    table: Mapping[str, tuple[str, str]],
    of_code: Mapping[str, str],
    value: str | None,
) -> None:
    wanted = None
    if value is not None:
        code, display = table[value]
        wanted = {"coding": [coding(system, code, display)], "text": display}
    # A code FieldChart does not list reads as None: kept when we have no value either.
    update(resource, key, wanted, lambda c: of_code.get(code_in(c, system) or ""), value)


def _update_dose(resource: Json, dose: int | None) -> None:
    current = resource.get("protocolApplied")
    entries = list(current) if isinstance(current, list) else []
    first = entries[0] if entries and isinstance(entries[0], Mapping) else None
    if _dose_of(first) == dose:
        return
    if dose is None:
        put(resource, "protocolApplied", entries[1:])
        return
    kept = {k: v for k, v in (first or {}).items() if not k.startswith("doseNumber")}
    resource["protocolApplied"] = [{**kept, "doseNumberPositiveInt": dose}, *entries[1:]]


def _dose_of(entry: Mapping[str, Any] | None) -> int | None:
    if entry is None:
        return None
    value = entry.get("doseNumberPositiveInt")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    text = entry.get("doseNumberString")
    return int(text) if isinstance(text, str) and text.strip().isdigit() else None


def from_fhir_immunization(resource: Mapping[str, Any]) -> RemoteItem:
    """An immunization item from a server Immunization."""
    r = Reader(resource, "Immunization")
    code = r.code(resource.get("status"), "status", CODES)
    if code is None:
        r.fail("status", "is missing")
    if code == "not-done":
        r.unsupported("status", "is not-done (no dose was given)")
    patient_id = r.patient(resource.get("patient"), "patient")
    concept = r.concept(resource.get("vaccineCode"), "vaccineCode")
    cvx, name = _vaccine(concept)
    if name is None and cvx is None:
        r.unsupported("vaccineCode", "names no vaccine (no code, text or display)")
    given_at, given_on, time_known = _occurrence(r)
    primary = resource.get("primarySource")
    if primary is not None and not isinstance(primary, bool):
        r.fail("primarySource", "is not a boolean")
    origin = r.concept(resource.get("reportOrigin"), "reportOrigin")
    protocols = r.array(resource.get("protocolApplied"), "protocolApplied")
    first = r.obj(protocols[0], "protocolApplied[0]") if protocols else None
    site = r.concept(resource.get("site"), "site")
    route = r.concept(resource.get("route"), "route")
    status, in_error, extra = r.status(code, {}, "entered-in-error", "completed")
    data: dict[str, Any] = {
        "immunization_id": r.id,
        "vaccine_id": code_in(concept, VACCINE_SYSTEM),
        "vaccine": name or f"CVX {cvx}",
        "cvx": cvx,
        "dose_number": _dose_of(first),
        "given_at": given_at,
        "given_on": given_on,
        "time_known": time_known,
        "historical": primary is False,
        "source": r.string(origin.get("text"), "reportOrigin.text") if origin else None,
        "lot": r.string(resource.get("lotNumber"), "lotNumber"),
        "lot_expiry": r.date(resource.get("expirationDate"), "expirationDate"),
        "site": _SITE_OF_CODE.get(code_in(site, ACT_SITE) or ""),
        "route": _ROUTE_OF_CODE.get(code_in(route, ROUTE) or ""),
        "encounter_id": r.reference(resource.get("encounter"), "encounter", "Encounter"),
        **extra,
    }
    return single(
        "immunization", "Immunization", r.id, patient_id, r.version_id, status, in_error, data
    )


def _occurrence(r: Reader) -> tuple[str, str, bool]:
    """(clinical time, day, time known) of occurrence[x]; only a known day is a dose the
    schedule can count."""
    if "occurrenceDateTime" not in r.resource:
        if "occurrenceString" in r.resource:
            r.string(r.resource["occurrenceString"], "occurrenceString")
            r.unsupported("occurrenceString", "gives no date the schedule can use")
        r.fail("occurrence[x]", "is missing")
    when = r.date_time(r.resource["occurrenceDateTime"], "occurrenceDateTime")
    if when is None:
        r.fail("occurrenceDateTime", "is missing")
    if _DATE.fullmatch(when):
        return f"{when}T{DATE_ONLY_TIME.isoformat()}", when, False
    if len(when) < 10:
        r.unsupported("occurrenceDateTime", "is only a year or a month")
    return when, when[:10], True
