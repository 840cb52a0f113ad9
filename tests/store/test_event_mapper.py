"""The one mapper between domain events and stored events: NewEvent.of on the way in,
RecordedEvent.to_domain on the way out (with upcasting)."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain import events as ev
from app.store.event_log import NewEvent, RecordedEvent
from app.store.vault import Vault
from tests.store.helpers import metadata

NOTE = ev.NoteAdded(note_id="n-1", text="Cough for three days", written_at="2026-11-20T09:00Z")


def test_a_new_event_carries_the_events_type_payload_and_schema_version() -> None:
    meta = metadata()
    stored = NewEvent.of(NOTE, meta)
    assert (stored.type, stored.payload, stored.schema_version) == (
        "NoteAdded",
        NOTE.to_payload(),
        ev.NoteAdded.SCHEMA_VERSION,
    )
    assert stored.metadata is meta


def test_a_new_event_keeps_a_newer_schema_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sites that once wrote NewEvent(type, payload, metadata) by hand stored version 1 for
    # every event, whatever its class declared.
    monkeypatch.setattr(ev.ChartViewed, "SCHEMA_VERSION", 2)
    assert NewEvent.of(ev.ChartViewed(patient_id="p-1"), metadata()).schema_version == 2


def test_a_stored_event_reads_back_as_the_same_domain_event(vault: Vault) -> None:
    events = [
        ev.PatientRegistered(
            patient_id="p-1",
            given="Amina",
            family="Okafor",
            birth_date="1990-04-02",
            sex="female",
            identifiers=[{"system": "clinic", "value": "A-1"}],
        ),
        NOTE,
    ]
    recorded = vault.events.append(
        ev.stream_of("p-1"), 0, [NewEvent.of(e, metadata()) for e in events]
    )
    assert [r.to_domain() for r in recorded] == events
    assert [r.to_domain() for r in vault.events.read_stream(ev.stream_of("p-1"))] == events


def test_an_old_schema_version_is_upcast_on_the_way_out(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Version 1 of NoteAdded called its text "body"; version 2 renamed it.
    def rename_body(payload: dict[str, Any]) -> dict[str, Any]:
        payload["text"] = payload.pop("body")
        return payload

    old = {"note_id": "n-1", "body": "Cough for three days", "written_at": "2026-11-20T09:00Z"}
    [stored] = vault.events.append(
        "patient-p-1", 0, [NewEvent("NoteAdded", old, metadata(), schema_version=1)]
    )
    monkeypatch.setattr(ev.NoteAdded, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(ev.UPCASTERS, ("NoteAdded", 1), rename_body)
    [read] = vault.events.read_stream("patient-p-1")
    assert read.schema_version == 1  # the row keeps the version it was written with
    assert read.to_domain() == NOTE
    assert stored.to_domain() == NOTE


def test_an_event_of_an_unknown_type_says_so() -> None:
    record = RecordedEvent(1, "e-1", "patient-p", 1, "ImmunizationGiven", 3, metadata(), {})
    with pytest.raises(ev.UnknownEventError, match="ImmunizationGiven"):
        record.to_domain()
