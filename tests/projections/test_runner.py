"""Read models are disposable: rebuilding them from the log gives identical tables (same
digest); a projection and its checkpoint commit with the command that caused them."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from app.domain import commands as c
from app.domain.events import NoteAdded, stream_of
from app.projections import runner
from app.projections.runner import PROJECTIONS_VERSION, checkpoint, digest, replay_in_memory
from app.services.clinic import Clinic
from app.store.database import read_transaction, write_transaction
from app.store.event_log import EventMetadata, NewEvent
from tests.clinic_fixtures import DESK, DOC, FakeClock, register


@pytest.fixture
def seen_patients(clinic: Clinic, clock: FakeClock) -> list[str]:
    pids = [register(clinic, patient_id=f"pat-{i}", given=f"Given{i}") for i in range(3)]
    for i, pid in enumerate(pids):
        clock.advance(minutes=7)
        clinic.commands.execute(c.RecordVitals(patient_id=pid, heart_rate=60 + i), DOC)
        clinic.commands.execute(c.AddNote(patient_id=pid, note_id=f"note-{i}", text="seen"), DOC)
        clinic.commands.execute(
            c.ScheduleFollowUp(
                patient_id=pid, clinician="doc", start=f"2026-11-2{i + 3}T09:00:00Z"
            ),
            DESK,
        )
        clinic.queries.chart(pid, DOC)
    clinic.commands.execute(
        c.MarkEnteredInError(patient_id=pids[0], item_id="note-0", reason="wrong chart"), DOC
    )
    return pids


def test_rebuild_gives_the_same_read_models(clinic: Clinic, seen_patients: list[str]) -> None:
    incremental = clinic.queries.digest()
    assert clinic.runner.rebuild() == incremental
    assert clinic.runner.rebuild() == incremental


def test_the_checkpoint_is_the_log_head(clinic: Clinic, seen_patients: list[str]) -> None:
    with read_transaction(clinic.vault.engine) as conn:
        assert checkpoint(conn) == (clinic.vault.events.head_position(), PROJECTIONS_VERSION)


def test_replaying_the_whole_log_in_memory_gives_the_same_digest(
    clinic: Clinic, seen_patients: list[str]
) -> None:
    engine = replay_in_memory(clinic.vault.events.read_all())
    try:
        with engine.connect() as conn:
            assert digest(conn) == clinic.queries.digest()
    finally:
        engine.dispose()


def test_a_changed_projection_version_rebuilds_on_open(
    clinic: Clinic, seen_patients: list[str]
) -> None:
    before = clinic.queries.digest()
    with write_transaction(clinic.vault.engine) as conn:
        conn.execute(update(runner.checkpoints).values(version=PROJECTIONS_VERSION - 1))
    assert clinic.runner.ensure_ready() is True
    assert clinic.queries.digest() == before
    assert clinic.runner.ensure_ready() is False


def test_a_missing_read_model_table_is_rebuilt(clinic: Clinic, seen_patients: list[str]) -> None:
    before = clinic.queries.digest()
    with write_transaction(clinic.vault.engine) as conn:
        conn.exec_driver_sql("DROP TABLE tl_entries")
    assert clinic.runner.ensure_ready() is True
    assert clinic.queries.digest() == before


def test_events_appended_behind_the_projections_are_caught_up(
    clinic: Clinic, seen_patients: list[str]
) -> None:
    pid = seen_patients[1]
    stream = stream_of(pid)
    version = clinic.vault.events.stream_version(stream)
    meta = EventMetadata(
        command_id="cmd-behind",
        user="doc",
        role="clinician",
        device_id=clinic.vault.device_id,
        recorded_at="2026-11-21T10:00:00.000+00:00",
        occurred_at="2026-11-21T10:00:00+00:00",
    )
    note = NoteAdded(note_id="note-behind", text="late", written_at="2026-11-21T10:00:00+00:00")
    clinic.vault.events.append(stream, version, [NewEvent("NoteAdded", note.to_payload(), meta)])
    assert clinic.runner.catch_up() == 1
    assert clinic.runner.catch_up() == 0
    caught_up = clinic.queries.digest()
    assert clinic.runner.rebuild() == caught_up
    notes = clinic.queries.chart(pid, DOC, record_view=False).notes
    assert [n.item_id for n in notes] == ["note-1", "note-behind"]


def test_events_of_unknown_types_are_skipped(clinic: Clinic, seen_patients: list[str]) -> None:
    before = clinic.queries.digest()
    meta = EventMetadata(
        command_id="cmd-future",
        user="doc",
        role="clinician",
        device_id="other-device",
        recorded_at="2026-11-21T10:00:00.000+00:00",
        occurred_at="2026-11-21T10:00:00+00:00",
    )
    stream = stream_of(seen_patients[0])
    clinic.vault.events.append(
        stream,
        clinic.vault.events.stream_version(stream),
        [NewEvent("ImmunizationGiven", {"vaccine": "x"}, meta, schema_version=3)],
    )
    assert clinic.runner.catch_up() == 1
    assert clinic.queries.digest() == before
    assert clinic.runner.rebuild() == before


def test_a_failing_projection_rolls_back_the_whole_command(
    clinic: Clinic, seen_patients: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before_head = clinic.vault.events.head_position()
    before_digest = clinic.queries.digest()
    before_outbox = clinic.queries.sync_overview()

    def broken(event: object, conn: object, record: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "APPLIERS", (*runner.APPLIERS, broken))
    with pytest.raises(RuntimeError):
        clinic.commands.execute(c.AddNote(patient_id=seen_patients[0], text="lost?"), DOC)
    monkeypatch.undo()
    assert clinic.vault.events.head_position() == before_head
    assert clinic.queries.digest() == before_digest
    assert clinic.queries.sync_overview() == before_outbox
    # The cached chart was dropped with the failed transaction: the next command is consistent.
    clinic.commands.execute(c.AddNote(patient_id=seen_patients[0], text="retry"), DOC)
    assert clinic.runner.rebuild() == clinic.queries.digest()
