"""The vital signs FieldChart records, as the FHIR R4 vital-signs profiles code them (LOINC,
UCUM), the ids of their Observations, and the unit conversions used when reading others'.

Same codes as resources/codes/vitals.json; kept here because the mapping does no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sync.fhir.mapping.common import LOINC, UCUM, Json, coding

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
PROFILE_BASE = "http://hl7.org/fhir/StructureDefinition/"
# Groups the Observations of one VitalsRecorded (value = vitals_id); searchable by token.
VITALS_SET_SYSTEM = "urn:fieldchart:fhir:vitals-set"
# uuid5(NAMESPACE_URL, "urn:fieldchart:fhir:vitals-observation"); never change it: servers hold
# Observations under ids derived from it.
VITALS_NAMESPACE = uuid.UUID("21c61bc2-226d-5124-97da-b91ea6266cbd")


@dataclass(frozen=True)
class VitalSign:
    """One vital sign: its LOINC code, UCUM unit and FHIR profile."""

    key: str
    loinc: str
    display: str
    ucum: str
    unit: str  # what people read
    profile: str
    more_codings: tuple[tuple[str, str], ...] = ()

    def code(self) -> Json:
        codings = [coding(LOINC, self.loinc, self.display)]
        codings += [coding(LOINC, code, display) for code, display in self.more_codings]
        return {"coding": codings, "text": self.display}

    def quantity(self, value: float) -> Json:
        return {"value": value, "unit": self.unit, "system": UCUM, "code": self.ucum}


BLOOD_PRESSURE = VitalSign(
    "blood_pressure", "85354-9", "Blood pressure panel with all children optional", "", "", "bp"
)
SYSTOLIC = VitalSign("systolic", "8480-6", "Systolic blood pressure", "mm[Hg]", "mmHg", "bp")
DIASTOLIC = VitalSign("diastolic", "8462-4", "Diastolic blood pressure", "mm[Hg]", "mmHg", "bp")
SINGLE_VALUE = {
    v.key: v
    for v in (
        VitalSign("heart_rate", "8867-4", "Heart rate", "/min", "beats/minute", "heartrate"),
        VitalSign(
            "respiratory_rate", "9279-1", "Respiratory rate", "/min", "breaths/minute", "resprate"
        ),
        VitalSign("temperature", "8310-5", "Body temperature", "Cel", "°C", "bodytemp"),
        VitalSign(
            "spo2",
            "2708-6",
            "Oxygen saturation in Arterial blood",
            "%",
            "%",
            "oxygensat",
            (("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),),
        ),
        VitalSign("weight", "29463-7", "Body weight", "kg", "kg", "bodyweight"),
        VitalSign("height", "8302-2", "Body height", "cm", "cm", "bodyheight"),
        VitalSign("bmi", "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m2", "bmi"),
    )
}
COMPONENTS = (SYSTOLIC, DIASTOLIC)
# One Observation per key; blood pressure is one panel with systolic and diastolic components.
OBSERVATION_KEYS = ("blood_pressure", *SINGLE_VALUE)

# LOINC code -> what it measures, for reading others' Observations too.
KEY_OF_LOINC = {
    "85354-9": "blood_pressure",
    "55284-4": "blood_pressure",  # older "Blood pressure systolic and diastolic" panel
    "8480-6": "systolic",
    "8462-4": "diastolic",
    "59408-5": "spo2",
    "3141-9": "weight",  # Body weight Measured
    **{v.loinc: v.key for v in SINGLE_VALUE.values()},
}

# Units (UCUM codes, or the unit text when no code is given) -> factor to FieldChart's unit.
_SAME = 1.0
_CONVERSIONS: dict[str, dict[str, float | str]] = {
    "systolic": {"mm[Hg]": _SAME, "mmHg": _SAME},
    "diastolic": {"mm[Hg]": _SAME, "mmHg": _SAME},
    "heart_rate": {"/min": _SAME, "{beats}/min": _SAME, "beats/minute": _SAME, "bpm": _SAME},
    "respiratory_rate": {"/min": _SAME, "{breaths}/min": _SAME, "breaths/minute": _SAME},
    "temperature": {"Cel": _SAME, "°C": _SAME, "[degF]": "fahrenheit", "°F": "fahrenheit"},
    "spo2": {"%": _SAME},
    "weight": {"kg": _SAME, "g": 0.001, "[lb_av]": 0.45359237, "lb": 0.45359237},
    "height": {"cm": _SAME, "m": 100.0, "[in_i]": 2.54, "in": 2.54},
    "bmi": {"kg/m2": _SAME, "kg/m²": _SAME},
}


def vitals_observation_id(vitals_id: str, key: str) -> str:
    """uuid5 of "<vitals_id>/<key>": the Observation id of `key` in a set of several."""
    if key not in OBSERVATION_KEYS:
        raise ValueError(f"{key!r} is not a vital-signs observation key")
    return str(uuid.uuid5(VITALS_NAMESPACE, f"{vitals_id}/{key}"))


def vitals_observation_ids(vitals_id: str, keys: Iterable[str]) -> dict[str, str]:
    """Observation key -> Observation id for a vitals set with exactly these keys.

    A set of one Observation uses the vitals id itself (so another system's single
    Observation, read as a vitals item with its own id, maps back onto itself); a set of
    several uses `vitals_observation_id` for each.
    """
    wanted = list(dict.fromkeys(keys))
    if len(wanted) == 1:
        if wanted[0] not in OBSERVATION_KEYS:
            raise ValueError(f"{wanted[0]!r} is not a vital-signs observation key")
        return {wanted[0]: vitals_id}
    return {key: vitals_observation_id(vitals_id, key) for key in wanted}


def vitals_keys(data: Mapping[str, Any]) -> list[str]:
    """The Observation keys a VitalsRecorded payload produces, in a fixed order."""
    measured = data.get("measurements") or {}
    present = set(measured)
    if data.get("bmi") is not None:
        present.add("bmi")
    if present & {"systolic", "diastolic"}:
        present.add("blood_pressure")
    return [key for key in OBSERVATION_KEYS if key in present]


def quantity_in(quantity: Any, key: str) -> float | None:
    """A Quantity's value in FieldChart's unit for `key`; None if absent or not convertible."""
    if not isinstance(quantity, Mapping):
        return None
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    system = quantity.get("system")
    unit = quantity.get("code") if system in (UCUM, None) and "code" in quantity else None
    unit = unit if isinstance(unit, str) else quantity.get("unit")
    factor = _CONVERSIONS[key].get(unit) if isinstance(unit, str) else None
    if factor is None:
        return None
    if factor == "fahrenheit":
        return round((float(value) - 32) * 5 / 9, 2)
    if factor == _SAME:
        return float(value)
    return round(float(value) * float(factor), 2)


def spec_of(key: str) -> VitalSign:
    """The vital sign of an Observation key."""
    if key == "blood_pressure":
        return BLOOD_PRESSURE
    return SINGLE_VALUE[key]


def profiles_of(key: str) -> list[str]:
    """The FHIR profiles an Observation of this key claims.

    The blood-pressure panel claims only the vital-signs profile: Medplum's validator
    (5.1.x) refuses every panel that claims the `bp` profile ("Incorrect number of values
    provided for slice 'SystolicBP'", with both components present), which silently cost us
    every blood pressure on a real server. Claiming a profile is optional; the panel still
    conforms to `bp`."""
    if key == "blood_pressure":
        return [f"{PROFILE_BASE}vitalsigns"]
    return [f"{PROFILE_BASE}vitalsigns", f"{PROFILE_BASE}{spec_of(key).profile}"]


def vital_signs_category() -> Json:
    """Observation.category vital-signs."""
    category = coding(CATEGORY_SYSTEM, "vital-signs", "Vital Signs")
    return {"coding": [category], "text": "Vital Signs"}
