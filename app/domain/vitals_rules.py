"""Plausibility of a blood pressure as a pair (each value's own range comes from the catalog).

Each of systolic and diastolic can be in its range while the pair is not a circulation a cuff
measures -- most often because the values were typed into the wrong boxes (issue 12: HR 96 and
RR 24 typed one box early were recorded as "BP 96/24"). There is no override for a refused
reading, so the bounds refuse only pairs that a real reading practically never gives. They are
FieldChart input checks from clinical reasoning, not published cut-offs:

- Pulse pressure (systolic - diastolic) below 10 mmHg. A normal pulse pressure is about
  40 mmHg; "narrow" is conventionally under a quarter of the systolic. The narrowest real
  readings -- cardiac tamponade, severe aortic stenosis, shock -- still leave the Korotkoff
  sounds audible over more than 10 mmHg. A gap under 10 is a slip (120/118, 80/75).
- Pulse pressure above 150 mmHg. Pulse pressures of 100 or more are already unusual (free
  aortic regurgitation, the stiff arteries of isolated systolic hypertension); 150 is at the
  end of those (180/30, 220/70), and beyond it a slip is far likelier than a circulation.
- With a systolic under 120, a diastolic of a quarter of the systolic or less (pulse pressure
  three quarters of it or more). So low a diastolic against the systolic needs a large stroke
  volume running off fast -- aortic regurgitation, common here as rheumatic heart disease --
  and that large stroke volume raises the systolic, so AR readings such as 140/30 or 160/35
  stay allowed. With the systolic not raised, such a pair is what a resting heart rate (about
  four times the breathing rate) and a respiratory rate typed into the blood-pressure boxes
  give: 96/24, 100/22, 88/20.
"""

from __future__ import annotations

from app.domain.errors import ValidationError
from app.domain.wording import Text, t

PULSE_PRESSURE_MIN = 10.0  # mmHg
PULSE_PRESSURE_MAX = 150.0  # mmHg
RAISED_SYSTOLIC = 120.0  # mmHg; below it the diastolic must exceed a quarter of the systolic
DIASTOLIC_SHARE = 4  # "a quarter of the systolic"


def _n(value: float) -> str:
    return f"{value:g}"


def blood_pressure_problem(systolic: float, diastolic: float) -> Text | None:
    """Why (systolic, diastolic) is not a plausible pair, or None when it is.

    Assumes each value is in its own range and diastolic < systolic (checked before)."""
    pulse = round(systolic - diastolic, 1)
    values = {"systolic": _n(systolic), "diastolic": _n(diastolic), "pulse": _n(pulse)}
    if pulse < PULSE_PRESSURE_MIN:
        return t(
            "Systolic {systolic} and diastolic {diastolic} mmHg are not a plausible pair "
            "(pulse pressure {pulse} mmHg): the difference should be at least {limit}. "
            "Check that each value is in its own field.",
            limit=_n(PULSE_PRESSURE_MIN),
            **values,
        )
    if pulse > PULSE_PRESSURE_MAX:
        return t(
            "Systolic {systolic} and diastolic {diastolic} mmHg are not a plausible pair "
            "(pulse pressure {pulse} mmHg): the difference should be at most {limit}. "
            "Check that each value is in its own field.",
            limit=_n(PULSE_PRESSURE_MAX),
            **values,
        )
    if systolic < RAISED_SYSTOLIC and diastolic * DIASTOLIC_SHARE <= systolic:
        return t(
            "Systolic {systolic} and diastolic {diastolic} mmHg are not a plausible pair "
            "(pulse pressure {pulse} mmHg): with a systolic under {limit} the diastolic "
            "should be more than a quarter of it. Check that each value is in its own field.",
            limit=_n(RAISED_SYSTOLIC),
            **values,
        )
    return None


def check_blood_pressure(systolic: float, diastolic: float) -> None:
    """Refuse an implausible pair; the error is shown next to the diastolic."""
    problem = blood_pressure_problem(systolic, diastolic)
    if problem is not None:
        raise ValidationError(problem, "diastolic")
