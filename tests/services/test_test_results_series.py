"""The Results tab's plot series: numeric tests only, in the test's own unit, oldest first."""

from __future__ import annotations

from typing import Any

from app.services.dto import ItemView
from app.services.test_results import results_series


def result(item_id: str, taken: str, **data: Any) -> ItemView:
    return ItemView(item_id, "test_result", "final", False, taken, taken, "doc", data)


def test_numeric_results_in_their_own_unit_make_one_series_per_test() -> None:
    items = [
        result("a", "2026-11-20T09:00:00+03:00", test="haemoglobin", value=9.0, unit="g/dL"),
        result("b", "2026-11-01T09:00:00+03:00", test="haemoglobin", value=10.5, unit="g/dL"),
        result("c", "2026-11-10T09:00:00+03:00", test="haemoglobin", value=104, unit="g/L"),
        result(
            "d", "2026-11-10T09:00:00+03:00", test="glucose_capillary", value=6.1, unit="mmol/L"
        ),
        result("e", "2026-11-10T09:00:00+03:00", test="malaria_rdt_pf", result="positive"),
        result("f", "2026-11-10T09:00:00+03:00", test="ferritin", value=30.0, unit="ug/L"),
    ]
    assert results_series(items) == {
        "haemoglobin": [("2026-11-01T09:00:00+03:00", 10.5), ("2026-11-20T09:00:00+03:00", 9.0)],
        "glucose_capillary": [("2026-11-10T09:00:00+03:00", 6.1)],
    }
