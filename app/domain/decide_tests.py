"""Point-of-care test results (RecordTestResult): the test must be bundled, the result must be
one its type allows, the time must be between birth and now; abnormal results are flagged."""

from __future__ import annotations

from datetime import date

from app.domain import commands as c
from app.domain import values as v
from app.domain.chart import PatientChart
from app.domain.context import DecisionContext
from app.domain.decide_clinical import encounter_of, new_item_id
from app.domain.decision import Decision, require_registered
from app.domain.errors import ValidationError
from app.domain.events import TestResultRecorded
from app.domain.poc_tests import DIPSTICK_PADS, RESULT_LABELS, PocTest, interpret
from app.domain.reference import Catalog, fold
from app.domain.wording import N_, t


def find_test(catalog: Catalog, text: str | None) -> PocTest:
    """The bundled test named by key, LOINC code or name (case-insensitive)."""
    wanted = fold(v.required_text(text, "test", N_("Test")))
    for test in catalog.poc_tests.values():
        if wanted in (fold(test.key), test.loinc, fold(test.name)):
            return test
    # The typed text is not repeated: messages never echo free text (app/domain/errors.py).
    raise ValidationError(
        t("This test is not in the bundled list of point-of-care tests; pick a listed test"), "test"
    )


def record_test_result(
    chart: PatientChart | None, cmd: c.RecordTestResult, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    test = find_test(ctx.catalog, cmd.test)
    value, result = _checked_result(test, cmd.value, cmd.result)
    specimen = v.choice(cmd.specimen or test.specimen, "specimen", N_("Specimen"), test.specimens)
    assert specimen is not None  # required: a refusal raises
    taken = v.past_instant(cmd.taken_at, "taken_at", N_("Time taken"), ctx.now)
    _not_before_birth(chart, taken)
    sex = chart.demographics.get("sex")
    found = interpret(test, value, result, sex if isinstance(sex, str) else None)
    numeric = test.result_type == "numeric"
    return Decision(
        [
            TestResultRecorded(
                result_id=new_item_id(chart, cmd.result_id, "result_id", ctx),
                test=test.key,
                loinc=test.loinc,
                name=test.name,
                result_type=test.result_type,
                loinc_display=test.display,
                taken_at=taken,
                specimen=specimen,
                value=value,
                result=result,
                unit=test.ucum if numeric else None,
                unit_label=test.unit_label if numeric else None,
                reference_low=test.low_for(sex if isinstance(sex, str) else None)
                if numeric
                else None,
                reference_high=test.high if numeric else None,
                interpretation=found.code,
                abnormal=found.abnormal,
                encounter_id=encounter_of(chart, cmd.encounter_id),
                note=v.text(cmd.note, "note", N_("Note"), required=False, max_len=1000),
            )
        ],
        taken,
    )


def record_dipstick(
    chart: PatientChart | None, cmd: c.RecordUrineDipstick, ctx: DecisionContext
) -> Decision:
    """One test result per pad read, each checked as RecordTestResult checks it; a wrong
    grade is refused naming its pad's field, and then none is recorded."""
    events = []
    taken = None
    for field, test in DIPSTICK_PADS:
        word = getattr(cmd, field)
        if word is None or not str(word).strip():
            continue
        one = c.RecordTestResult(
            patient_id=cmd.patient_id,
            test=test,
            result=word,
            specimen="urine",
            taken_at=cmd.taken_at,
            encounter_id=cmd.encounter_id,
            note=cmd.note,
        )
        try:
            decision = record_test_result(chart, one, ctx)
        except ValidationError as exc:
            raise ValidationError(str(exc), field if exc.field == "result" else exc.field) from None
        events += decision.events
        taken = decision.occurred_at
    if taken is None:
        raise ValidationError(t("Enter the grade of at least one pad of the strip"), "protein")
    return Decision(events, taken)


def _checked_result(
    test: PocTest, value: object, result: str | None
) -> tuple[float | None, str | None]:
    """(numeric value, scale word): the one the test's type takes, checked."""
    if test.result_type == "numeric":
        if value is None and result is not None and str(result).strip():
            value = _parse_number(str(result), test)
        if value is None:
            raise ValidationError(
                t(
                    "Enter the {name} value in {unit_label}",
                    name=test.name,
                    unit_label=test.unit_label,
                ),
                "value",
            )
        number = v.number(value, "value", test.name, test.minimum, test.maximum, test.unit_label)
        return number, None
    if value is not None:
        raise ValidationError(
            t(
                "{name} has no numeric value; choose one of: {scale}",
                name=test.name,
                scale=_scale(test),
            ),
            "value",
        )
    word = v.text(result, "result", N_("Result"), required=False, max_len=20)
    if word is None:
        raise ValidationError(
            t("Choose the {name} result: {scale}", name=test.name, scale=_scale(test)), "result"
        )
    word = word.lower()
    if word == "+" * len(word) and 1 <= len(word) <= 4:  # "++" is how many write 2+
        word = f"{len(word)}+"
    if word not in test.scale:
        raise ValidationError(
            t(
                "That is not a result of {name}; choose one of: {scale}",
                name=test.name,
                scale=_scale(test),
            ),
            "result",
        )
    return None, word


def _parse_number(text: str, test: PocTest) -> float:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        raise ValidationError(
            t(
                "{name} must be a number in {unit_label}",
                name=test.name,
                unit_label=test.unit_label,
            ),
            "value",
        ) from None


def _scale(test: PocTest) -> str:
    return ", ".join(RESULT_LABELS.get(w, w).split(" (")[0].lower() for w in test.scale)


def _not_before_birth(chart: PatientChart, taken: str) -> None:
    birth = chart.demographics.get("birth_date")
    if not isinstance(birth, str):
        return
    try:
        born = date.fromisoformat(birth)
    except ValueError:
        return
    if v.instant(taken, "taken_at", N_("Time taken")).date() < born:
        raise ValidationError(t("Time taken is before the patient's birth date"), "taken_at")
