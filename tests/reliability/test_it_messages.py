"""Experiment 15.10 (small size = the only size): a busy vault, a full disk and an empty token
file each get their own plain message and documented exit code, never "not a FieldChart vault"
and never a traceback; a full disk during `exec` refuses each line it cannot store and
acknowledges nothing it did not store."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import it_messages


def test_it_gets_a_plain_message_and_the_documented_exit_code(work: Path) -> None:
    f = it_messages.run(work / "it-messages")
    print({k: v for k, v in f.items() if k != "details"})
    bad = [
        d for d in f["details"] if not (d["exit_code"] == d["expected_exit"] and d["message_ok"])
    ]
    assert not bad, bad
    assert f["wrong_exit_code"] == f["wrong_message"] == f["tracebacks"] == 0
    assert f["said_not_a_vault"] == 0
    assert f["cases"] >= 6
    if f["full_disk_simulated"]:  # a tmpfs needs root
        assert f["exec_refused_disk_full"] >= 1
        assert f["acknowledged_not_stored"] == f["refused_but_stored"] == 0
        assert f["verify_exit_after"] == 0
        assert f["wrong_passphrase_full_disk_s"] >= f["counter_delay_s"]
    assert all(row.ok is not False for row in it_messages.rows(f))
