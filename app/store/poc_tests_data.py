"""Reads resources/codes/poc_tests.json into the domain's PocTest values, refusing a file that
disagrees with the domain's table of test codes (app.domain.poc_tests.POC_TEST_CODES) or whose
entries are not usable: the file is bundled and checked by tests, so a problem here is a
programming error, raised at load."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.poc_tests import (
    ORDINAL_TESTS,
    POC_TEST_CODES,
    POSITIVE_IS_NORMAL,
    RESULT_TYPES,
    PocTest,
)
from app.i18n import _


def poc_tests(data: Mapping[str, Any]) -> dict[str, PocTest]:
    """The tests of poc_tests.json by key (raises ValueError when the file is wrong)."""
    entries = data.get("tests")
    if not isinstance(entries, list):
        raise ValueError(_("poc_tests.json: 'tests' is not a list"))
    tests = {}
    for entry in entries:
        test = _test(entry)
        if test.key in tests:
            raise ValueError(_("poc_tests.json: {key} is listed twice").format(key=test.key))
        tests[test.key] = test
    if set(tests) != set(POC_TEST_CODES):
        raise ValueError(
            _("poc_tests.json: keys {tests} are not {POC_TEST_CODES}").format(
                tests=sorted(tests), POC_TEST_CODES=sorted(POC_TEST_CODES)
            )
        )
    return tests


def _test(e: Mapping[str, Any]) -> PocTest:
    key = str(e.get("key"))
    result_type = e.get("type")
    if result_type not in RESULT_TYPES:
        raise ValueError(_("poc_tests.json: {key} has no known type").format(key=key))
    loinc, ucum = POC_TEST_CODES.get(key, ("", None))
    if (key in ORDINAL_TESTS) != (result_type == "ordinal"):
        raise ValueError(
            _("poc_tests.json: {key}'s type disagrees with the domain").format(key=key)
        )
    if e.get("loinc") != loinc or (e.get("ucum") or None) != ucum:
        raise ValueError(
            _("poc_tests.json: {key}'s LOINC code or unit disagrees with the domain").format(
                key=key
            )
        )
    common = {
        "key": key,
        "name": str(e["name"]),
        "loinc": loinc,
        "display": str(e["display"]),
        "result_type": result_type,
        "specimen": str(e["specimen"]),
    }
    if result_type == "numeric":
        test = PocTest(
            **common,
            ucum=str(ucum),
            unit_label=str(e["unit_label"]),
            minimum=float(e["min"]),
            maximum=float(e["max"]),
            low=_float(e.get("low")),
            high=_float(e.get("high")),
            low_by_sex={str(k): float(v) for k, v in (e.get("low_by_sex") or {}).items()},
        )
        if not test.minimum < test.maximum:
            raise ValueError(_("poc_tests.json: {key}'s plausible range is empty").format(key=key))
        return test
    scale = tuple(str(w) for w in e.get("scale") or ())
    abnormal = frozenset(str(w) for w in e.get("abnormal") or ())
    if not scale or not abnormal <= set(scale):
        raise ValueError(
            _("poc_tests.json: {key}'s abnormal values are not on its scale").format(key=key)
        )
    if (key in POSITIVE_IS_NORMAL) != (result_type == "qualitative" and not abnormal):
        raise ValueError(
            _("poc_tests.json: {key}'s abnormal values disagree with the domain").format(key=key)
        )
    return PocTest(**common, scale=scale, abnormal=abnormal)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
