"""A clinician records point-of-care test results: the bundled list decides what a result may
be, abnormal results are flagged, and bad input is refused with the field named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain import commands as c
from app.domain import events as ev
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.errors import ValidationError
from app.domain.poc_tests import POC_TEST_CODES, interpret
from app.store.reference_data import bundled_catalog
from tests.clinic_fixtures import NOW, registration
from tests.domain.builders import PID, accept, chart_after, context, refuse

CATALOG = bundled_catalog()


def ctx() -> DecisionContext:
    return context(catalog=CATALOG)


def result(**fields: object) -> c.RecordTestResult:
    return c.RecordTestResult(patient_id=PID, **fields)  # type: ignore[arg-type]


def recorded(
    command: c.RecordTestResult, chart: PatientChart | None = None
) -> ev.TestResultRecorded:
    decision = accept(command, chart or chart_after(ctx=ctx()), ctx())
    (event,) = decision.events
    assert isinstance(event, ev.TestResultRecorded)
    return event


def test_the_bundled_list_has_every_test_the_issue_names() -> None:
    assert set(CATALOG.poc_tests) == set(POC_TEST_CODES)
    types = {t.result_type for t in CATALOG.poc_tests.values()}
    assert types == {"qualitative", "numeric", "ordinal"}
    assert CATALOG.poc_tests["malaria_rdt_pf"].loinc == "76772-3"
    assert CATALOG.poc_tests["glucose_capillary"].ucum == "mmol/L"


def test_a_positive_malaria_rdt_is_flagged_positive_and_abnormal() -> None:
    event = recorded(result(test="malaria_rdt_pf", result="Positive"))
    assert (event.result, event.interpretation, event.abnormal) == ("positive", "POS", True)
    assert event.specimen == "capillary blood" and event.loinc == "76772-3"
    assert event.taken_at == NOW.isoformat(timespec="seconds")


def test_a_test_may_be_named_by_its_loinc_code_or_name() -> None:
    assert recorded(result(test="2106-3", result="positive")).test == "urine_hcg"
    assert recorded(result(test="haemoglobin", value=13.5)).test == "haemoglobin"
    assert recorded(result(test="Haemoglobin", result="13,5")).value == 13.5


def test_a_positive_pregnancy_test_is_positive_but_not_abnormal() -> None:
    event = recorded(result(test="urine_hcg", result="positive", specimen="urine"))
    assert (event.interpretation, event.abnormal) == ("POS", False)


def test_an_invalid_rdt_is_indeterminate_not_abnormal() -> None:
    event = recorded(result(test="hiv_rapid", result="invalid"))
    assert (event.interpretation, event.abnormal) == ("IND", False)


@pytest.mark.parametrize(
    ("value", "code", "abnormal"),
    [(7.9, "L", True), (12.5, "N", False), (18.0, "H", True)],
)
def test_haemoglobin_is_flagged_against_the_reference_range(
    value: float, code: str, abnormal: bool
) -> None:
    event = recorded(result(test="haemoglobin", value=value))
    assert (event.interpretation, event.abnormal) == (code, abnormal)
    assert (event.unit, event.reference_high) == ("g/dL", 17.5)


def test_the_lower_haemoglobin_limit_depends_on_sex() -> None:
    hb = CATALOG.poc_tests["haemoglobin"]
    assert interpret(hb, 12.5, None, "male").code == "L"
    assert interpret(hb, 12.5, None, "female").code == "N"
    man = chart_after(ctx=ctx())
    man.demographics["sex"] = "male"
    assert recorded(result(test="haemoglobin", value=12.5), man).reference_low == 13.0


def test_dipstick_grades_are_read_from_the_scale_and_plus_signs() -> None:
    assert recorded(result(test="urine_protein", result="++")).result == "2+"
    trace = recorded(result(test="urine_protein", result="trace"))
    assert (trace.interpretation, trace.abnormal) == ("N", False)
    assert recorded(result(test="urine_glucose", result="trace")).abnormal


def test_an_out_of_range_value_is_refused_naming_the_field() -> None:
    error = refuse(result(test="glucose_capillary", value=55), ctx=ctx())
    assert error.field == "value"
    assert "33.3" in str(error) and "mmol/L" in str(error)


@pytest.mark.parametrize(
    ("command", "field", "words"),
    [
        (result(test="urine_protein", result="5+"), "result", "not a result"),
        (result(test="malaria_rdt_pf"), "result", "Choose"),
        (result(test="malaria_rdt_pf", value=1), "value", "no numeric value"),
        (result(test="haemoglobin"), "value", "Enter"),
        (result(test="haemoglobin", result="high"), "value", "number"),
        (result(test="ferritin", value=30), "test", "not in the bundled list"),
        (result(test="haemoglobin", value=12, specimen="urine"), "specimen", "Specimen"),
        (result(test="urine_nitrite", result="positive", specimen="venous blood"), "specimen", ""),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    command: c.RecordTestResult, field: str, words: str
) -> None:
    error = refuse(command, chart_after(ctx=ctx()), ctx=ctx(), error=ValidationError)
    assert error.field == field and words in str(error)


def test_a_result_in_the_future_or_before_birth_is_refused() -> None:
    future = (NOW + timedelta(hours=1)).isoformat()
    error = refuse(result(test="haemoglobin", value=12, taken_at=future), ctx=ctx())
    assert error.field == "taken_at"
    baby = chart_after(ctx=ctx())
    baby.demographics["birth_date"] = "2026-11-20"
    before = "2026-11-19T10:00:00+00:00"
    error = refuse(result(test="haemoglobin", value=12, taken_at=before), baby, ctx=ctx())
    assert error.field == "taken_at" and "birth" in str(error)


def test_a_test_result_is_an_item_that_can_be_entered_in_error() -> None:
    command = result(test="malaria_rdt_pan", result="negative", result_id="rdt-1")
    chart = chart_after(command, ctx=ctx())
    item = chart.item("rdt-1", "test_result")
    assert item is not None and item.active and item.data["result"] == "negative"
    mark = c.MarkEnteredInError(patient_id=PID, item_id="rdt-1", reason="wrong patient")
    (event,) = accept(mark, chart, ctx()).events
    assert isinstance(event, ev.EnteredInError) and event.item_kind == "test_result"


def test_recording_a_test_result_is_not_rebased() -> None:
    assert not c.RecordTestResult.REBASABLE
    assert registration().patient_id == ""


def test_a_urine_strip_records_one_result_per_pad_read() -> None:
    strip = c.RecordUrineDipstick(
        patient_id=PID, protein="++", glucose="negative", nitrite="positive", note="midstream"
    )
    events = accept(strip, chart_after(ctx=ctx()), ctx()).events
    assert [(e.test, e.result, e.abnormal) for e in events] == [  # type: ignore[attr-defined]
        ("urine_protein", "2+", True),
        ("urine_glucose", "negative", False),
        ("urine_nitrite", "positive", True),
    ]
    assert len({e.result_id for e in events}) == 3  # type: ignore[attr-defined]
    assert {e.specimen for e in events} == {"urine"}  # type: ignore[attr-defined]


def test_a_wrong_grade_on_a_strip_names_its_pad_and_records_nothing() -> None:
    error = refuse(
        c.RecordUrineDipstick(patient_id=PID, protein="1+", ketones="9+"),
        chart_after(ctx=ctx()),
        ctx=ctx(),
        error=ValidationError,
    )
    assert error.field == "ketones" and "ketones" in str(error)
    error = refuse(c.RecordUrineDipstick(patient_id=PID), ctx=ctx(), error=ValidationError)
    assert error.field == "protein" and "at least one pad" in str(error)
