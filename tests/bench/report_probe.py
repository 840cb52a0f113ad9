"""The monthly indicators on a generated clinic (issue 17: <= 5 s per facility-month at 20,000
patients): the last full month before the clinic's end, cold then warm, and the twelve months
the Reports page plots (one read for all of them)."""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from typing import Any

from app.domain.roles import Actor
from app.services.clinic import Clinic
from app.services.indicators.compute import Month
from app.services.indicators.service import ReportService


def last_full_month(end: datetime) -> Month:
    return Month(end.year, end.month).minus(1)


def measure(clinic: Clinic, actor: Actor, end: datetime, runs: int = 3) -> dict[str, Any]:
    service = ReportService(clinic.vault, clinic.catalog)
    month = last_full_month(end)
    times = []
    first_text = None
    for _ in range(runs):
        started = time.perf_counter()
        text = service.export(actor, month, "csv").text
        times.append(time.perf_counter() - started)
        first_text = first_text or text
        assert text == first_text, "a re-run of the same month gave a different file"
    started = time.perf_counter()
    series = service.series(actor, month)
    series_s = time.perf_counter() - started
    visits = series[-1].value("visits").numerator
    return {
        "month": str(month),
        "month_s": {
            "first": round(times[0], 3),
            "median": round(statistics.median(times), 3),
            "max": round(max(times), 3),
            "runs": runs,
        },
        "twelve_months_s": round(series_s, 3),
        "visits_in_month": visits,
        "identical_reruns": True,
    }
