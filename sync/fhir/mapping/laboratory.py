"""Observations (laboratory, point of care) <-> a test result item (TestResultRecorded).

One test result is one Observation whose id is the result id:
- `category`: laboratory (observation-category), written only on Observations we create;
- `method`: FieldChart's code "point-of-care" (no standard code says "done at the bedside";
  see docs/clinical/point-of-care-tests.md), also written only on creation;
- `code`: the test's LOINC code, `text` the name the chart shows;
- the value: `valueQuantity` (UCUM) for a numeric test, `valueCodeableConcept` (SNOMED CT
  qualifier values; "invalid" as FieldChart's code) for a qualitative or ordinal one;
- `interpretation` (HL7 v3 ObservationInterpretation), `referenceRange` of a numeric test,
  `specimen` as a display-only reference, `note`.

Any Observation with the LOINC code of a bundled test (app.domain.poc_tests.TEST_OF_LOINC),
whoever wrote it (a district lab), reads as a test result item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.chart import Item
from app.domain.poc_tests import (
    ANSWER_OF_SNOMED,
    ANSWERS,
    INTERPRETATIONS,
    ORDINAL_TESTS,
    POC_TEST_CODES,
    RESULT_LABELS,
    SNOMED,
    TEST_OF_LOINC,
    abnormal_interpretation,
)
from sync.fhir.mapping.common import (
    FIELDCHART,
    LOINC,
    UCUM,
    Base,
    Json,
    code_in,
    coding,
    codings_of,
    concept_text,
    expect_kind,
    mark_item,
    start_from,
    update,
    update_choice_time,
    update_reference,
    update_status,
)
from sync.fhir.mapping.observation import CODES, EQUIVALENTS  # an Observation's statuses
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single
from sync.fhir.mapping.vital_signs import CATEGORY_SYSTEM

INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
METHOD_SYSTEM = f"{FIELDCHART}:observation-method"
RESULT_SYSTEM = f"{FIELDCHART}:test-result"  # only for "invalid"
POINT_OF_CARE = coding(METHOD_SYSTEM, "point-of-care", "Point-of-care test")

# `category` and `method` are written only on Observations FieldChart creates.
OWNED = frozenset(
    {
        "status",
        "extension",
        "category",
        "method",
        "code",
        "subject",
        "encounter",
        "effectiveDateTime",
        "valueQuantity",
        "valueCodeableConcept",
        "interpretation",
        "referenceRange",
        "specimen",
        "note",
    }
)


def is_test_result(resource: Mapping[str, Any]) -> bool:
    """True if the Observation is coded with the LOINC code of a bundled test."""
    return _test_of(resource.get("code")) is not None


def _test_of(concept: Any) -> str | None:
    for c in codings_of(concept):
        if c.get("system") == LOINC and c.get("code") in TEST_OF_LOINC:
            return TEST_OF_LOINC[str(c["code"])]
    return None


# -- writing ------------------------------------------------------------------------------


def to_fhir_test_result(patient_id: str, item: Item, base: Base) -> Json:
    """The Observation to PUT for a test result item, starting from the server's copy."""
    expect_kind(item, "test_result")
    d = item.data
    resource = start_from(base, "Observation", item.id)
    update_status(resource, "status", item, EQUIVALENTS, "entered-in-error")
    mark_item(resource, item)
    if base is None:
        resource["category"] = [{"coding": [coding(CATEGORY_SYSTEM, "laboratory", "Laboratory")]}]
        resource["method"] = {"coding": [POINT_OF_CARE], "text": "Point-of-care test"}
    code = {"coding": [coding(LOINC, d["loinc"], _display(d))], "text": d["name"]}
    update(resource, "code", code, _test_of, d["test"])
    update_reference(resource, "subject", "Patient", patient_id)
    update_reference(resource, "encounter", "Encounter", d.get("encounter_id"))
    update_choice_time(resource, "effective", d["taken_at"])
    if d.get("value") is not None:
        _own_value(resource, "valueQuantity", _quantity(d["value"], d), _read_quantity, d["value"])
        update(resource, "referenceRange", _range(d), _read_range, _range_key(d))
    else:
        word = str(d.get("result"))
        _own_value(resource, "valueCodeableConcept", _answer(word), _read_answer, word)
    interpretation = d.get("interpretation")
    update(
        resource,
        "interpretation",
        [
            {
                "coding": [
                    coding(
                        INTERPRETATION_SYSTEM, interpretation, INTERPRETATIONS.get(interpretation)
                    )
                ]
            }
        ]
        if interpretation
        else None,
        _read_interpretation,
        interpretation,
    )
    specimen = d.get("specimen")
    update(
        resource,
        "specimen",
        {"display": specimen.capitalize()} if specimen else None,
        _read_specimen,
        specimen,
    )
    note = d.get("note")
    update(resource, "note", [{"text": note}] if note else None, _read_note, note)
    return resource


def _display(d: Mapping[str, Any]) -> str | None:
    return d.get("loinc_display") or None  # the LOINC long common name, when we know it


def _own_value(resource: Json, key: str, wire: Json, read: Any, want: Any) -> None:
    """Own value[x] as `key`: another variant (or dataAbsentReason) is replaced."""
    if read(resource.get(key)) == want:
        return
    for k in [k for k in resource if k.startswith(("value", "_value"))]:
        del resource[k]
    resource.pop("dataAbsentReason", None)
    resource[key] = wire


def _quantity(value: float, d: Mapping[str, Any]) -> Json:
    return {
        "value": value,
        "unit": d.get("unit_label") or d.get("unit"),
        "system": UCUM,
        "code": d.get("unit"),
    }


def _read_quantity(q: Any) -> float | None:
    return q.get("value") if isinstance(q, Mapping) else None


