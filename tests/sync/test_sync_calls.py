"""Follow-up calls over sync, against the in-memory peer and the real Medplum server: a call
recorded on device A about a missed appointment lands as a Communication about the server's
Appointment, and device B's worklist shows the attempt and the next call date; B's removal of
the patient from the list takes them off A's list after A's next sync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.domain import commands as c
from tests.clinic_fixtures import DESK
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, devices_on, server_resource
from tests.sync.mapping_builders import validate


@pytest.fixture
def devices(fhir_server: FhirServer, tmp_path: Path) -> Iterator[dict[str, Device]]:
    with devices_on(fhir_server, tmp_path, "a", "b") as made:
        yield made


def rows_of(device: Device, pid: str) -> list[tuple[object, ...]]:
    return [
        (r.appointment_id, r.missed, r.attempts, r.last_outcome, r.next_call_on)
        for r in device.clinic.queries.call_worklist()
        if r.patient_id == pid
    ]


def test_a_call_on_one_device_shows_on_the_others_worklist(devices: dict[str, Device]) -> None:
    a, b = devices["a"], devices["b"]
    now = a.clock()
    pid = a.run(
        c.RegisterPatient(
            given="Upendo", family="Massawe", birth_date="1969-02-11", sex="female",
            phone="+255 713 555 010",
        )
    ).patient_id  # fmt: skip
    appointment = f"ap-{pid[:8]}"
    a.run(
        c.ScheduleFollowUp(
            patient_id=pid,
            appointment_id=appointment,
            clinician="doc",
            start=(now - timedelta(hours=3)).isoformat(),
        )
    )
    a.run(c.MarkNoShow(patient_id=pid, appointment_id=appointment))
    next_call = (now + timedelta(days=2)).date().isoformat()
    call = a.run(
        c.RecordCallAttempt(
            patient_id=pid,
            appointment_id=appointment,
            outcome="no-answer",
            note="Rang twice",
            next_call_on=next_call,
        ),
        DESK,
    ).item_ids[0]
    report = a.sync()
    assert (report.pending_after, report.needs_attention) == (0, 0)

    found = server_resource(a.client, "Communication", call)
    assert found is not None
    sent = found.resource
    validate(sent)
    assert (sent["status"], sent["statusReason"]["text"]) == ("not-done", "No answer")
    server_appointment = server_resource(a.client, "Appointment", appointment)
    assert server_appointment is not None
    # `about` names the server's own copy of the appointment (its id, not ours).
    assert sent["about"] == [{"reference": f"Appointment/{server_appointment.resource['id']}"}]

    b.sync()
    assert rows_of(b, pid) == [(appointment, "missed", 1, "no-answer", next_call)]
    (row,) = [r for r in b.clinic.queries.call_worklist() if r.patient_id == pid]
    assert row.phone == "+255 713 555 010"

    b.run(c.RemoveFromWorklist(patient_id=pid, reason="Followed up by the CHW"), DESK)
    assert b.sync().pending_after == 0
    a.sync()
    assert rows_of(a, pid) == []
    # (Each test device's clock ticks on its own, so only the set is compared, not the order.)
    assert {x.outcome for x in a.clinic.queries.calls_of(pid)} == {"no-answer", "removed"}
