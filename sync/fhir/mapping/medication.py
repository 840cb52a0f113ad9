"""MedicationRequest <-> a medication item (MedicationPrescribed / MedicationDiscontinued).

FHIR R4 has no element for when a prescription was stopped, nor for an allergy override, so
both travel as FieldChart extensions; the stop reason is statusReason. Only the first
dosageInstruction (and in it the first doseAndRate) is ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.common import (
    FIELDCHART,
    RXNORM,
    UCUM,
    Base,
    Json,
    child,
    code_in,
    coding,
    codings_of,
    concept_text,
    drop_if_empty,
    expect_kind,
    find_extension,
    mark_item,
    reference_to,
    referenced_id,
    set_extension,
    start_from,
    sub_extensions,
    update,
    update_recorded,
    update_reference,
    update_status,
    update_text_concept,
    update_value,
)
from sync.fhir.mapping.medicine_check import PRESCRIPTION, read_check, update_check
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single
from sync.fhir.mapping.times import instant_key

MEDICINE_SYSTEM = f"{FIELDCHART}:medicine"  # the bundled medicine id (essential_medicines.json)
EXT_ALLERGY_OVERRIDE = f"{FIELDCHART}:extension:allergy-override"  # reason, allergy (0..*)
EXT_DISCONTINUED_AT = f"{FIELDCHART}:extension:discontinued-at"  # valueDateTime
GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
# `intent` is written only when the server copy has none.
OWNED = frozenset(
    {
        "status",
        "statusReason",
        "intent",
        "medicationCodeableConcept",
        "subject",
        "encounter",
        "authoredOn",
        "dosageInstruction",
        "dispenseRequest",
        "extension",
    }
)
CODES = frozenset(
    {
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    }
)
EQUIVALENTS = {"completed": "stopped", "cancelled": "stopped"}
# Dose units of resources/codes/medication_terms.json -> UCUM.
UCUM_UNITS = {
    "mg": "mg",
    "g": "g",
    "mcg": "ug",
    "mL": "mL",
    "tablet": "{tablet}",
    "capsule": "{capsule}",
    "drop": "[drp]",
    "puff": "{puff}",
    "IU": "[iU]",
    "unit": "{unit}",
}


@dataclass(frozen=True)
class Frequency:
    """A dosing frequency FieldChart knows, and its FHIR Timing."""

    code: str
    display: str
    in_gts: bool  # in the FHIR timing-abbreviation value set
    repeat: Mapping[str, Any]
    as_needed: bool = False


FREQUENCIES = (
    Frequency("QD", "once daily", True, {"frequency": 1, "period": 1, "periodUnit": "d"}),
    Frequency("BID", "twice daily", True, {"frequency": 2, "period": 1, "periodUnit": "d"}),
    Frequency("TID", "three times daily", True, {"frequency": 3, "period": 1, "periodUnit": "d"}),
    Frequency("QID", "four times daily", True, {"frequency": 4, "period": 1, "periodUnit": "d"}),
    Frequency("Q4H", "every 4 hours", True, {"frequency": 1, "period": 4, "periodUnit": "h"}),
    Frequency("Q6H", "every 6 hours", True, {"frequency": 1, "period": 6, "periodUnit": "h"}),
    Frequency("Q8H", "every 8 hours", True, {"frequency": 1, "period": 8, "periodUnit": "h"}),
    Frequency("Q12H", "every 12 hours", False, {"frequency": 1, "period": 12, "periodUnit": "h"}),
    Frequency(
        "BED",
        "at night (at bedtime)",
        True,
        {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["HS"]},
    ),
    Frequency("PRN", "as needed", False, {}, as_needed=True),
    Frequency("STAT", "once (stat)", False, {"count": 1}),
    Frequency("WK", "weekly", True, {"frequency": 1, "period": 1, "periodUnit": "wk"}),
)


def to_fhir_medication_request(
    patient_id: str, item: Item, base: Base, *, rxnorm: str | None = None
) -> Json:
    """The MedicationRequest to PUT for a medication item, starting from the server's copy.
    `rxnorm`: the medicine's RxNorm code from the catalog, where known."""
    expect_kind(item, "medication")
    data = item.data
    resource = start_from(base, "MedicationRequest", item.id)
    update_status(resource, "status", item, EQUIVALENTS, "entered-in-error")
    mark_item(resource, item)
    stopped = item.status == "stopped"
    update_text_concept(
        resource, "statusReason", data.get("discontinue_reason") if stopped else None
    )
    _update_discontinued_at(resource, data.get("discontinued_at") if stopped else None)
    if "intent" not in resource:
        resource["intent"] = "order"
    _update_medication(resource, data["drug"], data.get("drug_id"), rxnorm)
    update_reference(resource, "subject", "Patient", patient_id)
    update_reference(resource, "encounter", "Encounter", data.get("encounter_id"))
    update_recorded(resource, "authoredOn", data["prescribed_at"], base)
    _update_dosage(resource, data)
    dispense = child(resource, "dispenseRequest")
    days = data.get("duration_days")
    supply = {"value": days, "unit": "days", "system": UCUM, "code": "d"} if days else None
    update(dispense, "expectedSupplyDuration", supply, _days, days)
    drop_if_empty(resource, "dispenseRequest")
    _update_override(resource, data.get("override_reason"), data.get("overridden_allergy_ids"))
    update_check(resource, data, PRESCRIPTION)
    return resource


