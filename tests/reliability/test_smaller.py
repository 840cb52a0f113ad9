"""Experiment 15.12 (small size): a failing request's patient id is not in `status` or
`diagnose`; ids and search terms can come from a file or stdin; the same bad server entries
quarantined every cycle stay one row each, all counted by `status`; ids "." and ".." are
refused everywhere."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import smaller

SMALL_QUARANTINE = 300  # more than the 200 `status` used to count at most


def test_smaller_items(work: Path) -> None:
    f = smaller.run(work / "smaller", SMALL_QUARANTINE, cycles=3)
    print(f)
    r, p, q, d = f["redaction"], f["private_arguments"], f["quarantine"], f["dot_ids"]
    assert r["enrolled"] and r["sync_failed"] and r["server_named_the_id"], r
    assert (r["id_in_status"], r["id_in_diagnose"]) == (0, 0), r
    assert r["last_error"] and "Patient/<id>" in r["last_error"], r
    assert p["chart_same_by_stdin"] and p["search_by_file_found"] and p["audit_by_stdin_ok"], p
    assert p["both_refused_exit"] == p["empty_refused_exit"] == 2, p
    assert q["rows"] == SMALL_QUARANTINE, q
    assert q["times_seen_min"] == q["times_seen_max"] == 3, q
    assert q["growth_bytes_per_cycle"][-1] < 64 * 1024, q  # a counted row changes in place
    assert q["status_count"] == SMALL_QUARANTINE, q
    assert d == {"accepted": [], "legal_ids_refused": []}, d
    assert all(row.ok is not False for row in smaller.rows(f))
