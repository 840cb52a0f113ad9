"""The first sync of a new device is paged and resumable (issue 14): the link drops after some
pages, the patients already stored are usable at once, and the next sync goes on from the last
stored page — re-downloading at most the page that was in flight."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.services.sync_status import SyncProgress
from sync import pull
from sync.fhir.errors import OfflineError
from sync.scope import SyncScope
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device
from tests.sync.pull_fixtures import Facility, add_facility, new_device, tag

PAGE = 10
PATIENTS = 25


class PageCounter:
    """Sees every searchset page the device receives; after `cut_after` of them the link drops
    with that page's answer lost (the server sent it, the device never got it)."""

    def __init__(self, cut_after: int | None = None) -> None:
        self.cut_after = cut_after
        self.pages = 0
        self.keys: list[tuple[str, str, str]] = []

    def __call__(self, request: httpx.Request, response: httpx.Response) -> None:
        try:
            body: Any = json.loads(response.content)
        except ValueError:
            return
        if not (isinstance(body, dict) and body.get("type") == "searchset"):
            return
        self.pages += 1
        for entry in body.get("entry") or []:
            r = entry["resource"]
            self.keys.append((r["resourceType"], r["id"], r["meta"]["versionId"]))
        if self.cut_after is not None and self.pages > self.cut_after:
            raise httpx.ReadError("the link dropped", request=request)


@pytest.fixture
def facility(fhir_server: FhirServer, monkeypatch: pytest.MonkeyPatch) -> Facility:
    """A facility of PATIENTS patients, each with a diagnosis; pages of PAGE resources."""
    monkeypatch.setattr(pull, "PAGE_SIZE", PAGE)
    with fhir_server.client() as client:
        return add_facility(client, PATIENTS, f"R{tag()}")


@pytest.fixture
def device(fhir_server: FhirServer, facility: Facility, tmp_path: Path) -> Iterator[Device]:
    """A new device scoped to the facility."""
    scope = SyncScope(organization=facility.organization)
    with new_device(fhir_server, tmp_path, "r", scope) as made:
        yield made


@pytest.mark.parametrize("cut_after", [2, 5])  # among the patients; among the diagnoses
def test_a_cut_first_sync_resumes_from_the_last_stored_page(
    device: Device, facility: Facility, cut_after: int
) -> None:
    before = PageCounter(cut_after)
    device.transport.after = before
    with pytest.raises(OfflineError):
        device.sync()
    # The patients of the pages stored are usable before the history finishes.
    stored = device.clinic.queries.patient_count()
    assert PAGE <= stored < PATIENTS if cut_after == 2 else stored == PATIENTS

    after = PageCounter()
    device.transport.after = after
    device.sync()
    again = set(after.keys) & set(before.keys)
    # The page in flight, and the last record of a query that had finished (the bounds
    # are inclusive: ties on lastUpdated must not be lost).
    assert len(again) <= PAGE + 1, f"re-downloaded {len(again)} resources"
    assert device.clinic.queries.patient_count() == PATIENTS
    assert {k[1] for k in before.keys + after.keys if k[0] == "Condition"} == set(
        facility.conditions
    )


def test_progress_counts_what_the_server_said_and_estimates_time_left(device: Device) -> None:
    seen: list[SyncProgress] = []
    device.engine.run_cycle(seen.append)
    pulled = [p for p in seen if p.phase == "pull"]
    # One report per stored page; the server said how many were coming.
    assert len(pulled) >= 2 * PATIENTS // PAGE
    assert {p.total for p in pulled} == {2 * PATIENTS}
    assert [p.done for p in pulled] == sorted(p.done for p in pulled)
    assert pulled[-1].done == 2 * PATIENTS
    assert all(p.seconds_left is not None for p in pulled)
    assert pulled[-1].seconds_left == 0
