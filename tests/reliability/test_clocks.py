"""Experiment 15.8: wrong device clocks break neither the pull nor "as of" nor the timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.realfhir.plugin import FhirServer
from tests.reliability import clocks


def test_wrong_clocks(
    work: Path, fhir_server: FhirServer, caplog: pytest.LogCaptureFixture
) -> None:
    f = clocks.run(fhir_server.base_url, fhir_server.auth(), work / f"clocks-{fhir_server.name}")
    print(f)
    assert f["not_pulled_after_fix_batch"] == 0
    assert f["not_pulled_after_fix_no-batch"] == 0
    assert f["not_pulled_after_fix_frozen"] == 0
    assert f["slow_first_sync_patients_missing"] == 0
    assert (f["slow_idle_full_downloads"], f["slow_idle_resources"]) == (0, 0)
    assert f["as_of_lookups"] > 0 and f["as_of_failing"] == 0
    assert f["timeline_violations"] == 0
    assert f["clock_steps_found"] >= 2
    assert "the device clock stepped back" in caplog.text
    assert all(row.ok is not False for row in clocks.rows(f))
