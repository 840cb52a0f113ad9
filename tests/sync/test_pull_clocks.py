"""The pull reads the server's clock, never the device's (docs/clocks.md): the client keeps the
``Date`` of every answer, and the pull's bound on stamps comes from it. The whole behaviour with
wrong device clocks is experiment 15.8 (tests/reliability/clocks.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from sync.fhir.client import FhirClient
from sync.pull_http import http_date

SEARCHSET = {"resourceType": "Bundle", "type": "searchset", "entry": []}


def test_the_client_keeps_the_date_of_the_latest_answer_that_had_one() -> None:
    dates = iter(["Wed, 02 Dec 2026 10:00:00 GMT", None])

    def handler(request: httpx.Request) -> httpx.Response:
        date = next(dates)
        headers = {"Date": date} if date else {}
        return httpx.Response(200, json=SEARCHSET, headers=headers)

    with FhirClient("https://fhir.test", transport=httpx.MockTransport(handler)) as client:
        assert client.server_date is None
        client.search_page("Patient")
        assert client.server_date == "Wed, 02 Dec 2026 10:00:00 GMT"
        client.search_page("Patient")  # no Date: the last one stands
        assert http_date(client.server_date) == datetime(2026, 12, 2, 10, tzinfo=UTC)


def test_unreadable_dates_are_no_time_at_all() -> None:
    assert http_date(None) is None
    assert http_date("") is None
    assert http_date("yesterday") is None
    assert http_date("Wed, 02 Dec 2026 10:00:00") is None  # no zone: not an instant


def test_daily_decisions_from_the_future_are_made_again() -> None:
    """A clock 10 years ahead, then fixed, must not hold the daily scope decision for 10 years."""
    from sync.scope_cache import _stale

    now = datetime(2026, 12, 2, 10, tzinfo=UTC)
    assert _stale({"decided_at": "2036-12-01T10:00:00+00:00"}, now)
    assert not _stale({"decided_at": "2026-12-02T09:00:00+00:00"}, now)
    assert _stale({"decided_at": "2026-12-01T09:00:00+00:00"}, now)
