"""A sync cycle that runs out of time stops cleanly, keeps what it did, says it timed out, and
the next cycle finishes the work without sending anything twice (issue 15, item 6). The peer is
real; time is a timer that each request moves on by a second (a slow link)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.domain import commands as c
from app.services.sync_status import OutboxStatus, SyncState
from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from sync.fhir.deadline import Deadlines
from sync.worker import SyncWorker
from tests.peer.harness import PeerServer
from tests.sync.devices import make_device, server_count


class Timer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# The cycle here is four requests: the daily server check, metadata, the push transaction and
# the pull's batch of searches. 2.5 s: the push's answer arrives after the cycle's end and is
# not used (the next cycle sends the same writes again; they land once); 3.5 s: the push is done
# and kept, the pull stops.
@pytest.mark.parametrize(
    ("cycle_s", "requests", "pending_after_first"), [(2.5, 3, 16), (3.5, 4, 0)]
)
def test_a_cycle_out_of_time_keeps_what_it_did_and_the_next_one_finishes(
    fhir_peer: PeerServer, tmp_path: Path, cycle_s: float, requests: int, pending_after_first: int
) -> None:
    device = make_device(tmp_path, "slow", fhir_peer.base_url, up_to_date=True)
    patients = []
    for i in range(8):
        registered = device.run(
            c.RegisterPatient(
                given=f"Asha{i}", family="Mrema", birth_date=f"1990-01-0{i + 1}", sex="female"
            )
        )
        assert registered.patient_id is not None
        patients.append(registered.patient_id)
        device.run(c.RecordVitals(patient_id=registered.patient_id, heart_rate=70 + i))
    timer = Timer()

    def a_second_per_request(request: httpx.Request) -> None:
        timer.now += 1.0

    device.transport.before = a_second_per_request
    client = FhirClient(
        fhir_peer.base_url,
        transport=device.transport,
        timer=timer,
        deadlines=Deadlines(request_s=30.0, cycle_s=cycle_s),
    )
    gateway = device.clinic.sync_gateway
    worker = SyncWorker(
        engine_for(device.clinic, client).run_cycle,
        server_url=fhir_peer.base_url,
        interval_s=300,
        counts=gateway.counts,
        clock=device.clock,
    )
    try:
        worker._tick()
        status = worker.status()
        assert status.state is SyncState.OFFLINE and status.next_attempt_at is not None
        assert f"sync cycle reached its time limit of {cycle_s:g} s" in (status.last_error or "")
        assert device.transport.requests == requests  # the last ran into the cycle's end
        assert gateway.counts().get(OutboxStatus.PENDING, 0) == pending_after_first
        device.transport.before = None  # the link is fast again
        worker._tick(manual=True)
        assert worker.status().state is SyncState.IDLE
        assert gateway.counts().get(OutboxStatus.PENDING, 0) == 0
        assert server_count(device.client, "Patient", patients) == 8
        assert server_count(device.client, "Observation", patients) == 8  # none twice
    finally:
        device.close()  # its client and ours share the transport
        client.close()
