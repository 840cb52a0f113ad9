"""Experiment 15.9 at the small size: a staff user forges roles and authorship with the data
key; verify finds every forgery, the app accepts none, honest vaults verify."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import forged_roles


def test_every_forgery_is_found_and_none_is_accepted(work: Path) -> None:
    f = forged_roles.run(work, forged_roles.SMALL)
    print(f)
    assert f["forgeries_tried"] == 8
    assert f["undetected"] == [] and f["forgeries_detected"] == 8
    assert f["forged_vitals_accepted"] == 0
    assert f["false_alarm_vaults"] == [] and f["honest_vaults_verified"] == 3
    assert f["honest_vitals_accepted"] == 1
    assert f["appends_per_s_signed"] > 0 and f["signature_check_us_per_event"] > 0
    assert all(r.ok for r in forged_roles.rows(f) if r.ok is not None)
