"""A clinician records any subset of vitals; implausible values (a typo, a unit mix-up) and
clinical times in the future are refused, BMI is derived."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain import commands as c
from app.domain.decide_clinical import VITAL_RANGES
from app.domain.errors import NotFoundError, ValidationError
from app.domain.events import VitalsRecorded
from app.domain.reference import VITAL_TEXT, Catalog, VitalSign
from tests.clinic_fixtures import NOW
from tests.domain.builders import PID, accept, chart_after, context, refuse

# (field, label, low, high, unit): the plausibility ranges of the issue.
RANGES = [
    ("systolic", "Systolic BP", 40, 300, "mmHg"),
    ("heart_rate", "Heart rate", 20, 300, "/min"),
    ("respiratory_rate", "Respiratory rate", 4, 80, "/min"),
    ("temperature", "Temperature", 25, 45, "°C"),
    ("spo2", "SpO₂", 50, 100, "%"),
    ("weight", "Weight", 0.2, 500, "kg"),
    ("height", "Height", 20, 272, "cm"),
]
STEP = {"weight": 0.1}  # "just outside" the bound, in the field's usual precision


def vitals(**values: object) -> c.RecordVitals:
    if "systolic" in values and "diastolic" not in values:
        # a plausible pair (see test_vitals_rules.py): about two thirds of the systolic
        values["diastolic"] = min(round(float(values["systolic"]) * 2 / 3), 200)  # type: ignore[arg-type]
    return c.RecordVitals(patient_id=PID, **values)  # type: ignore[arg-type]


def recorded(cmd: c.RecordVitals) -> VitalsRecorded:
    (event,) = accept(cmd).events
    assert isinstance(event, VitalsRecorded)
    return event


@pytest.mark.parametrize(("field", "label", "low", "high", "unit"), RANGES)
def test_values_at_each_bound_are_accepted(
    field: str, label: str, low: float, high: float, unit: str
) -> None:
    for value in (low, high):
        assert recorded(vitals(**{field: value})).measurements[field] == value


@pytest.mark.parametrize(("field", "label", "low", "high", "unit"), RANGES)
def test_values_just_outside_each_bound_are_refused(
    field: str, label: str, low: float, high: float, unit: str
) -> None:
    step = STEP.get(field, 1)
    for value in (round(low - step, 1), high + step):
        err = refuse(vitals(**{field: value}), error=ValidationError)
        assert err.field == field
        assert err.message == (
            f"{label} of {value:g} {unit} is outside the plausible range {low:g}–{high:g} {unit}"
        )


def test_diastolic_has_its_own_range() -> None:
    assert recorded(vitals(systolic=210, diastolic=200)).measurements["diastolic"] == 200
    err = refuse(vitals(systolic=120, diastolic=19), error=ValidationError)
    assert (err.message, err.field) == (
        "Diastolic BP of 19 mmHg is outside the plausible range 20–200 mmHg",
        "diastolic",
    )


def test_diastolic_must_be_below_systolic() -> None:
    assert recorded(vitals(systolic=120, diastolic=110)).measurements == {
        "systolic": 120,
        "diastolic": 110,
    }
    for diastolic in (120, 130):
        err = refuse(vitals(systolic=120, diastolic=diastolic), error=ValidationError)
        assert (err.message, err.field) == (
            "Diastolic pressure must be below systolic pressure",
            "diastolic",
        )


def test_blood_pressure_needs_both_values() -> None:
    err = refuse(c.RecordVitals(patient_id=PID, systolic=120), error=ValidationError)
    assert (err.message, err.field) == (
        "Blood pressure needs both systolic and diastolic values",
        "diastolic",
    )
    err = refuse(c.RecordVitals(patient_id=PID, diastolic=80), error=ValidationError)
    assert err.field == "systolic"


def test_at_least_one_measurement() -> None:
    err = refuse(c.RecordVitals(patient_id=PID), error=ValidationError)
    assert (err.message, err.field) == ("Enter at least one measurement", "systolic")


def test_a_value_typed_as_text_is_not_a_number() -> None:
    err = refuse(c.RecordVitals(patient_id=PID, heart_rate="72"), error=ValidationError)  # type: ignore[arg-type]
    assert (err.message, err.field) == ("Heart rate must be a number", "heart_rate")


def test_any_subset_is_recorded_and_only_that_subset() -> None:
    event = recorded(c.RecordVitals(patient_id=PID, spo2=97, temperature=37.2))
    assert event.measurements == {"temperature": 37.2, "spo2": 97}
    assert event.bmi is None


def test_bmi_is_derived_from_weight_and_height() -> None:
    event = recorded(c.RecordVitals(patient_id=PID, weight=70, height=175))
    assert event.bmi == 22.9  # 70 / 1.75² = 22.857…
    assert recorded(c.RecordVitals(patient_id=PID, weight=70)).bmi is None


def test_clinical_time_defaults_to_now_and_may_be_in_the_past() -> None:
    assert recorded(vitals(heart_rate=70)).taken_at == "2026-11-21T09:00:00+00:00"
    decision = accept(vitals(heart_rate=70, taken_at="2026-11-20T18:30:00+03:00"))
    assert decision.occurred_at == "2026-11-20T18:30:00+03:00"


def test_clinical_time_beyond_five_minutes_in_the_future_is_refused() -> None:
    within_skew = (NOW + timedelta(minutes=5)).isoformat()
    assert recorded(vitals(heart_rate=70, taken_at=within_skew)).taken_at == within_skew
    too_late = (NOW + timedelta(minutes=5, seconds=1)).isoformat()
    err = refuse(vitals(heart_rate=70, taken_at=too_late), error=ValidationError)
    assert (err.message, err.field) == ("Time taken cannot be in the future", "taken_at")


def test_clinical_time_needs_a_time_zone() -> None:
    err = refuse(vitals(heart_rate=70, taken_at="2026-11-21T08:00:00"), error=ValidationError)
    assert err.field == "taken_at"
    assert err.message.startswith("Time taken needs a time zone")


def test_vitals_for_an_unknown_patient() -> None:
    err = refuse(vitals(heart_rate=70), chart=None, error=NotFoundError)
    assert (err.message, err.field) == (
        "This patient is not registered on this device",
        "patient_id",
    )


def test_vitals_linked_to_an_encounter_of_the_chart() -> None:
    chart = chart_after(c.StartEncounter(patient_id=PID, encounter_id="enc-1"))
    (event,) = accept(vitals(heart_rate=70, encounter_id="enc-1"), chart).events
    assert isinstance(event, VitalsRecorded)
    assert event.encounter_id == "enc-1"
    err = refuse(vitals(heart_rate=70, encounter_id="enc-9"), chart, error=NotFoundError)
    assert (err.message, err.field) == (
        "No encounter with this id on the patient's chart",
        "encounter_id",
    )


def test_client_chosen_vitals_id_must_be_new_and_well_formed() -> None:
    chart = chart_after(vitals(heart_rate=70, vitals_id="v-1"))
    err = refuse(vitals(heart_rate=71, vitals_id="v-1"), chart, error=ValidationError)
    assert (err.message, err.field) == (
        "An item with this id already exists on the chart",
        "vitals_id",
    )
    err = refuse(vitals(heart_rate=71, vitals_id="v 2"), chart, error=ValidationError)
    assert err.field == "vitals_id"


def test_client_chosen_id_already_used_on_another_chart_is_refused() -> None:
    ctx = context(taken=lambda item_id: item_id == "v-elsewhere")
    err = refuse(vitals(heart_rate=71, vitals_id="v-elsewhere"), ctx=ctx, error=ValidationError)
    assert (err.message, err.field) == (
        "This id is already used by an item on another patient's chart; choose another",
        "vitals_id",
    )


def test_ranges_come_from_the_catalog_when_it_has_them() -> None:
    narrow = Catalog(
        vitals={"heart_rate": VitalSign("heart_rate", "8867-4", "HR", "/min", 30, 250)}
    )
    ctx = context(catalog=narrow)
    err = refuse(vitals(heart_rate=25), ctx=ctx, error=ValidationError)
    assert err.message == "Heart rate of 25 /min is outside the plausible range 30–250 /min"


def test_an_empty_catalog_refuses_with_the_built_in_range_and_the_vital_s_own_wording() -> None:
    ctx = context(catalog=Catalog())
    err = refuse(vitals(spo2=49), ctx=ctx, error=ValidationError)
    assert (err.message, err.field) == (
        "SpO₂ of 49 % is outside the plausible range 50–100 %",
        "spo2",
    )
    # every field of the form has a built-in range and a label and unit to write it with
    assert set(c.VITAL_FIELDS) == set(VITAL_RANGES)
    assert set(VITAL_RANGES) <= set(VITAL_TEXT)
