"""Domain refusals as the domain words them, for tests that check they reach people in
their own language (desktop and command line)."""

from __future__ import annotations

from app.domain.wording import N_, t

# app/domain/values.py refusing a systolic pressure of 400 mmHg
SYSTOLIC_400 = t(
    "{label} of {result} {unit} is outside the plausible range {low}–{high} {unit}",
    label=t(N_("Systolic BP")),
    result="400",
    unit="mmHg",
    low="40",
    high="300",
)
