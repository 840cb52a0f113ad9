"""Removing the local copy of patients who left the device's scope (issue 14), as a service.

Who leaves is decided by sync (sync/retention.py); this removes them, each in one durable
transaction with their read-model rows: only when nothing of theirs is pending (commands not
yet sent, conflicts, a send in flight, drafts); otherwise the patient is kept and the reason
given. See docs/district/retention.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.projections import chart_items, patient_index
from app.projections.forget import forget_patients
from app.projections.runner import ProjectionRunner
from app.services.clock import Clock
from app.store import purge
from app.store.database import read_transaction, write_transaction
from app.store.event_log import EventMetadata
from app.store.vault import Vault

log = logging.getLogger(__name__)

RETENTION_USER = "retention"
RETENTION_ROLE = "system"
# Patients per write transaction: 100 patients' removal took ~5-9 s on a loaded 2-CPU machine
# in one transaction, longer than a clinician's command should wait for the write lock.
REMOVE_BATCH = 10


@dataclass(frozen=True)
class Leaving:
    """A patient the scope rules say should leave, and why (words a person reads)."""

    patient_id: str
    reason: str


@dataclass(frozen=True)
class Kept:
    patient_id: str
    server_id: str | None
    reason: str  # why the patient should have left
    held_by: tuple[str, ...]  # what keeps them


@dataclass(frozen=True)
class RemovalOutcome:
    removed: tuple[purge.PurgedPatient, ...]
    kept: tuple[Kept, ...]
    purge_ids: tuple[str, ...]  # one purge event per batch that removed anyone


class RetentionService:
    def __init__(self, vault: Vault, runner: ProjectionRunner, clock: Clock) -> None:
        self._vault = vault
        self._runner = runner
        self._clock = clock

    # -- what the rules look at ------------------------------------------------------------

    def local_patients(self) -> dict[str, str | None]:
        """Every patient on the device (our id) and the id the server knows them by (None:
        not on the server yet)."""
        with read_transaction(self._vault.engine) as conn:
            ids = patient_index.all_ids(conn)
            known = purge.patient_server_ids(conn)
        return {pid: known.get(pid) for pid in ids}

    def holds(self, patient_ids: Iterable[str]) -> dict[str, list[str]]:
        """Why each patient must stay for now (empty: nothing of theirs is pending)."""
        with read_transaction(self._vault.engine) as conn:
            return purge.holds(conn, patient_ids)

    def last_activity(self, patient_id: str) -> datetime | None:
        """When the device last recorded anything in the patient's chart (theirs or pulled)."""
        with read_transaction(self._vault.engine) as conn:
            value = purge.last_recorded_at(conn, patient_id)
        return None if value is None else datetime.fromisoformat(value)

    def has_open_encounter(self, patient_id: str) -> bool:
        with read_transaction(self._vault.engine) as conn:
            return chart_items.has_open_encounter(conn, patient_id)

    # -- removing --------------------------------------------------------------------------

    def remove(self, leaving: Sequence[Leaving]) -> RemovalOutcome:
        """Remove those of `leaving` with nothing pending (their events, sync state and
        read-model rows, and a purge event), REMOVE_BATCH patients per durable transaction so
        a clinician's command never waits long for the write lock; keep the others."""
        removed: list[purge.PurgedPatient] = []
        kept: list[Kept] = []
        purges: list[str] = []
        for start in range(0, len(leaving), REMOVE_BATCH):
            batch = leaving[start : start + REMOVE_BATCH]
            with write_transaction(self._vault.engine) as conn:
                found = purge.holds(conn, [item.patient_id for item in batch])
                known = purge.server_ids(conn, [item.patient_id for item in batch])
                kept += [
                    Kept(
                        i.patient_id, known.get(i.patient_id), i.reason, tuple(found[i.patient_id])
                    )
                    for i in batch
                    if found[i.patient_id]
                ]
                free = [(i.patient_id, i.reason) for i in batch if not found[i.patient_id]]
                if not free:
                    continue
                result = purge.purge_patients(conn, self._vault.events, free, self._metadata())
                forget_patients(conn, [pid for pid, _ in free], result.positions)
                self._runner.catch_up(conn)
            removed += result.patients
            purges.append(result.purge_id)
        if removed:
            purge.checkpoint_wal(self._vault.engine)
            log.info("removed %d patient(s) who left this device's scope", len(removed))
        return RemovalOutcome(tuple(removed), tuple(kept), tuple(purges))

    def _metadata(self) -> EventMetadata:
        now = self._clock().isoformat(timespec="milliseconds")
        return EventMetadata(
            command_id=f"retention:{now}",
            user=RETENTION_USER,
            role=RETENTION_ROLE,
            device_id=self._vault.device_id,
            recorded_at=now,
            occurred_at=now,
        )
