"""The chart's point-of-care test results as plot series: one series per numeric test."""

from __future__ import annotations

from app.domain.poc_tests import POC_TEST_CODES
from app.services.dto import ItemView


def results_series(results: list[ItemView]) -> dict[str, list[tuple[str, float]]]:
    """Test key -> [(taken at, value)], oldest first, for numeric results in the test's own
    unit (a district lab's haemoglobin in g/L is listed, not plotted against g/dL)."""
    series: dict[str, list[tuple[str, float]]] = {}
    for item in results:
        d = item.data
        key, value = d.get("test"), d.get("value")
        unit = POC_TEST_CODES.get(str(key), ("", None))[1]
        if unit is None or not isinstance(value, int | float) or d.get("unit") != unit:
            continue
        series.setdefault(str(key), []).append((item.clinical_time, float(value)))
    for points in series.values():
        points.sort()
    return series
