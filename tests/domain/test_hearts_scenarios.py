"""The hypertension protocol's reference scenarios: each row is a patient (blood pressure
history, prescriptions, allergies, sex, age, pregnancy) and the suggestion the bundled WHO
HEARTS protocol (resources/protocols/hearts_hypertension.json) gives, worked out by hand
from the protocol's rules (docs/clinical/hypertension-protocol.md), not from the engine.

The day is 21 November 2026: the follow-up is 21 Dec 2026 while uncontrolled (30 days),
19 Feb 2027 when controlled (90 days), the same day when the pressure is very high.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from app.domain import commands as c
from app.domain.chart import PatientChart
from app.domain.hearts.engine import Suggestion, suggest
from app.domain.hearts.protocol import Protocol
from app.store.protocol_data import load_protocol
from app.store.reference_data import bundled_catalog
from tests.clinic_fixtures import registration
from tests.domain.builders import PID, chart_after, context

TODAY = date(2026, 11, 21)
UNCONTROLLED, CONTROLLED, SAME_DAY = "2026-12-21", "2027-02-19", "2026-11-21"
MAN_66, WOMAN_30, WOMAN_55 = (
    ("male", "1960-03-01"),
    ("female", "1996-06-15"),
    ("female", "1971-01-10"),
)
CATALOG = bundled_catalog()
PROTOCOL: Protocol = load_protocol(None, CATALOG).protocol


@dataclass(frozen=True)
class Case:
    """A patient and the expected suggestion: (kind, drug, dose, step, follow-up)."""

    name: str
    bp: tuple[tuple[float, float], ...]  # oldest first, taken a day apart
    expect: tuple[str, str | None, float | None, int | None, str | None]
    drugs: tuple[tuple[str, float, str], ...] = ()  # active: (drug, dose, unit)
    stopped: tuple[tuple[str, float, str], ...] = ()
    allergies: tuple[str, ...] = ()
    patient: tuple[str, str] = MAN_66
    diagnosis: str | None = "I10"
    extra_diagnoses: tuple[str, ...] = ()
    resolved: bool = False  # the hypertension diagnosis was resolved
    error: tuple[int, ...] = ()  # indexes of readings marked entered in error
    inactive_allergy: bool = False
    text: tuple[str, ...] = field(default=())  # words the explanation must contain


def start(drug: str, dose: float, step: int) -> tuple[str, str, float, int, str]:
    return ("start", drug, dose, step, UNCONTROLLED)


def add(drug: str, dose: float, step: int) -> tuple[str, str, float, int, str]:
    return ("add", drug, dose, step, UNCONTROLLED)


def increase(drug: str, dose: float, step: int) -> tuple[str, str, float, int, str]:
    return ("increase", drug, dose, step, UNCONTROLLED)


CONTINUE = ("continue", None, None, None, CONTROLLED)
REFER = ("refer", None, None, None, UNCONTROLLED)
URGENT = ("refer-urgent", None, None, None, SAME_DAY)
REVIEW = ("none", None, None, None, None)
NOTHING = ("hidden", None, None, None, None)  # "none", and the protocol does not apply: no panel

HIGH = ((150, 95),)
A5, A10, A20 = ("amlodipine", 5, "mg"), ("amlodipine", 10, "mg"), ("amlodipine", 20, "mg")
L50, L100 = ("losartan", 50, "mg"), ("losartan", 100, "mg")
E10, E20 = ("enalapril", 10, "mg"), ("enalapril", 20, "mg")
H25 = ("hydrochlorothiazide", 25, "mg")

CASES = [
    # -- every step, one after the other ---------------------------------------------------
    Case("untreated, above target: step 1", HIGH, start("amlodipine", 5, 1)),
    Case("amlodipine 5: step 2", HIGH, increase("amlodipine", 10, 2), drugs=(A5,)),
    Case("amlodipine 10: step 3", HIGH, add("losartan", 50, 3), drugs=(A10,)),
    Case(
        "amlodipine 10 + losartan 50: step 4", HIGH, increase("losartan", 100, 4), drugs=(A10, L50)
    ),
    Case(
        "amlodipine 10 + losartan 100: step 5",
        HIGH,
        add("hydrochlorothiazide", 25, 5),
        drugs=(A10, L100),
    ),
    Case("every step taken: refer", HIGH, REFER, drugs=(A10, L100, H25), text=("refer",)),
    Case(
        "chlortalidone counts as step 5",
        HIGH,
        REFER,
        drugs=(A10, L100, ("chlortalidone", 12.5, "mg")),
    ),
    Case(
        "hydrochlorothiazide 12.5: up to step 5's dose",
        HIGH,
        increase("hydrochlorothiazide", 25, 5),
        drugs=(A10, L100, ("hydrochlorothiazide", 12.5, "mg")),
    ),
    # -- the control boundary (target below 140/90) ---------------------------------------
    Case("139/89 untreated is at target", ((139, 89),), CONTINUE),
    Case("140/89: systolic alone is above target", ((140, 89),), start("amlodipine", 5, 1)),
    Case("139/90: diastolic alone is above target", ((139, 90),), start("amlodipine", 5, 1)),
    Case("140/90 is above target", ((140, 90),), start("amlodipine", 5, 1)),
    Case(
        "amlodipine 5 at 139/89: continue",
        ((139, 89),),
        CONTINUE,
        drugs=(A5,),
        text=("amlodipine",),
    ),
    Case("two drugs at 138/70: continue", ((138, 70),), CONTINUE, drugs=(A10, L50)),
    Case(
        "amlodipine 5, systolic-only 160/85",
        ((160, 85),),
        increase("amlodipine", 10, 2),
        drugs=(A5,),
    ),
    Case(
        "amlodipine 5, diastolic-only 130/95",
        ((130, 95),),
        increase("amlodipine", 10, 2),
        drugs=(A5,),
    ),
    Case("every step taken and controlled", ((139, 89),), CONTINUE, drugs=(A10, L100, H25)),
    # -- very high blood pressure ----------------------------------------------------------
    Case("180/100 untreated: urgent", ((180, 100),), URGENT, text=("today",)),
    Case("170/110: diastolic urgent", ((170, 110),), URGENT),
    Case("179/109 is not urgent", ((179, 109),), start("amlodipine", 5, 1)),
    Case("urgent on every step", ((200, 120),), URGENT, drugs=(A10, L100, H25)),
    Case("amlodipine 5 and 185/95: urgent first", ((185, 95),), URGENT, drugs=(A5,)),
    Case(
        "ACE inhibitor and ARB at 190/115: urgent before the review",
        ((190, 115),),
        URGENT,
        drugs=(A10, E10, L50),
    ),
    # -- allergies move to the alternative or past the component ---------------------------
    Case(
        "amlodipine allergy: start losartan",
        HIGH,
        start("losartan", 50, 3),
        allergies=("amlodipine",),
        text=("allergy",),
    ),
    Case(
        "losartan allergy: enalapril instead",
        HIGH,
        add("enalapril", 10, 3),
        drugs=(A10,),
        allergies=("losartan",),
    ),
    Case(
        "ACE-inhibitor allergy: losartan as usual",
        HIGH,
        add("losartan", 50, 3),
        drugs=(A10,),
        allergies=("ACE inhibitors",),
    ),
    Case(
        "ARB and ACE allergies: on to the diuretic",
        HIGH,
        add("hydrochlorothiazide", 25, 5),
        drugs=(A10,),
        allergies=("losartan", "ACE inhibitors"),
    ),
    Case(
        "hydrochlorothiazide allergy: chlortalidone",
        HIGH,
        add("chlortalidone", 12.5, 5),
        drugs=(A10, L100),
        allergies=("hydrochlorothiazide",),
    ),
    Case(
        "thiazide class allergy: nothing left, refer",
        HIGH,
        REFER,
        drugs=(A10, L100),
        allergies=("Thiazide diuretic",),
    ),
    Case(
        "CCB, ARB and ACE allergies: start the diuretic",
        HIGH,
        start("hydrochlorothiazide", 25, 5),
        allergies=("amlodipine", "losartan", "ACE inhibitors"),
    ),
    Case(
        "amlodipine allergy, on the rest: refer",
        HIGH,
        REFER,
        drugs=(L100, H25),
        allergies=("amlodipine",),
    ),
    Case("a food allergy changes nothing", HIGH, start("amlodipine", 5, 1), allergies=("Peanut",)),
    Case(
        "an inactive amlodipine allergy is not read",
        HIGH,
        start("amlodipine", 5, 1),
        allergies=("amlodipine",),
        inactive_allergy=True,
    ),
    Case(
        "a penicillin allergy changes nothing",
        HIGH,
        start("amlodipine", 5, 1),
        allergies=("Penicillins",),
    ),
    # -- ACE inhibitor or ARB, never both ---------------------------------------------------
    Case(
        "enalapril 10 stands for step 3: step 4",
        HIGH,
        increase("enalapril", 20, 4),
        drugs=(A10, E10),
    ),
    Case("enalapril 20: step 5", HIGH, add("hydrochlorothiazide", 25, 5), drugs=(A10, E20)),
    Case(
        "ACE inhibitor and ARB together: review",
        HIGH,
        REVIEW,
        drugs=(A10, E10, L50),
        text=("never combines",),
    ),
    Case(
        "enalapril 5 is below step 3's dose",
        HIGH,
        increase("enalapril", 10, 3),
        drugs=(A10, ("enalapril", 5, "mg")),
    ),
    Case("enalapril alone: add amlodipine", HIGH, add("amlodipine", 5, 1), drugs=(E10,)),
    Case("losartan alone: add amlodipine", HIGH, add("amlodipine", 5, 1), drugs=(L50,)),
    Case("on enalapril with every step: refer", HIGH, REFER, drugs=(A10, E20, H25)),
    # -- not a hypertensive patient, or no reading -----------------------------------------
    Case("no diagnosis", HIGH, NOTHING, diagnosis=None),
    Case("hypertension resolved", HIGH, NOTHING, resolved=True),
    Case("diabetes only", HIGH, NOTHING, diagnosis="E11.9"),
    Case(
        "hypertensive heart disease (I11.9) counts",
        HIGH,
        start("amlodipine", 5, 1),
        diagnosis="I11.9",
    ),
    Case("hypertension but no blood pressure", (), NOTHING),
    Case(
        "hypertension typed without a code is not read",
        HIGH,
        NOTHING,
        diagnosis="text:Hypertension",
    ),
    # -- entered-in-error readings are ignored, the newest reading counts ------------------
    Case(
        "newest reading in error: the one before counts",
        ((150, 95), (130, 80)),
        start("amlodipine", 5, 1),
        error=(1,),
    ),
    Case("a high reading in error: controlled", ((130, 80), (160, 100)), CONTINUE, error=(1,)),
    Case("the only reading in error", HIGH, NOTHING, error=(0,)),
    Case("the newest reading decides", ((170, 100), (135, 85)), CONTINUE),
    Case("an old high reading does not", ((135, 85), (150, 95), (132, 84)), CONTINUE),
    # -- stopped prescriptions are ignored --------------------------------------------------
    Case("amlodipine stopped: start again", HIGH, start("amlodipine", 5, 1), stopped=(A10,)),
    Case(
        "losartan stopped: add it again", HIGH, add("losartan", 50, 3), drugs=(A10,), stopped=(L50,)
    ),
    # -- doses that are not the protocol's --------------------------------------------------
    Case(
        "amlodipine 2.5: up to 5",
        HIGH,
        increase("amlodipine", 5, 1),
        drugs=(("amlodipine", 2.5, "mg"),),
        text=("not a protocol dose",),
    ),
    Case(
        "amlodipine 7.5: up to 10",
        HIGH,
        increase("amlodipine", 10, 2),
        drugs=(("amlodipine", 7.5, "mg"),),
    ),
    Case(
        "amlodipine 20: above the top dose, step 3",
        HIGH,
        add("losartan", 50, 3),
        drugs=(A20,),
        text=("above the protocol's highest dose",),
    ),
    Case(
        "losartan 25: up to 50",
        HIGH,
        increase("losartan", 50, 3),
        drugs=(A10, ("losartan", 25, "mg")),
    ),
    Case(
        "losartan 75: up to 100",
        HIGH,
        increase("losartan", 100, 4),
        drugs=(A10, ("losartan", 75, "mg")),
    ),
    Case(
        "amlodipine in tablets: decide by hand",
        HIGH,
        REVIEW,
        drugs=(("amlodipine", 1, "tablet"),),
        text=("by hand",),
    ),
    # -- pregnancy and child-bearing age ----------------------------------------------------
    Case(
        "woman of 30 untreated: amlodipine is fine",
        HIGH,
        start("amlodipine", 5, 1),
        patient=WOMAN_30,
    ),
    Case(
        "woman of 30 without contraception: no ARB, refer",
        HIGH,
        REFER,
        drugs=(A10,),
        patient=WOMAN_30,
        text=("child-bearing",),
    ),
    Case(
        "woman of 30 on the pill: losartan",
        HIGH,
        add("losartan", 50, 3),
        drugs=(A10, ("ethinylestradiol + levonorgestrel", 1, "tablet")),
        patient=WOMAN_30,
    ),
    Case("woman of 55: losartan", HIGH, add("losartan", 50, 3), drugs=(A10,), patient=WOMAN_55),
    Case(
        "pregnant woman on amlodipine 10: refer",
        HIGH,
        REFER,
        drugs=(A10,),
        patient=WOMAN_30,
        extra_diagnoses=("Z34.90",),
        text=("pregnant",),
    ),
    Case(
        "pregnant and on the pill still: no ARB",
        HIGH,
        REFER,
        drugs=(A10, ("levonorgestrel", 30, "microgram")),
        patient=WOMAN_30,
        extra_diagnoses=("O09.90",),
    ),
    Case(
        "woman of 30 on losartan: review it, refer",
        HIGH,
        REFER,
        drugs=(A10, L50),
        patient=WOMAN_30,
        text=("losartan",),
    ),
    Case(
        "man of 30: losartan",
        HIGH,
        add("losartan", 50, 3),
        drugs=(A10,),
        patient=("male", "1996-06-15"),
    ),
]


def _chart(case: Case) -> PatientChart:
    sex, born = case.patient
    commands: list[c.Command] = []
    if case.diagnosis is not None:
        if case.diagnosis.startswith("text:"):
            commands.append(
                c.RecordDiagnosis(patient_id=PID, diagnosis_id="dx-htn", text=case.diagnosis[5:])
            )
        else:
            commands.append(
                c.RecordDiagnosis(patient_id=PID, diagnosis_id="dx-htn", code=case.diagnosis)
            )
        if case.resolved:
            commands.append(c.ResolveDiagnosis(patient_id=PID, diagnosis_id="dx-htn"))
    for n, code in enumerate(case.extra_diagnoses):
        commands.append(c.RecordDiagnosis(patient_id=PID, diagnosis_id=f"dx-{n}", code=code))
    for n, substance in enumerate(case.allergies):
        commands.append(c.RecordAllergy(patient_id=PID, allergy_id=f"al-{n}", substance=substance))
        if case.inactive_allergy:
            commands.append(
                c.UpdateAllergyStatus(patient_id=PID, allergy_id=f"al-{n}", status="inactive")
            )
    for n, (drug, dose, unit) in enumerate(case.stopped):
        commands.append(_prescribe(f"rx-stopped-{n}", drug, dose, unit))
        commands.append(
            c.DiscontinueMedication(
                patient_id=PID, prescription_id=f"rx-stopped-{n}", reason="side effect"
            )
        )
    for n, (drug, dose, unit) in enumerate(case.drugs):
        commands.append(_prescribe(f"rx-{n}", drug, dose, unit))
    if not case.bp and case.diagnosis:
        commands.append(c.RecordVitals(patient_id=PID, vitals_id="vit-hr", heart_rate=72))
    for n, (systolic, diastolic) in enumerate(case.bp):
        commands.append(
            c.RecordVitals(
                patient_id=PID,
                vitals_id=f"vit-{n}",
                taken_at=f"2026-11-{10 + n:02d}T08:00:00+00:00",
                systolic=systolic,
                diastolic=diastolic,
            )
        )
    commands += [
        c.MarkEnteredInError(patient_id=PID, item_id=f"vit-{n}", reason="wrong patient")
        for n in case.error
    ]
    ctx = context(catalog=CATALOG)
    chart = PatientChart(PID)
    from app.domain.chart import evolve
    from app.domain.decide import decide

    for command in (registration(patient_id=PID, sex=sex, birth_date=born), *commands):
        for event in decide(chart if chart.registered else None, command, ctx).events:
            evolve(chart, event)
    return chart


def _prescribe(rx_id: str, drug: str, dose: float, unit: str) -> c.PrescribeMedication:
    return c.PrescribeMedication(
        patient_id=PID,
        prescription_id=rx_id,
        drug=drug,
        dose=dose,
        dose_unit=unit,
        route="oral",
        frequency="QD",
        override_reason="tolerated before",
    )


def test_there_are_at_least_fifty_scenarios_with_distinct_names() -> None:
    assert len(CASES) >= 50
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_reference_scenario(case: Case) -> None:
    found = suggest(_chart(case), PROTOCOL, CATALOG, TODAY)
    kind, drug, dose, step, follow_up = case.expect
    shown = kind != "hidden"
    kind = kind if shown else "none"
    assert (found.kind, found.drug, found.dose, found.step, found.follow_up) == (
        kind,
        drug,
        dose,
        step,
        follow_up,
    ), str(found.explanation)
    assert found.applies is shown
    for words in case.text:
        assert words in str(found.explanation) + " " + str(found.summary)
    if found.drug is not None:
        _prescribable(found)
    if step is not None:
        assert f"step {step}" in str(found.explanation)
    if found.applies:
        assert found.vitals_id is not None and "2026.1" in str(found.explanation)


def _prescribable(found: Suggestion) -> None:
    """What accepting pre-fills is a valid prescription of a listed medicine."""
    assert found.medicine_id in CATALOG.medicines
    assert (found.dose_unit, found.route, found.frequency) == ("mg", "oral", "QD")


def test_an_increase_names_the_prescription_it_changes() -> None:
    case = next(c for c in CASES if c.name == "amlodipine 5: step 2")
    found = suggest(_chart(case), PROTOCOL, CATALOG, TODAY)
    assert (found.prescription_id, found.current_dose) == ("rx-0", 5.0)
    assert str(found.summary) == "Increase amlodipine from 5 to 10 mg once daily"


def test_a_declined_suggestion_says_so_for_its_reading_only() -> None:
    case = next(c for c in CASES if c.name == "amlodipine 10: step 3")
    chart = _chart(case)
    ctx = context(catalog=CATALOG)
    from app.domain.chart import evolve
    from app.domain.decide import decide

    decline = c.DeclineProtocolSuggestion(
        patient_id=PID, vitals_id="vit-0", suggestion="Add losartan 50 mg once daily", reason="cost"
    )
    for event in decide(chart, decline, ctx).events:
        evolve(chart, event)
    found = suggest(chart, PROTOCOL, CATALOG, TODAY)
    assert (found.kind, found.drug, found.declined_reason) == ("add", "losartan", "cost")
    newer = c.RecordVitals(patient_id=PID, vitals_id="vit-new", systolic=152, diastolic=96)
    for event in decide(chart, newer, ctx).events:
        evolve(chart, event)
    again = suggest(chart, PROTOCOL, CATALOG, TODAY)
    assert (again.kind, again.vitals_id, again.declined_reason) == ("add", "vit-new", None)


def test_chart_after_is_the_builder_other_domain_tests_use() -> None:
    # The scenarios build charts the same way (decide, then evolve): a registered chart.
    assert chart_after().registered
