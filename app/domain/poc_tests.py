"""Point-of-care tests: what a bundled rapid or bedside test is, how its result is read, and
when a result is abnormal. Pure values and rules; resources/codes/poc_tests.json is loaded by
the store (app/store/reference_data.py) into `Catalog.poc_tests`.

Three result types:
- qualitative: one of a few words (negative / positive / invalid);
- numeric: a number in a UCUM unit, with a plausible range (what a device can report; outside
  it the value is refused) and a reference range (outside it the value is flagged H or L);
- ordinal: a dipstick scale (negative, trace, 1+ ...), some grades of which are abnormal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.domain.wording import N_

RESULT_TYPES = ("qualitative", "numeric", "ordinal")
BLOOD_SPECIMENS = ("capillary blood", "venous blood")
URINE_SPECIMENS = ("urine",)

# The LOINC code (and UCUM unit of numeric tests) of every bundled test, by key: the one home
# of which Observations are test results, because the sync mapping cannot read files. The
# store refuses a poc_tests.json whose tests disagree with this table (as it does for vitals).
POC_TEST_CODES: Mapping[str, tuple[str, str | None]] = {
    "malaria_rdt_pf": ("76772-3", None),
    "malaria_rdt_pan": ("70569-9", None),
    "hiv_rapid": ("80387-4", None),
    "syphilis_rapid": ("24110-9", None),
    "urine_hcg": ("2106-3", None),
    "haemoglobin": ("718-7", "g/dL"),
    "glucose_capillary": ("14743-9", "mmol/L"),
    "urine_protein": ("20454-5", None),
    "urine_glucose": ("25428-4", None),
    "urine_leukocytes": ("5799-2", None),
    "urine_nitrite": ("5802-4", None),
    "urine_blood": ("5794-3", None),
    "urine_ketones": ("2514-8", None),
}
# The dipstick tests, whose words are grades of a scale (ordinal) rather than a yes/no.
ORDINAL_TESTS = frozenset(
    {"urine_protein", "urine_glucose", "urine_leukocytes", "urine_blood", "urine_ketones"}
)
# RecordUrineDipstick's fields -> the bundled test each pad of the strip is.
DIPSTICK_PADS = (
    ("protein", "urine_protein"),
    ("glucose", "urine_glucose"),
    ("leukocytes", "urine_leukocytes"),
    ("nitrite", "urine_nitrite"),
    ("blood", "urine_blood"),
    ("ketones", "urine_ketones"),
)
TEST_OF_LOINC: Mapping[str, str] = {loinc: key for key, (loinc, _) in POC_TEST_CODES.items()}
# Another LOINC code a district lab may use for the same bundled test (read, never written):
# 68961-2 is HIV-1 Ab by rapid immunoassay, the code WHO's antenatal-care guideline uses.
TEST_OF_LOINC = {**TEST_OF_LOINC, "68961-2": "hiv_rapid"}

# Result words -> SNOMED CT qualifier values (http://snomed.info/sct). "invalid" (the control
# line did not show) has no SNOMED code FieldChart can rely on: it travels as FieldChart's own
# code with the text "Invalid".
SNOMED = "http://snomed.info/sct"
ANSWERS: Mapping[str, tuple[str, str]] = {
    "negative": ("260385009", "Negative"),
    "positive": ("10828004", "Positive"),
    "trace": ("260405006", "Trace"),
    "1+": ("260347006", "Present + out of ++++"),
    "2+": ("260348001", "Present ++ out of ++++"),
    "3+": ("260349009", "Present +++ out of ++++"),
    "4+": ("260350009", "Present ++++ out of ++++"),
}
ANSWER_OF_SNOMED: Mapping[str, str] = {code: word for word, (code, _) in ANSWERS.items()}
RESULT_LABELS: Mapping[str, str] = {
    "negative": N_("Negative"),
    "positive": N_("Positive"),
    "invalid": N_("Invalid (repeat the test)"),
    "trace": N_("Trace"),
}

# HL7 v3 ObservationInterpretation codes FieldChart writes, and those it counts as abnormal
# when another system wrote them.
INTERPRETATIONS: Mapping[str, str] = {
    "H": "High",
    "L": "Low",
    "N": "Normal",
    "A": "Abnormal",
    "POS": "Positive",
    "NEG": "Negative",
    "IND": "Indeterminate",
}
ABNORMAL_INTERPRETATIONS = frozenset({"H", "HH", "HU", "L", "LL", "LU", "A", "AA", "POS", "DET"})
# Tests whose positive result is not abnormal (a positive pregnancy test is not a finding to
# flag); poc_tests.json lists no abnormal values for them (checked when it is loaded).
POSITIVE_IS_NORMAL = frozenset({"urine_hcg"})


def abnormal_interpretation(code: str | None, test_key: str) -> bool:
    """Whether another system's interpretation code of a bundled test's result is abnormal."""
    if code in ("POS", "DET") and test_key in POSITIVE_IS_NORMAL:
        return False
    return code in ABNORMAL_INTERPRETATIONS


@dataclass(frozen=True)
class PocTest:
    """One bundled test."""

    key: str
    name: str  # what the chart shows
    loinc: str
    display: str  # the LOINC long common name (FHIR)
    result_type: str  # one of RESULT_TYPES
    specimen: str  # the usual specimen
    scale: tuple[str, ...] = ()  # qualitative and ordinal: the values, in order
    abnormal: frozenset[str] = frozenset()  # qualitative and ordinal: abnormal values
    ucum: str = ""  # numeric: the unit (UCUM code)
    unit_label: str = ""  # numeric: the unit as people read it
    minimum: float = 0.0  # numeric: plausible range (refused outside)
    maximum: float = 0.0
    low: float | None = None  # numeric: reference range (flagged outside)
    high: float | None = None
    low_by_sex: Mapping[str, float] = field(default_factory=dict)

    @property
    def specimens(self) -> tuple[str, ...]:
        """The specimens this test may be done on."""
        return URINE_SPECIMENS if self.specimen in URINE_SPECIMENS else BLOOD_SPECIMENS

    def low_for(self, sex: str | None) -> float | None:
        """The lower reference limit for a patient of this sex."""
        return self.low_by_sex.get(sex or "", self.low)


@dataclass(frozen=True)
class Interpretation:
    code: str | None  # an INTERPRETATIONS code
    abnormal: bool


def interpret(
    test: PocTest, value: float | None, result: str | None, sex: str | None
) -> Interpretation:
    """The interpretation of a checked result of `test` for a patient of `sex`."""
    if test.result_type == "numeric":
        assert value is not None
        low, high = test.low_for(sex), test.high
        if low is not None and value < low:
            return Interpretation("L", True)
        if high is not None and value > high:
            return Interpretation("H", True)
        return Interpretation("N", False)
    if result == "invalid":
        return Interpretation("IND", False)
    abnormal = result in test.abnormal
    if test.result_type == "qualitative":
        return Interpretation("POS" if result == "positive" else "NEG", abnormal)
    return Interpretation("A" if abnormal else "N", abnormal)


def result_text(data: Mapping[str, object]) -> str:
    """A test result's value as people read it ("12.5 g/dL", "Positive", "2+")."""
    value = data.get("value")
    if isinstance(value, int | float):
        unit = data.get("unit_label") or data.get("unit") or ""
        return f"{value:g} {unit}".strip()
    word = str(data.get("result") or "")
    return RESULT_LABELS.get(word, word) or "?"