def known_frequency(text: str) -> Frequency | None:
    """The known frequency a text names (code or display), if any."""
    folded = text.strip().casefold()
    for frequency in FREQUENCIES:
        if folded in (frequency.code.casefold(), frequency.display.casefold()):
            return frequency
    return None


def _medication(resource: Mapping[str, Any]) -> tuple[str | None, str | None]:
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, Mapping):
        return concept_text(concept), code_in(concept, MEDICINE_SYSTEM)
    reference = resource.get("medicationReference")
    display = reference.get("display") if isinstance(reference, Mapping) else None
    return (display if isinstance(display, str) and display else None), None


def _update_medication(resource: Json, drug: str, drug_id: str | None, rxnorm: str | None) -> None:
    concept = resource.get("medicationCodeableConcept")
    if _medication(resource) == (drug, drug_id) and (
        rxnorm is None or code_in(concept, RXNORM) == rxnorm
    ):
        return
    codings = [coding(MEDICINE_SYSTEM, drug_id)] if drug_id else []
    codings += [coding(RXNORM, rxnorm)] if rxnorm else []
    for key in [k for k in resource if k.startswith(("medication", "_medication"))]:
        del resource[key]
    resource["medicationCodeableConcept"] = (
        {"coding": codings, "text": drug} if codings else {"text": drug}
    )


def _frequency_of(dosage: Mapping[str, Any]) -> str | None:
    timing = dosage.get("timing")
    code = timing.get("code") if isinstance(timing, Mapping) else None
    found = concept_text(code) or next(
        (str(c["code"]) for c in codings_of(code) if isinstance(c.get("code"), str)), None
    )
    text = dosage.get("text")
    return found or (text if isinstance(text, str) and text else None)


def _dose_of(dosage: Mapping[str, Any]) -> tuple[float | None, str | None]:
    rates = dosage.get("doseAndRate")
    first = rates[0] if isinstance(rates, list) and rates else None
    quantity = first.get("doseQuantity") if isinstance(first, Mapping) else None
    if not isinstance(quantity, Mapping):
        return None, None
    value = quantity.get("value")
    unit = quantity.get("unit") or quantity.get("code")
    number = (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    )
    return number, unit if isinstance(unit, str) else None


def _update_dosage(resource: Json, data: Mapping[str, Any]) -> None:
    current = resource.get("dosageInstruction")
    dosages = list(current) if isinstance(current, list) else []
    first: Json = dict(dosages[0]) if dosages and isinstance(dosages[0], Mapping) else {}
    update_text_concept(first, "route", data["route"])
    if _frequency_of(first) != data["frequency"]:
        _set_timing(first, data["frequency"])
    if _dose_of(first) != (data["dose"], data["dose_unit"]):
        _set_dose(first, data["dose"], data["dose_unit"])
    update_value(first, "patientInstruction", data.get("instructions"))
    resource["dosageInstruction"] = [first, *dosages[1:]]


def _set_timing(dosage: Json, text: str) -> None:
    known = known_frequency(text)
    code: Json = {"text": text}
    if known is not None and known.in_gts:
        code = {"coding": [coding(GTS, known.code, known.display)], "text": text}
    timing: Json = {"code": code}
    if known is not None and known.repeat:
        timing["repeat"] = dict(known.repeat)
    dosage["timing"] = timing
    for key in [k for k in dosage if k.startswith(("asNeeded", "_asNeeded"))]:
        del dosage[key]
    if known is not None and known.as_needed:
        dosage["asNeededBoolean"] = True


def _set_dose(dosage: Json, value: float, unit: str) -> None:
    quantity: Json = {"value": value, "unit": unit}
    if unit in UCUM_UNITS:
        quantity.update(system=UCUM, code=UCUM_UNITS[unit])
    rates = dosage.get("doseAndRate")
    entries = list(rates) if isinstance(rates, list) else []
    first = dict(entries[0]) if entries and isinstance(entries[0], Mapping) else {}
    first.pop("doseRange", None)
    dosage["doseAndRate"] = [{**first, "doseQuantity": quantity}, *entries[1:]]


