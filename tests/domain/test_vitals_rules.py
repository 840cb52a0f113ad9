"""A blood pressure is checked as a pair: each value in its range is not enough (issue 12:
heart rate 96 and respiratory rate 24 typed one box early became "BP 96/24").

The bounds (app/domain/vitals_rules.py explains them): pulse pressure 10–150 mmHg, and with a
systolic under 120 the diastolic more than a quarter of the systolic. The properties below
restate them independently, over every pair the per-field ranges allow.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import commands as c
from app.domain.errors import ValidationError
from app.domain.events import VitalsRecorded
from app.domain.vitals_rules import blood_pressure_problem
from tests.domain.builders import PID, accept, refuse

# The per-field ranges (resources/codes/vitals.json): systolic 40–300, diastolic 20–200 mmHg.
SYSTOLIC = (40, 300)
DIASTOLIC = (20, 200)


def plausible(systolic: float, diastolic: float) -> bool:
    """The rule, restated: what a real cuff reading can be."""
    pulse = round(systolic - diastolic, 1)
    if not 10 <= pulse <= 150:
        return False
    return not (systolic < 120 and diastolic <= systolic / 4)


def bp(systolic: float, diastolic: float, **more: float) -> c.RecordVitals:
    return c.RecordVitals(patient_id=PID, systolic=systolic, diastolic=diastolic, **more)  # type: ignore[arg-type]


def recorded(command: c.RecordVitals) -> dict[str, float]:
    (event,) = accept(command).events
    assert isinstance(event, VitalsRecorded)
    return dict(event.measurements)


def refused(systolic: float, diastolic: float) -> ValidationError:
    err = refuse(bp(systolic, diastolic), error=ValidationError)
    assert isinstance(err, ValidationError)
    return err


def test_the_reported_pair_is_refused_naming_both_values() -> None:
    err = refused(96, 24)
    assert err.field == "diastolic"  # the form shows it under the diastolic box
    assert err.message == (
        "Systolic 96 and diastolic 24 mmHg are not a plausible pair (pulse pressure 72 mmHg): "
        "with a systolic under 120 the diastolic should be more than a quarter of it. "
        "Check that each value is in its own field."
    )


def test_the_values_as_they_were_meant_are_recorded() -> None:
    command = bp(110, 70, heart_rate=96, respiratory_rate=24)
    assert recorded(command) == {
        "systolic": 110,
        "diastolic": 70,
        "heart_rate": 96,
        "respiratory_rate": 24,
    }


@pytest.mark.parametrize(
    ("systolic", "diastolic", "message"),
    [
        (
            120,
            115,
            "Systolic 120 and diastolic 115 mmHg are not a plausible pair (pulse pressure 5 mmHg):"
            " the difference should be at least 10. Check that each value is in its own field.",
        ),
        (
            80.5,
            71,
            "Systolic 80.5 and diastolic 71 mmHg are not a plausible pair"
            " (pulse pressure 9.5 mmHg): the difference should be at least 10."
            " Check that each value is in its own field.",
        ),
        (
            240,
            80,
            "Systolic 240 and diastolic 80 mmHg are not a plausible pair (pulse pressure 160 mmHg):"
            " the difference should be at most 150. Check that each value is in its own field.",
        ),
        (
            100,
            22,
            "Systolic 100 and diastolic 22 mmHg are not a plausible pair (pulse pressure 78 mmHg):"
            " with a systolic under 120 the diastolic should be more than a quarter of it."
            " Check that each value is in its own field.",
        ),
    ],
)
def test_implausible_pairs_are_refused_with_both_values(
    systolic: float, diastolic: float, message: str
) -> None:
    err = refused(systolic, diastolic)
    assert (err.message, err.field) == (message, "diastolic")


@pytest.mark.parametrize(
    ("systolic", "diastolic"),
    [
        (120, 110),  # pulse pressure exactly 10
        (220, 70),  # exactly 150: isolated systolic hypertension
        (180, 30),  # free aortic regurgitation: a raised systolic, a very low diastolic
        (140, 30),  # rheumatic aortic regurgitation in a young adult
        (119, 30),  # just over a quarter
        (96, 25),
        (70, 45),  # shock: both low, the pair still plausible
        (40, 25),  # the lowest systolic with a narrowish gap
        (300, 200),
        (210, 200),  # both at the top
    ],
)
def test_real_readings_at_the_edges_are_recorded(systolic: float, diastolic: float) -> None:
    assert recorded(bp(systolic, diastolic)) == {"systolic": systolic, "diastolic": diastolic}


def test_a_value_outside_its_own_range_is_named_first() -> None:
    err = refused(120, 19)
    assert err.message.startswith("Diastolic BP of 19 mmHg is outside")
    err = refused(120, 120)
    assert err.message == "Diastolic pressure must be below systolic pressure"


whole = st.integers(*SYSTOLIC).flatmap(
    lambda s: st.tuples(st.just(s), st.integers(DIASTOLIC[0], min(s - 1, DIASTOLIC[1])))
)
tenths = st.tuples(
    st.integers(SYSTOLIC[0] * 10, SYSTOLIC[1] * 10).map(lambda n: n / 10),
    st.integers(DIASTOLIC[0] * 10, DIASTOLIC[1] * 10).map(lambda n: n / 10),
).filter(lambda p: p[1] < p[0])


@settings(max_examples=300)
@given(st.one_of(whole, tenths))
def test_every_pair_in_the_bounds_is_recorded_and_every_other_refused_naming_both(
    pair: tuple[float, float],
) -> None:
    systolic, diastolic = pair
    if plausible(systolic, diastolic):
        assert blood_pressure_problem(systolic, diastolic) is None
        assert recorded(bp(systolic, diastolic)) == {"systolic": systolic, "diastolic": diastolic}
        return
    err = refused(systolic, diastolic)
    assert err.field == "diastolic"
    assert err.message.startswith(
        f"Systolic {systolic:g} and diastolic {diastolic:g} mmHg are not a plausible pair "
        f"(pulse pressure {round(systolic - diastolic, 1):g} mmHg): "
    )


@given(st.integers(*SYSTOLIC), st.integers(*DIASTOLIC))
def test_the_rule_is_decided_by_the_pair_alone(systolic: int, diastolic: int) -> None:
    """Other vitals recorded with the pair change nothing about it."""
    if diastolic >= systolic:
        return
    alone = blood_pressure_problem(systolic, diastolic)
    command = bp(systolic, diastolic, heart_rate=72, spo2=98, temperature=36.8)
    if alone is None:
        assert recorded(command)["diastolic"] == diastolic
    else:
        assert refuse(command, error=ValidationError).message == str(alone)
