"""Experiment 15.4–15.7 (small size): a hostile server can neither exhaust memory, nor hold a
request or a cycle past its deadline, nor suspend sync for ever; plain http to another machine
sends nothing."""

from __future__ import annotations

import json

from tests.reliability import hostile_server


def test_a_hostile_server_is_survived_within_bounds_and_sync_recovers() -> None:
    figures = hostile_server.run(hostile_server.SMALL)
    print(json.dumps(figures, indent=1))
    failed = [row for row in hostile_server.rows(figures) if row.ok is False]
    assert failed == []
    cases = figures["cases"]
    # Each case failed the way it should, and nothing was answered from a hostile body.
    for case in ("endless", "huge", "gzip-bomb"):
        assert cases[case]["memory"]["error"] == "ResponseTooLargeError", case
    for case in ("drip-body", "slow-headers"):
        assert cases[case]["memory"]["error"] == "DeadlineError", case
        assert "time limit" in cases[case]["error"], case
    assert "sync cycle reached its time limit" in cases["slow-pages"]["error"]
    assert cases["slow-pages"]["pages_kept"] >= 2  # what the cycle did before it stopped
    for case in hostile_server.RETRY_CASES:
        assert cases[case]["state"] == "offline", case
        assert 3600 <= cases[case]["next_attempt_in_s"] <= 3630, case
    clear = figures["clear_text"]
    assert clear["bytes_sent_in_clear"] == 0 and clear["control_bytes"] > 0
    assert clear["requests_refused"] == clear["requests"] == 3
