"""Every vital-sign label and unit the chart shows -- the vitals form, summary and plots, the
one-line summaries and the timeline -- is the bundled catalog's wording, so "Temperature",
"Temp" and "T" cannot drift apart again."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from app.domain import events as ev
from app.domain.reference import VITAL_TEXT
from app.projections.timeline import describe
from app.store import reference_data
from app.store.reference_data import bundled_catalog
from app.ui.chart_text import vitals_text
from app.ui.formatting import VITALS

ALL = {
    "systolic": 128.0,
    "diastolic": 82.0,
    "heart_rate": 104.0,
    "respiratory_rate": 18.0,
    "temperature": 38.5,
    "spo2": 97.0,
    "weight": 79.6,
    "height": 162.0,
}


def _bundled() -> list[dict[str, Any]]:
    path = resources.files("resources").joinpath("codes", "vitals.json")
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["vitals"]
    return entries


def test_the_catalog_vitals_carry_the_one_wording_and_vitals_json_agrees_with_it() -> None:
    catalog = bundled_catalog().vitals
    assert list(catalog) == [k for k in VITAL_TEXT if k != "bmi"]  # BMI is derived
    for key, sign in catalog.items():
        text = VITAL_TEXT[key]
        assert (sign.label, sign.short_label, sign.unit_label) == (
            text.label,
            text.short,
            text.unit,
        )
    assert {e["key"]: e["unit_label"] for e in _bundled()} == {
        k: t.unit for k, t in VITAL_TEXT.items()
    }


def test_the_forms_summary_and_plots_label_vitals_as_the_catalog_does() -> None:
    catalog = bundled_catalog().vitals
    bmi = VITAL_TEXT["bmi"]
    from_catalog = {k: (s.label, s.unit_label) for k, s in catalog.items()}
    assert {**from_catalog, "bmi": (bmi.label, bmi.unit)} == VITALS


def test_the_one_line_summary_and_the_timeline_use_the_catalog_short_labels() -> None:
    c = bundled_catalog().vitals
    bp = c["systolic"]
    expected = ", ".join(
        [f"{bp.short_label} 128/82 {bp.unit_label}"]
        + [
            f"{c[k].short_label} {ALL[k]:g} {c[k].unit_label}"
            for k in c
            if k not in ("systolic", "diastolic")
        ]
        + [f"{VITAL_TEXT['bmi'].short} 30.3"]
    )
    assert expected == (
        "BP 128/82 mmHg, HR 104 /min, RR 18 /min, Temp 38.5 °C, SpO₂ 97 %,"
        " Weight 79.6 kg, Height 162 cm, BMI 30.3"
    )
    # The measurements in another order than the form's: both still write the form's order.
    shuffled = dict(reversed(list(ALL.items())))
    assert vitals_text(shuffled, 30.3) == expected
    event = ev.VitalsRecorded(
        vitals_id="v-1", taken_at="2026-11-21T09:00:00+00:00", measurements=shuffled, bmi=30.3
    )
    kind, item_id, words = describe(event)
    assert (kind, item_id, str(words)) == ("vitals", "v-1", f"Vitals: {expected}")


def test_a_vitals_json_disagreeing_with_the_wording_is_refused() -> None:
    entries = _bundled()
    reference_data._vitals(entries)  # the bundled file is accepted
    entries[2] = {**entries[2], "unit_label": "beats/min"}
    with pytest.raises(ValueError, match="heart_rate unit_label"):
        reference_data._vitals(entries)
    with pytest.raises(ValueError, match="keys"):
        reference_data._vitals(_bundled()[:-1])