def _days(quantity: Any) -> int | None:
    """A supply duration in whole days (d or wk), else None."""
    if not isinstance(quantity, Mapping):
        return None
    value = quantity.get("value")
    factor = {"d": 1, "wk": 7}.get(str(quantity.get("code") or quantity.get("unit")), 0)
    if factor == 0 and quantity.get("unit") in ("day", "days"):
        factor = 1
    if not isinstance(value, int | float) or isinstance(value, bool) or not factor:
        return None
    days = value * factor
    return int(days) if float(days).is_integer() else None


def _update_discontinued_at(resource: Json, moment: str | None) -> None:
    current = find_extension(resource, EXT_DISCONTINUED_AT)
    if instant_key(current.get("valueDateTime") if current else None) == instant_key(moment):
        return
    wanted = {"url": EXT_DISCONTINUED_AT, "valueDateTime": moment} if moment else None
    set_extension(resource, EXT_DISCONTINUED_AT, wanted)


def _update_override(resource: Json, reason: str | None, allergy_ids: Any) -> None:
    wanted: Json | None = None
    if reason:
        parts: list[Json] = [{"url": "reason", "valueString": reason}]
        parts += [
            {"url": "allergy", "valueReference": reference_to("AllergyIntolerance", a)}
            for a in allergy_ids or []
        ]
        wanted = {"url": EXT_ALLERGY_OVERRIDE, "extension": parts}
    set_extension(resource, EXT_ALLERGY_OVERRIDE, wanted)


def from_fhir_medication_request(resource: Mapping[str, Any]) -> RemoteItem:
    """A medication item from a server MedicationRequest."""
    r = Reader(resource, "MedicationRequest")
    code = r.code(resource.get("status"), "status", CODES)
    if code is None:
        r.fail("status", "is missing")
    patient_id = r.patient(resource.get("subject"))
    r.concept(resource.get("medicationCodeableConcept"), "medicationCodeableConcept")
    drug, drug_id = _medication(resource)
    if drug is None:
        r.unsupported("medication[x]", "names no medicine (text, display or reference display)")
    dosages = r.array(resource.get("dosageInstruction"), "dosageInstruction")
    dosage = r.obj(dosages[0], "dosageInstruction[0]") if dosages else None
    if dosage is None:
        r.unsupported("dosageInstruction", "is missing; the chart needs dose, route, frequency")
    where = "dosageInstruction[0]"
    dose, dose_unit = _dose_of(dosage)
    if dose is None or dose_unit is None:
        r.unsupported(f"{where}.doseAndRate[0].doseQuantity", "has no value and unit")
    route = concept_text(r.concept(dosage.get("route"), f"{where}.route"))
    if route is None:
        r.unsupported(f"{where}.route", "is missing")
    frequency = _frequency_of(dosage)
    if frequency is None:
        r.unsupported(f"{where}.timing", "has no code or text")
    stopped_ext = find_extension(resource, EXT_DISCONTINUED_AT)
    stopped_at = r.date_time(
        stopped_ext.get("valueDateTime") if stopped_ext else None, "extension(discontinued-at)"
    )
    reason_concept = r.concept(resource.get("statusReason"), "statusReason")
    inferred = "stopped" if stopped_at or reason_concept else "active"
    status, in_error, extra = r.status(code, EQUIVALENTS, "entered-in-error", inferred)
    override = find_extension(resource, EXT_ALLERGY_OVERRIDE)
    reasons = sub_extensions(override, "reason")
    override_reason = r.string(
        reasons[0].get("valueString") if reasons else None, "extension(allergy-override).reason"
    )
    allergy_ids = [
        found
        for e in sub_extensions(override, "allergy")
        if (found := referenced_id(e.get("valueReference"), "AllergyIntolerance"))
    ]
    dispense = r.obj(resource.get("dispenseRequest"), "dispenseRequest") or {}
    data: dict[str, Any] = {
        "prescription_id": r.id,
        "drug": drug,
        "drug_id": drug_id,
        "dose": dose,
        "dose_unit": dose_unit,
        "route": route,
        "frequency": frequency,
        "prescribed_at": r.recorded(resource.get("authoredOn"), "authoredOn"),
        "duration_days": _days(dispense.get("expectedSupplyDuration")),
        "encounter_id": r.reference(resource.get("encounter"), "encounter", "Encounter"),
        "instructions": r.string(dosage.get("patientInstruction"), f"{where}.patientInstruction"),
        "override_reason": override_reason,
        "overridden_allergy_ids": allergy_ids,
        **read_check(resource, PRESCRIPTION),
    }
    if status == "stopped":
        data["discontinued_at"] = stopped_at
        data["discontinue_reason"] = concept_text(reason_concept)
    data.update(extra)
    return single(
        "medication", "MedicationRequest", r.id, patient_id, r.version_id, status, in_error, data
    )