def _range(d: Mapping[str, Any]) -> list[Json] | None:
    entry: Json = {}
    for bound in ("low", "high"):
        if d.get(f"reference_{bound}") is not None:
            entry[bound] = _quantity(d[f"reference_{bound}"], d)
    return [entry] if entry else None


def _range_key(d: Mapping[str, Any]) -> tuple[Any, Any]:
    return d.get("reference_low"), d.get("reference_high")


def _read_range(ranges: Any) -> tuple[Any, Any] | None:
    first = ranges[0] if isinstance(ranges, list) and ranges else None
    if not isinstance(first, Mapping):
        return None
    return tuple(  # type: ignore[return-value]
        _read_quantity(first.get(bound)) for bound in ("low", "high")
    )


def _answer(word: str) -> Json:
    if word in ANSWERS:
        code, display = ANSWERS[word]
        return {"coding": [coding(SNOMED, code, display)], "text": RESULT_LABELS.get(word, word)}
    return {"coding": [coding(RESULT_SYSTEM, word, word.capitalize())], "text": "Invalid"}


def _read_answer(concept: Any) -> str | None:
    snomed = code_in(concept, SNOMED)
    if snomed is not None and snomed in ANSWER_OF_SNOMED:
        return ANSWER_OF_SNOMED[snomed]
    return code_in(concept, RESULT_SYSTEM)


def _read_interpretation(value: Any) -> str | None:
    for concept in value if isinstance(value, list) else []:
        found = code_in(concept, INTERPRETATION_SYSTEM)
        if found:
            return found
    return None


def _read_specimen(value: Any) -> str | None:
    display = value.get("display") if isinstance(value, Mapping) else None
    return display.lower() if isinstance(display, str) and display else None


def _read_note(value: Any) -> str | None:
    texts = (
        [n.get("text") for n in value if isinstance(n, Mapping)] if isinstance(value, list) else []
    )
    return "\n".join(t for t in texts if isinstance(t, str)) or None


# -- reading ------------------------------------------------------------------------------


def from_fhir_test_result(resource: Mapping[str, Any]) -> RemoteItem:
    """A test result item from an Observation coded with a bundled test's LOINC code."""
    r = Reader(resource, "Observation")
    status_code = r.code(resource.get("status"), "status", CODES)
    if status_code is None:
        r.fail("status", "is missing")
    concept = r.concept(resource.get("code"), "code")
    test = _test_of(concept)
    if test is None:
        r.unsupported("code", "is not a bundled point-of-care test")
    patient_id = r.patient(resource.get("subject"))
    taken = r.time_choice("effective")
    if taken is None:
        r.unsupported("effective[x]", "is missing; the chart needs the time taken")
    loinc = code_in(concept, LOINC) or POC_TEST_CODES[test][0]
    data: dict[str, Any] = {
        "result_id": r.id,
        "test": test,
        "loinc": loinc,
        "name": concept_text(concept) or test,
        "loinc_display": next(
            (c.get("display") for c in codings_of(concept) if c.get("code") == loinc), None
        ),
        "taken_at": taken,
        **_value(r, resource, test),
        "specimen": _read_specimen(r.obj(resource.get("specimen"), "specimen")),
        "encounter_id": r.reference(resource.get("encounter"), "encounter", "Encounter"),
        "note": _read_note(r.array(resource.get("note"), "note")),
        "source": _performer(r.array(resource.get("performer"), "performer")),
    }
    interpretation = _read_interpretation(r.array(resource.get("interpretation"), "interpretation"))
    data["interpretation"] = interpretation
    data["abnormal"] = abnormal_interpretation(interpretation, test)
    status, in_error, extra = r.status(status_code, EQUIVALENTS, "entered-in-error", "final")
    data.update(extra)
    return single(
        "test_result", "Observation", r.id, patient_id, r.version_id, status, in_error, data
    )


def _performer(performers: list[Any]) -> str | None:
    """Who reported another system's result (the first performer's display), for the chart's
    Source column; our own results carry no performer."""
    for p in performers:
        display = p.get("display") if isinstance(p, Mapping) else None
        if isinstance(display, str) and display.strip():
            return display.strip()
    return None


def _value(r: Reader, resource: Mapping[str, Any], test: str) -> dict[str, Any]:
    """The result: a number (numeric tests) or a scale word, with the type and unit."""
    quantity = r.obj(resource.get("valueQuantity"), "valueQuantity")
    if quantity is not None:
        value = r.number(quantity.get("value"), "valueQuantity.value")
        if value is None:
            r.unsupported("valueQuantity.value", "is missing")
        unit = quantity.get("code") if quantity.get("system") == UCUM else None
        ranges = r.array(resource.get("referenceRange"), "referenceRange")
        low, high = _read_range(ranges) or (None, None)
        return {
            "result_type": "numeric",
            "value": value,
            "result": None,
            "unit": unit if isinstance(unit, str) else None,
            "unit_label": quantity.get("unit") if isinstance(quantity.get("unit"), str) else unit,
            "reference_low": low if isinstance(low, int | float) else None,
            "reference_high": high if isinstance(high, int | float) else None,
        }
    answer = r.concept(resource.get("valueCodeableConcept"), "valueCodeableConcept")
    if answer is None:
        r.unsupported("value[x]", "is missing or not a quantity or coded result")
    word = _read_answer(answer) or concept_text(answer)
    if word is None:
        r.unsupported("valueCodeableConcept", "has no code or text FieldChart can show")
    return {
        "result_type": "ordinal" if test in ORDINAL_TESTS else "qualitative",
        "value": None,
        "result": word,
        "unit": None,
        "unit_label": None,
        "reference_low": None,
        "reference_high": None,
    }
