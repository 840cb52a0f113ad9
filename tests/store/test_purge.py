"""Removing patients who left the device (issue 14): the chart goes, everyone else stays, the
log still verifies, and the read models equal a rebuild from the purged log."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.domain import commands as c
from app.domain.events import PatientRegistered, stream_of
from app.projections import audit_log
from app.services import retention as retention_service
from app.services.clinic import Clinic, open_clinic
from app.services.drafts import DraftForm
from app.services.gateway_types import Received
from app.services.retention import Leaving, RetentionService
from app.store import outbox, purge
from app.store.backup import StagedRestore, create_backup
from app.store.database import read_transaction, write_transaction
from app.store.errors import TamperError
from app.store.event_log import PURGE_EVENT
from app.store.vault import Vault
from tests.clinic_fixtures import DOC, PASSPHRASES, FakeClock, clinic_in, create_vault, register
from tests.clock import cli_environment
from tests.store.helpers import tamper

TRANSFERRED = "transferred to another facility"
# What only the patients' records hold: none of it may be in a purge event or outcome.
PATIENT_DATA = ("Ødegård", "Amina", "1980-04-23", "754 123 456", "Mbeya", "MRN-", "Wanjiru")


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    with clinic_in(tmp_path / "vault", FakeClock()) as opened:
        yield opened


def retention(clinic: Clinic) -> RetentionService:
    return RetentionService(clinic.vault, clinic.runner, clinic.clock)


def chart_patient(clinic: Clinic, family: str, mrn: str) -> str:
    """A patient with an encounter, vitals, a diagnosis and a note, and a chart view."""
    pid = register(clinic, family=family, identifiers=(c.Identifier("urn:fieldchart:mrn", mrn),))
    run = clinic.commands.execute
    encounter = run(c.StartEncounter(patient_id=pid), DOC).item_ids[0]
    run(c.RecordVitals(patient_id=pid, encounter_id=encounter, heart_rate=72), DOC)
    run(c.RecordDiagnosis(patient_id=pid, encounter_id=encounter, code="I10"), DOC)
    run(c.AddNote(patient_id=pid, encounter_id=encounter, text="Feels better"), DOC)
    run(c.FinishEncounter(patient_id=pid, encounter_id=encounter), DOC)
    clinic.queries.chart(pid, DOC)  # a ChartViewed in the device's audit stream: it stays
    return pid


def mark_synced(clinic: Clinic, *patient_ids: str) -> None:
    with write_transaction(clinic.vault.engine) as conn:
        for pid in patient_ids:
            for (command_id,) in conn.exec_driver_sql(
                "SELECT command_id FROM outbox WHERE stream_id = ?", (stream_of(pid),)
            ).all():
                outbox.set_status(conn, command_id, outbox.SYNCED)


@pytest.fixture
def three(clinic: Clinic) -> tuple[str, str, str]:
    ids = (
        chart_patient(clinic, "Ødegård", "MRN-0001"),
        chart_patient(clinic, "Wanjiru", "MRN-0002"),
        chart_patient(clinic, "Mushi", "MRN-0003"),
    )
    mark_synced(clinic, *ids)
    return ids


def test_removed_patient_is_gone_others_intact_and_the_log_verifies(
    clinic: Clinic, three: tuple[str, str, str]
) -> None:
    leaving, *staying = three
    before = {pid: clinic.queries.chart(pid, DOC, record_view=False) for pid in staying}
    events_before = clinic.vault.events.verify().events

    outcome = retention(clinic).remove([Leaving(leaving, TRANSFERRED)])

    assert [(p.patient_id, p.reason) for p in outcome.removed] == [(leaving, TRANSFERRED)]
    assert outcome.kept == ()
    assert clinic.queries.patient(leaving) is None
    assert clinic.queries.search_patients("Ødegård") == []
    assert clinic.vault.events.read_stream(stream_of(leaving)) == []
    for pid in staying:
        assert clinic.queries.chart(pid, DOC, record_view=False) == before[pid]
    report = clinic.vault.events.verify()
    removed = outcome.removed[0].events
    assert removed > 5
    assert report.events == events_before - removed + 1  # and the purge event
    with read_transaction(clinic.vault.engine) as conn:
        assert (
            conn.exec_driver_sql(
                "SELECT count(*) FROM outbox WHERE stream_id = ?", (stream_of(leaving),)
            ).scalar()
            == 0
        )


def test_read_models_after_removal_equal_a_rebuild_from_the_log(
    clinic: Clinic, three: tuple[str, str, str]
) -> None:
    retention(clinic).remove([Leaving(three[0], TRANSFERRED), Leaving(three[2], TRANSFERRED)])
    live = clinic.queries.digest()
    assert clinic.runner.rebuild() == live
    with read_transaction(clinic.vault.engine) as conn:  # the view of the chart stays audited
        viewed = conn.exec_driver_sql(
            "SELECT count(*) FROM au_entries WHERE patient_id = ? AND action = 'ChartViewed'",
            (three[0],),
        ).scalar()
    assert viewed == 1


@pytest.mark.parametrize("hold", ["pending", "needs-attention", "in-flight", "draft"])
def test_a_patient_with_something_pending_is_kept_with_the_reason(
    clinic: Clinic, three: tuple[str, str, str], hold: str
) -> None:
    pid = three[1]
    if hold == "draft":
        clinic.drafts.keep(
            DOC,
            [_draft_form(pid)],
        )
    else:
        clinic.commands.execute(c.AddNote(patient_id=pid, text="Phoned back"), DOC)
        with write_transaction(clinic.vault.engine) as conn:
            last = conn.exec_driver_sql("SELECT max(command_id) FROM outbox").scalar()
            (command_id,) = conn.exec_driver_sql(
                "SELECT command_id FROM outbox WHERE stream_id = ? AND status = 'pending'",
                (stream_of(pid),),
            ).one()
            assert last is not None
            if hold == "needs-attention":
                conn.exec_driver_sql(
                    "UPDATE outbox SET status = 'needs-attention' WHERE command_id = ?",
                    (command_id,),
                )
            elif hold == "in-flight":
                conn.exec_driver_sql(
                    "UPDATE outbox SET status = 'synced', in_flight = 1 WHERE command_id = ?",
                    (command_id,),
                )
    head, digest = clinic.vault.events.head_position(), clinic.queries.digest()

    outcome = retention(clinic).remove([Leaving(pid, TRANSFERRED)])

    expected = {
        "pending": purge.HOLD_PENDING,
        "needs-attention": purge.HOLD_ATTENTION,
        "in-flight": purge.HOLD_IN_FLIGHT,
        "draft": purge.HOLD_DRAFT,
    }[hold]
    assert outcome.removed == ()
    assert [(k.patient_id, k.reason, k.held_by) for k in outcome.kept] == [
        (pid, TRANSFERRED, (expected,))
    ]
    assert clinic.vault.events.head_position() == head
    assert clinic.queries.digest() == digest


def _draft_form(pid: str) -> DraftForm:
    return DraftForm("draft-1", "note", "Write note", {"patient_id": pid}, {"text": "half"})


def test_the_store_refuses_a_held_patient_even_if_asked_directly(
    clinic: Clinic, three: tuple[str, str, str]
) -> None:
    pid = three[0]
    clinic.commands.execute(c.AddNote(patient_id=pid, text="Not sent"), DOC)
    metadata = RetentionService(clinic.vault, clinic.runner, clinic.clock)._metadata()
    with (
        pytest.raises(purge.PatientHeldError),
        write_transaction(clinic.vault.engine) as conn,
    ):
        purge.purge_patients(conn, clinic.vault.events, [(pid, TRANSFERRED)], metadata)
    assert clinic.queries.patient(pid) is not None


def test_purge_event_and_outcome_hold_ids_only(clinic: Clinic, three: tuple[str, str, str]) -> None:
    outcome = retention(clinic).remove([Leaving(three[0], TRANSFERRED)])
    (event,) = [e for e in clinic.vault.events.read_all() if e.type == PURGE_EVENT]
    stored = json.dumps(event.payload) + event.metadata.to_json() + repr(outcome)
    assert not [word for word in PATIENT_DATA if word in stored]
    assert event.payload["patients"][0]["patient_id"] == three[0]
    assert event.payload["positions"]
    with read_transaction(clinic.vault.engine) as conn:
        (entry,) = [e for e in audit_log.recent(conn) if e.action == PURGE_EVENT]
    assert (entry.user, entry.subject, entry.detail) == (
        "retention",
        "1 patient(s)",
        f"{TRANSFERRED} (1)",
    )


def test_a_removal_no_purge_event_lists_fails_verify(
    clinic: Clinic, three: tuple[str, str, str]
) -> None:
    """Deleting a row and leaving its link behind, as a purge would, is still tampering when
    no purge event (which needs the key) records it."""
    engine = clinic.vault.engine
    with write_transaction(engine) as conn:
        position, chain = conn.exec_driver_sql(
            "SELECT position, chain FROM events WHERE stream_id = ? ORDER BY position LIMIT 1",
            (stream_of(three[1]),),
        ).one()
        conn.exec_driver_sql("INSERT INTO purge_guard (id) VALUES (1)")
        conn.exec_driver_sql("DELETE FROM events WHERE position = ?", (position,))
        conn.exec_driver_sql("DELETE FROM purge_guard")
        conn.exec_driver_sql("INSERT INTO purged_events VALUES (?, ?, 'forged')", (position, chain))
    with pytest.raises(TamperError, match=f"position {position} was removed"):
        clinic.vault.events.verify()


def test_a_dropped_tombstone_or_a_delete_outside_a_purge_is_refused(
    clinic: Clinic, three: tuple[str, str, str]
) -> None:
    outcome = retention(clinic).remove([Leaving(three[0], TRANSFERRED)])
    assert outcome.removed
    engine = clinic.vault.engine
    with pytest.raises(Exception, match="events are immutable"), engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE position = 1"))
    with engine.begin() as conn:
        first = conn.exec_driver_sql("SELECT min(position) FROM purged_events").scalar()
        conn.exec_driver_sql("DELETE FROM purged_events WHERE position = ?", (first,))
    with pytest.raises(TamperError, match="missing"):
        clinic.vault.events.verify()


def test_backup_and_restore_after_a_removal_verify(
    clinic: Clinic, three: tuple[str, str, str], tmp_path: Path
) -> None:
    retention(clinic).remove([Leaving(three[0], TRANSFERRED)])
    vault = Vault.open(clinic.vault.data_dir)
    vault.unlock("admin", PASSPHRASES["admin"])
    try:
        info = create_backup(vault, tmp_path / "backup.zip")
    finally:
        vault.lock()
    assert info.events == clinic.vault.events.verify().events
    with StagedRestore(tmp_path / "backup.zip", tmp_path / "restored") as staged:
        staged.install("admin", PASSPHRASES["admin"])
    restored = Vault.open(tmp_path / "restored")
    restored.unlock("doc", PASSPHRASES["doc"])
    try:
        assert restored.events.verify().head_position == clinic.vault.events.head_position()
        assert restored.events.read_stream(stream_of(three[0])) == []
    finally:
        restored.lock()


def test_key_rotation_after_a_removal_keeps_the_log_verifiable(
    tmp_path: Path, three: tuple[str, str, str], clinic: Clinic
) -> None:
    retention(clinic).remove([Leaving(three[0], TRANSFERRED)])
    data_dir, clock = clinic.vault.data_dir, clinic.clock
    digest = clinic.queries.digest()
    clinic.close()
    admin = Vault.open(data_dir)
    admin.unlock("admin", PASSPHRASES["admin"])
    admin.rotate_keys()
    vault = Vault.open(data_dir)
    vault.unlock("doc", PASSPHRASES["doc"])  # verifies the tail, through the purged links
    reopened = open_clinic(vault, clock=clock)
    try:
        reopened.vault.events.verify()
        assert reopened.queries.digest() == digest
        assert reopened.queries.patient(three[0]) is None
        assert reopened.queries.patient(three[1]) is not None
    finally:
        reopened.close()


def test_a_removed_patient_pulled_again_shows_again(
    clinic: Clinic, three: tuple[str, str, str]
) -> None:
    pid = three[0]
    with write_transaction(clinic.vault.engine) as conn:  # the server's copy, as a pull keeps
        conn.exec_driver_sql(
            "INSERT INTO remote_resources (resource_type, resource_id, version_id, patient_id, "
            "body, server_id) VALUES ('Patient', ?, '1', ?, '{}', 'srv-1')",
            (pid, pid),
        )
    outcome = retention(clinic).remove([Leaving(pid, TRANSFERRED)])
    assert outcome.removed[0].server_id == "srv-1"
    assert retention(clinic).local_patients().get(pid, "gone") == "gone"

    resource = {"resourceType": "Patient", "id": pid, "meta": {"versionId": "2"}}
    event = PatientRegistered(
        patient_id=pid, given="Amina", family="Ødegård", birth_date="1980-04-23", sex="female"
    )
    clinic.sync_gateway.record_received([Received(resource, pid, event, "srv-1")])

    back = clinic.queries.chart(pid, DOC, record_view=False)
    assert back.patient.family == "Ødegård"
    assert retention(clinic).local_patients()[pid] == "srv-1"
    clinic.vault.events.verify()
    assert clinic.runner.rebuild() == clinic.queries.digest()
    # and it can leave again
    assert retention(clinic).remove([Leaving(pid, TRANSFERRED)]).removed
    clinic.vault.events.verify()


def test_fieldchart_verify_passes_and_counts_what_purges_removed(tmp_path: Path) -> None:
    # Recorded in the clinician's own session: verify also checks that whoever signed a
    # command's events is the user it names (docs/security/roles-and-signatures.md).
    create_vault(tmp_path / "vault").lock()
    vault = Vault.open(tmp_path / "vault")
    vault.unlock("doc", PASSPHRASES["doc"])
    clinic = open_clinic(vault, clock=FakeClock())
    pid = register(clinic, DOC, family="Ødegård")
    clinic.commands.execute(c.RecordVitals(patient_id=pid, heart_rate=72), DOC)
    mark_synced(clinic, pid)
    outcome = retention(clinic).remove([Leaving(pid, TRANSFERRED)])
    assert clinic.vault.events.verify().purged == outcome.removed[0].events
    data_dir = clinic.vault.data_dir
    clinic.close()
    env = {**cli_environment(), "FIELDCHART_USER": "admin"}
    env["FIELDCHART_PASSPHRASE"] = PASSPHRASES["admin"]
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "verify", "--data-dir", str(data_dir), "--json"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["purged"] == outcome.removed[0].events


def test_sync_state_of_the_patient_goes_and_nobody_elses(
    clinic: Clinic, three: tuple[str, str, str]
) -> None:
    gone, other = three[0], three[1]
    with write_transaction(clinic.vault.engine) as conn:
        for pid, obs in ((gone, "obs-1"), (other, "obs-2")):
            conn.exec_driver_sql(
                "INSERT INTO remote_resources (resource_type, resource_id, version_id, "
                "patient_id, body, server_id) VALUES ('Observation', ?, '1', ?, '{}', ?)",
                (obs, pid, f"srv-{obs}"),
            )
            conn.exec_driver_sql(
                "INSERT INTO quarantine (received_at, resource_type, resource_id, reason) "
                "VALUES ('2026-11-21T09:00:00Z', 'Observation', ?, 'unreadable')",
                (f"srv-{obs}",),
            )
    retention(clinic).remove([Leaving(gone, TRANSFERRED)])
    with read_transaction(clinic.vault.engine) as conn:
        remote = conn.exec_driver_sql("SELECT resource_id FROM remote_resources").scalars()
        quarantined = conn.exec_driver_sql("SELECT resource_id FROM quarantine").scalars()
        assert (list(remote), list(quarantined)) == (["obs-2"], ["srv-obs-2"])


def test_the_tail_check_at_unlock_passes_from_any_position(
    clinic: Clinic, three: tuple[str, str, str]
) -> None:
    """Unlock verifies the last N events: wherever N starts (before, inside or right after
    the removed rows), the chain runs through the kept links."""
    retention(clinic).remove([Leaving(three[1], TRANSFERRED)])
    head = clinic.vault.events.head_position()
    for tail in range(1, head + 1):
        assert clinic.vault.events.verify(from_tail=tail).head_position == head


def test_an_altered_event_is_not_removed_unnoticed(
    clinic: Clinic, three: tuple[str, str, str]
) -> None:
    """A purge checks every row it removes first: an edited one stops it, nothing changes."""
    stream = stream_of(three[0])
    tamper(
        clinic.vault,
        "UPDATE events SET metadata = replace(metadata, '\"doc\"', '\"eve\"') "
        "WHERE position = (SELECT max(position) FROM events WHERE stream_id = ?)",
        (stream,),
    )
    head = clinic.vault.events.head_position()
    with pytest.raises(TamperError, match="does not match the hash chain"):
        retention(clinic).remove([Leaving(three[0], TRANSFERRED)])
    assert clinic.vault.events.head_position() == head
    assert clinic.queries.patient(three[0]) is not None


def test_many_patients_leave_in_batches_each_with_its_purge_event(
    clinic: Clinic, three: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention_service, "REMOVE_BATCH", 2)
    clinic.commands.execute(c.AddNote(patient_id=three[1], text="Not sent"), DOC)
    outcome = retention(clinic).remove([Leaving(pid, TRANSFERRED) for pid in three])
    assert [p.patient_id for p in outcome.removed] == [three[0], three[2]]
    assert [k.patient_id for k in outcome.kept] == [three[1]]
    assert len(outcome.purge_ids) == 2
    purges = [e for e in clinic.vault.events.read_all() if e.type == PURGE_EVENT]
    assert [e.payload["purge_id"] for e in purges] == list(outcome.purge_ids)
    assert clinic.vault.events.verify().purged == sum(p.events for p in outcome.removed)
    assert clinic.runner.rebuild() == clinic.queries.digest()
