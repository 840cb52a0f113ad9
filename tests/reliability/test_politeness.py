"""Experiment 6 (small size): two devices behind a rate-limiting server lose nothing and never
come back before the server's time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.peer.harness import PeerServer
from tests.reliability import politeness
from tests.reliability.common import Size

pytestmark = pytest.mark.peer


def test_devices_behind_a_rate_limiter_lose_nothing_and_do_not_hammer(
    size: Size, work: Path, fhir_peer: PeerServer
) -> None:
    results = [
        politeness.run(seed, size.net_commands, fhir_peer, work / "politeness") for seed in (1, 2)
    ]
    summary = politeness.summarise(results)
    print(json.dumps(summary, indent=1))
    assert summary["seeds_ok"] == summary["seeds_quiet"] == 2, summary["problems"]
    assert (
        summary["requests_too_early"],
        summary["pending_at_end"],
        summary["needs_attention"],
        summary["charts_differing"],
        summary["missing_on_server"],
        summary["cycles_failed"],
    ) == (0, 0, 0, 0, 0, 0), summary["problems"]
    # The limiter really limited, in every form, and both kinds of wait happened.
    answered = summary["answered"]
    assert all(answered.get(f"429 {form}", 0) > 0 for form in ("seconds", "http-date", "ratelimit"))
    assert answered.get("409", 0) > 0
    assert summary["waits_in_client"] > 0 and summary["cycles_told_to_wait"] > 0
    # Not hammered: besides the limited answers, few requests beyond those that got through.
    limited = sum(n for kind, n in answered.items())
    assert summary["requests"] == summary["forwarded"] + limited
