"""A follow-up call reaches the server as a valid R4 Communication (status per outcome,
category, medium phone, subject, sent, about the Appointment, note, outcome and next call
extensions) and comes back as the same chart item; a removal from the worklist too; another
system's Communication is not read as a call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.domain import events as ev
from app.domain.chart import Item, evolve
from sync.fhir.mapping import ResourceKey, event_from_fhir, from_fhir_resource
from sync.fhir.mapping.communication import EXT_NEXT_CALL, EXT_OUTCOME, from_fhir_communication
from sync.fhir.mapping.errors import UnsupportedResourceError
from sync.fhir.mapping.remote import RemoteItem
from tests.sync.mapping_builders import (
    APPOINTMENT,
    PID,
    chart_of,
    server_copy,
    touched_by_another_system,
    validate,
    writes_nothing,
    written,
)

NO_ANSWER = ev.CallAttemptRecorded(
    call_id="call-1",
    outcome="no-answer",
    status="not-done",
    called_at="2026-11-29T10:15:00+03:00",
    appointment_id=APPOINTMENT.appointment_id,
    note="Phone off; try after market day",
    next_call_on="2026-12-01",
)
AGREED = ev.CallAttemptRecorded(
    call_id="call-1", outcome="agreed-to-come", status="completed", called_at=NO_ANSWER.called_at
)
REMOVED = ev.RemovedFromWorklist(
    call_id="call-1", reason="Care moved to the district hospital", removed_at=NO_ANSWER.called_at
)
ERROR = ev.EnteredInError(item_id="call-1", item_kind="call", reason="Wrong patient")


def item_of(*events: ev.DomainEvent) -> Item:
    return chart_of(APPOINTMENT, *events).items["call-1"]


def resource_of(item: Item, base: dict[str, Any] | None = None) -> dict[str, Any]:
    key = ResourceKey("Communication", "call-1")
    return written(item, {key: base} if base is not None else None)[key]


def test_a_call_is_a_valid_r4_communication() -> None:
    resource = resource_of(item_of(NO_ANSWER))
    validate(resource)
    assert resource["status"] == "not-done"
    assert resource["statusReason"] == {"text": "No answer"}
    assert resource["category"][0]["coding"][0]["code"] == "follow-up-call"
    assert resource["medium"][0]["coding"][0]["code"] == "PHONE"
    assert resource["subject"] == resource["recipient"][0] == {"reference": f"Patient/{PID}"}
    assert resource["sent"] == "2026-11-29T10:15:00+03:00"
    assert resource["about"] == [{"reference": "Appointment/apt-1"}]
    assert resource["note"] == [{"text": "Phone off; try after market day"}]
    extensions = {e["url"]: e for e in resource["extension"]}
    assert extensions[EXT_OUTCOME]["valueCode"] == "no-answer"
    assert extensions[EXT_NEXT_CALL]["valueDate"] == "2026-12-01"
    removal = resource_of(item_of(REMOVED))
    validate(removal)
    assert (removal["status"], removal["statusReason"]["text"]) == (
        "not-done",
        "Care moved to the district hospital",
    )
    assert removal["category"][0]["coding"][0]["code"] == "worklist-removal"


@pytest.mark.parametrize(
    "events", [(NO_ANSWER,), (AGREED,), (REMOVED,), (NO_ANSWER, ERROR), (REMOVED, ERROR)]
)
def test_a_call_round_trips_and_a_pull_gives_the_same_item(events: tuple[Any, ...]) -> None:
    item = item_of(*events)
    resource = resource_of(item)
    validate(resource)
    back = from_fhir_resource(json.loads(json.dumps(server_copy(resource))))
    assert isinstance(back, RemoteItem)
    assert (back.kind, back.id, back.patient_id) == ("call", "call-1", PID)
    assert (back.status, back.entered_in_error) == (item.status, item.entered_in_error)
    assert back.data == item.data
    _, event = event_from_fhir(json.loads(json.dumps(server_copy(resource))))
    assert isinstance(event, ev.ItemVersionReceived)
    assert evolve(chart_of(APPOINTMENT), event).items["call-1"] == item
    assert writes_nothing(server_copy(resource), resource_of(item, server_copy(resource)))
    touched = touched_by_another_system(resource)
    assert writes_nothing(touched, resource_of(item, touched))


def test_another_systems_communication_is_not_a_call() -> None:
    foreign = {
        "resourceType": "Communication",
        "id": "sms-7",
        "status": "completed",
        "subject": {"reference": f"Patient/{PID}"},
        "payload": [{"contentString": "Reminder: clinic on Monday"}],
    }
    validate(foreign)
    with pytest.raises(UnsupportedResourceError):
        from_fhir_communication(foreign)
