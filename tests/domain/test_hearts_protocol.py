"""The protocol file's check (every problem named by its key, nothing half-used) and the
decline decision's refusals, without a database."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.domain import commands as c
from app.domain.errors import AlreadyDoneError, DomainError, NotFoundError, ValidationError
from app.domain.hearts.protocol import ProtocolError, parse_protocol
from app.store.protocol_data import bundled_text
from app.store.reference_data import bundled_catalog
from tests.domain.builders import PID, chart_after, context

CATALOG = bundled_catalog()


def bundled() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bundled_text())
    return data


def problems_of(data: Any) -> list[str]:
    with pytest.raises(ProtocolError) as info:
        parse_protocol(data, CATALOG)
    return info.value.problems


def test_the_bundled_protocol_is_usable_and_cites_its_source() -> None:
    protocol = parse_protocol(bundled(), CATALOG)
    assert protocol.version == "2026.1"
    assert "WHO/NMH/NVI/18.2" in protocol.source and "HEARTS" in protocol.source
    assert (protocol.systolic_below, protocol.diastolic_below) == (140, 90)
    assert [s.number for s in protocol.steps] == [1, 2, 3, 4, 5]
    medicines = {o.medicine for comp in protocol.components for o in comp.options}
    assert medicines <= set(CATALOG.medicines)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(format="other"), 'format: must be "fieldchart-hypertension-protocol"'),
        (lambda d: d.pop("version"), "version: must be a non-empty text"),
        (
            lambda d: d["control_target"].update(systolic_below="140"),
            "control_target.systolic_below: must be a number from 90 to 200",
        ),
        (
            lambda d: d["components"][0]["options"][0].update(doses=[10, 5]),
            "components[1].options[1].doses: must be positive numbers, each higher than the one "
            "before",
        ),
        (
            lambda d: d["components"][1]["options"][1].update(medicine="ramipril"),
            "components[2].options[2].medicine: 'ramipril' is not in the medicine list",
        ),
        (
            lambda d: d["components"][2]["options"][0].update(frequency="daily"),
            "components[3].options[1].frequency: 'daily' is not a frequency code of the list",
        ),
        (lambda d: d["steps"][1].update(step=7), "steps[2].step: must be 2"),
        (
            lambda d: d["steps"][3].update(level=3),
            "steps[4].level: losartan has only 2 dose(s)",
        ),
        (
            lambda d: d["steps"][1].update(level=1),
            "steps[2].level: must be one more than this component's last step",
        ),
        (
            lambda d: d.update(never_together=[["ace_inhibitor", "sartan"]]),
            "never_together: sartan is not a drug class of the list",
        ),
        (
            lambda d: d["child_bearing"].update(min_age=50),
            "child_bearing.max_age: must not be below min_age",
        ),
    ],
)
def test_each_problem_is_named_by_its_key(change: Any, problem: str) -> None:
    data = bundled()
    change(data)
    assert any(p.startswith(problem) for p in problems_of(data)), problems_of(data)


def test_a_file_that_is_not_an_object_is_refused_plainly() -> None:
    assert problems_of([1, 2]) == ["the file must hold one JSON object"]


def _chart_with_bp() -> Any:
    return chart_after(
        c.RecordDiagnosis(patient_id=PID, diagnosis_id="dx", code="I10"),
        c.RecordVitals(patient_id=PID, vitals_id="bp", systolic=150, diastolic=95),
        ctx=context(catalog=CATALOG),
    )


def _decline(**changes: Any) -> c.DeclineProtocolSuggestion:
    fields: dict[str, Any] = {
        "patient_id": PID,
        "vitals_id": "bp",
        "suggestion": "Start amlodipine 5 mg once daily",
        "reason": "cost",
    }
    fields.update(changes)
    return c.DeclineProtocolSuggestion(**fields)


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"reason": ""}, ValidationError, "reason"),
        ({"reason": "x" * 501}, ValidationError, "reason"),
        ({"suggestion": " "}, ValidationError, "suggestion"),
        ({"vitals_id": "missing"}, NotFoundError, "vitals_id"),
    ],
)
def test_a_decline_is_refused_naming_the_field(
    changes: dict[str, Any], error: type[DomainError], field: str
) -> None:
    from app.domain.decide import decide

    with pytest.raises(error) as info:
        decide(_chart_with_bp(), _decline(**changes), context(catalog=CATALOG))
    assert info.value.field == field


def test_a_reading_in_error_or_already_declined_is_refused() -> None:
    from app.domain.chart import evolve
    from app.domain.decide import decide

    chart, ctx = _chart_with_bp(), context(catalog=CATALOG)
    decision = decide(chart, _decline(), ctx)
    assert [type(e).__name__ for e in decision.events] == [
        "ProtocolSuggestionDeclined",
        "NoteAdded",
    ]
    for event in decision.events:
        evolve(chart, event)
    with pytest.raises(AlreadyDoneError):
        decide(chart, _decline(reason="again"), ctx)
    wrong = c.MarkEnteredInError(patient_id=PID, item_id="bp", reason="wrong patient")
    for event in decide(chart, wrong, ctx).events:
        evolve(chart, event)
    with pytest.raises(NotFoundError) as info:
        decide(chart, _decline(), ctx)
    assert info.value.message == "This blood pressure reading was marked as entered in error"


def test_the_protocol_file_ships_with_the_package_and_the_bundle() -> None:
    import tomllib
    from importlib import resources
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert resources.files("resources").joinpath("protocols", "hearts_hypertension.json").is_file()
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert "**/*.json" in pyproject["tool"]["setuptools"]["package-data"]["resources"]
    spec = (root / "packaging" / "fieldchart.spec").read_text(encoding="utf-8")
    assert '(ROOT / "resources").rglob("*")' in spec  # every file under resources/ is bundled


def test_a_decline_whose_note_was_entered_in_error_is_void() -> None:
    from app.domain.chart import evolve
    from app.domain.decide import decide
    from app.domain.hearts.engine import suggest
    from app.store.protocol_data import load_protocol

    chart, ctx = _chart_with_bp(), context(catalog=CATALOG)
    protocol = load_protocol(None, CATALOG).protocol
    decision = decide(chart, _decline(note_id="note-decline"), ctx)
    for event in decision.events:
        evolve(chart, event)
    day = ctx.now.date()
    assert suggest(chart, protocol, CATALOG, day).declined_reason == "cost"
    wrong = c.MarkEnteredInError(patient_id=PID, item_id="note-decline", reason="wrong patient")
    for event in decide(chart, wrong, ctx).events:
        evolve(chart, event)
    assert suggest(chart, protocol, CATALOG, day).declined_reason is None
    decide(chart, _decline(reason="declined again, for the right patient"), ctx)  # allowed
