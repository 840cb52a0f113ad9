"""Experiment 2 (small size): three devices through the fault-injecting proxy (on the peer), and
the cases it found, on the peer and on a real FHIR server (tests/realfhir)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.domain import commands as c
from sync.fhir.errors import OfflineError
from tests.peer.harness import PeerServer
from tests.realfhir.plugin import FhirServer
from tests.reliability import network
from tests.reliability.common import Size
from tests.sync.devices import (
    STAFF,
    Device,
    clinical_view,
    devices_on,
    is_transaction,
    server_resource,
)


@pytest.mark.peer
def test_devices_converge_through_network_faults(
    size: Size, work: Path, fhir_peer: PeerServer
) -> None:
    results = [
        network.run_seed(seed, size.net_commands, fhir_peer, work / "network")
        for seed in range(1, size.net_seeds + 1)
    ]
    summary = network.summarise(results)
    print(json.dumps(summary, indent=1))
    assert summary["seeds_converged"] == summary["seeds_quiet"] == size.net_seeds, summary[
        "problems"
    ]
    assert (
        summary["commands_lost"],
        summary["duplicates_on_server"],
        summary["attention_without_overlap"],
        summary["cycles_crashed"],
    ) == (0, 0, 0, 0), summary["problems"]
    assert sum(summary["faults_injected"].values()) > 0


@pytest.fixture
def devices(fhir_server: FhirServer, tmp_path: Path) -> Iterator[tuple[Device, Device]]:
    """Two clinic devices, a and b, on the same server; both closed after the test."""
    with devices_on(fhir_server, tmp_path, "a", "b") as made:
        yield made["a"], made["b"]


def register_on_both(a: Device, b: Device) -> str:
    """Amani Mushi registered on a, and both devices synced."""
    pid = a.run(
        c.RegisterPatient(given="Amani", family="Mushi", birth_date="1984-03-02", sex="female"),
        STAFF,
    ).patient_id
    a.sync()
    b.sync()
    return pid


def change(device: Device, pid: str, name: str, new: str, expected: str | None) -> None:
    """The device's staff changes one demographic field."""
    device.run(
        c.UpdateDemographics(
            patient_id=pid, changes={name: c.FieldChange(new=new, expected=expected)}
        ),
        STAFF,
    )


def rename_twice(device: Device, pid: str) -> None:
    """Two pending edits of the given name: Amani -> Baraka -> Chausiku."""
    for old, new in (("Amani", "Baraka"), ("Baraka", "Chausiku")):
        change(device, pid, "given", new, old)


def sync_losing_answers(device: Device) -> None:
    """One cycle whose POSTs reach the server but whose answers are lost: every pending
    command is left "in flight" and the cycle ends offline."""

    def lose_answer(request: httpx.Request, response: httpx.Response) -> None:
        if is_transaction(device.client, request):
            raise httpx.ReadTimeout("answer lost", request=request)

    device.transport.after = lose_answer
    with pytest.raises(OfflineError):
        device.sync()
    device.transport.after = None


def test_an_edit_that_landed_before_its_answer_was_lost_is_no_conflict(
    devices: tuple[Device, Device],
) -> None:
    """Found by the experiment above: the lost answer left the edit pending; meanwhile another
    device changed another field; the retry met a newer version holding our own value, and the
    rebase called it someone else's change (a false needs-attention)."""
    a, b = devices
    pid = register_on_both(a, b)
    change(a, pid, "family", "Kimaro", "Mushi")
    sync_losing_answers(a)
    b.sync()
    change(b, pid, "address", "Plot 5", None)
    b.sync()
    report = a.sync()
    assert (report.needs_attention, report.pending_after) == (0, 0)
    b.sync()
    assert clinical_view(a.chart(pid)) == clinical_view(b.chart(pid))
    patient = a.clinic.queries.patient(pid)
    assert patient is not None and (patient.family, patient.address) == ("Kimaro", "Plot 5")


def test_an_edit_whose_push_carried_a_later_edit_of_the_same_device_is_no_conflict(
    devices: tuple[Device, Device],
) -> None:
    """Found by the experiment: a push writes the chart's current state, so the first of two
    pending edits of one field carries the second's value. Its answer lost, another device
    changed another field: the retry met its own device's later value and called it someone
    else's change."""
    a, b = devices
    pid = register_on_both(a, b)
    rename_twice(a, pid)
    sync_losing_answers(a)
    change(b, pid, "address", "Plot 5", None)
    b.sync()
    report = a.sync()
    b.sync()
    assert (report.needs_attention, report.pending_after) == (0, 0)
    for device in (a, b):
        patient = device.clinic.queries.patient(pid)
        assert patient is not None
        assert (patient.given, patient.address) == ("Chausiku", "Plot 5")


def test_a_devices_edits_of_one_resource_reach_the_server_in_order(
    devices: tuple[Device, Device],
) -> None:
    """Found by the experiment: a command left pending by a rebase must not be overtaken by the
    same device's later edit of the same resource, or it is next judged against that edit."""
    a, b = devices
    pid = register_on_both(a, b)
    a.run(c.RecordVitals(patient_id=pid, heart_rate=70.0))
    rename_twice(a, pid)
    sync_losing_answers(a)

    def address(value: str, expected: str | None) -> None:
        change(b, pid, "address", value, expected)
        b.sync()

    address("Plot 5", None)
    searches: list[str] = []

    def meanwhile(request: httpx.Request) -> httpx.Response | None:
        # Between a's push and its second push, b changes another field once more.
        if request.method == "GET" and "?" in str(request.url) and not searches:
            searches.append(str(request.url))
            address("Plot 6", "Plot 5")
        return None

    a.transport.before = meanwhile
    a.sync()
    a.transport.before = None
    a.sync()
    b.sync()
    assert a.clinic.queries.sync_overview().needs_attention == 0
    for device in (a, b):
        patient = device.clinic.queries.patient(pid)
        assert patient is not None
        assert (patient.given, patient.address) == ("Chausiku", "Plot 6")
    server = server_resource(a.client, "Patient", pid)
    assert server is not None and server.resource["name"][0]["given"] == ["Chausiku"]
