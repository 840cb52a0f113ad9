"""The bundled point-of-care test list loads into the domain's catalog, and a list that
disagrees with the domain's codes or scales is refused at load (it is a programming error)."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from app.domain.poc_tests import POC_TEST_CODES
from app.store.poc_tests_data import poc_tests
from app.store.signature_check import ALLOWED_ROLES


def bundled() -> dict[str, Any]:
    path = resources.files("resources").joinpath("codes", "poc_tests.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def changed(key: str, **fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(bundled())
    entry = next(e for e in data["tests"] if e["key"] == key)
    entry.update(fields)
    return data


def test_the_bundled_list_is_versioned_and_matches_the_domain() -> None:
    data = bundled()
    assert data["version"] and "LOINC" in data["attribution"]
    tests = poc_tests(data)
    assert {k: (t.loinc, t.ucum or None) for k, t in tests.items()} == dict(POC_TEST_CODES)
    for test in tests.values():
        assert test.abnormal <= set(test.scale)
        if test.result_type == "numeric":
            assert test.minimum < (test.low or 0) < (test.high or 0) < test.maximum


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (changed("haemoglobin", loinc="59260-0"), "disagrees with the domain"),
        (changed("glucose_capillary", ucum="mg/dL"), "disagrees with the domain"),
        (changed("urine_protein", abnormal=["5+"]), "not on its scale"),
        (changed("urine_hcg", abnormal=["positive"]), "disagree with the domain"),
        (changed("haemoglobin", min=30), "plausible range is empty"),
        (changed("hiv_rapid", type="text"), "no known type"),
        (changed("urine_nitrite", type="ordinal"), "type disagrees"),
    ],
)
def test_a_list_that_disagrees_is_refused(data: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        poc_tests(data)


def test_a_missing_or_doubled_test_is_refused() -> None:
    data = copy.deepcopy(bundled())
    data["tests"].pop()
    with pytest.raises(ValueError, match="keys"):
        poc_tests(data)
    data = copy.deepcopy(bundled())
    data["tests"].append(data["tests"][0])
    with pytest.raises(ValueError, match="twice"):
        poc_tests(data)


def test_verify_accepts_a_test_result_only_from_a_clinician() -> None:
    assert ALLOWED_ROLES["TestResultRecorded"] == frozenset({"clinician"})
