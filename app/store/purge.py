"""Removing the local copy of patients who left the device's scope, keeping the log's integrity.

The event log is append-only and hash-chained over each row including its sealed payload, so
rows cannot simply be deleted. A purge (docs/decisions.md, "Patients leaving the device"):

1. refuses a patient with anything still pending (`holds`), inside the same transaction;
2. authenticates every row of the patient's stream against the link before it (so nothing
   altered is removed unnoticed) and keeps each row's position and chain link in
   `purged_events`: the chain runs on through those links, nothing after them is rewritten;
3. deletes the rows (the `purge_guard` row lets the delete trigger through, inside this
   transaction only) and the patient's outbox rows, server copies and quarantined resources;
4. appends one PURGE_EVENT to the device's purge stream listing the removed positions, the
   patients' ids and the reasons: ids only, never a name or any other patient data.

`verify` accepts a missing position only where a later purge event lists it. Freed pages are
zeroed (SQLCipher's secure_delete, on by default for write transactions).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from app.domain.events import stream_of
from app.i18n import N_, _
from app.store.errors import StoreError
from app.store.event_log import ANY_VERSION, PURGE_EVENT, EventLog, EventMetadata, NewEvent

PURGE_STREAM_PREFIX = "purge-"

# What keeps a patient on the device, each with the words a person reads.
HOLD_PENDING = N_("commands not yet sent to the server")
HOLD_ATTENTION = N_("sync conflicts waiting for a person")
HOLD_IN_FLIGHT = N_("a send whose answer was never recorded")
HOLD_DRAFT = N_("unsaved forms (drafts)")

_OUTBOX_HOLDS = (
    "SELECT sum(status = 'pending'), sum(status = 'needs-attention'), sum(in_flight != 0) "
    "FROM outbox WHERE stream_id = ?"
)
_DRAFT_PATIENTS = "SELECT body FROM drafts"
_PATIENT_SERVER_ID = (
    "SELECT server_id FROM remote_resources WHERE resource_type = 'Patient' AND resource_id = ?"
)
_REMOTE_OF = (
    "SELECT resource_type, resource_id, server_id FROM remote_resources "
    "WHERE patient_id = ?1 OR (resource_type = 'Patient' AND resource_id = ?1)"
)


class PatientHeldError(StoreError):
    """A purge was asked for a patient whose local copy still holds something pending."""


@dataclass(frozen=True)
class PurgedPatient:
    patient_id: str
    server_id: str | None
    reason: str
    events: int


@dataclass(frozen=True)
class PurgeResult:
    purge_id: str
    patients: tuple[PurgedPatient, ...]
    positions: tuple[tuple[int, int], ...]  # removed log positions, as inclusive ranges
    event_position: int  # where the purge event went


def purge_stream(device_id: str) -> str:
    return f"{PURGE_STREAM_PREFIX}{device_id}"


def holds(conn: Connection, patient_ids: Iterable[str]) -> dict[str, list[str]]:
    """Why each of these patients must stay (an empty list: nothing of theirs is pending)."""
    wanted = list(patient_ids)
    found: dict[str, list[str]] = {pid: [] for pid in wanted}
    for pid in wanted:
        pending, attention, in_flight = conn.exec_driver_sql(_OUTBOX_HOLDS, (stream_of(pid),)).one()
        for count, reason in (
            (pending, HOLD_PENDING),
            (attention, HOLD_ATTENTION),
            (in_flight, HOLD_IN_FLIGHT),
        ):
            if count:
                found[pid].append(_(reason))  # reason: one of the N_-marked HOLD_* above
    with_drafts = _draft_patients(conn)
    for pid in wanted:
        if pid in with_drafts:
            found[pid].append(_(HOLD_DRAFT))
    return found


def server_ids(conn: Connection, patient_ids: Iterable[str]) -> dict[str, str]:
    """The ids the server knows these patients by, where it has them."""
    found: dict[str, str] = {}
    for pid in patient_ids:
        value = conn.exec_driver_sql(_PATIENT_SERVER_ID, (pid,)).scalar()
        if value is not None:
            found[pid] = str(value)
    return found


def patient_server_ids(conn: Connection) -> dict[str, str]:
    """Our id -> the server's id of every Patient the server has."""
    rows = conn.exec_driver_sql(
        "SELECT resource_id, server_id FROM remote_resources WHERE resource_type = 'Patient'"
    ).all()
    return {str(local): str(server) for local, server in rows if server is not None}


def last_recorded_at(conn: Connection, patient_id: str) -> str | None:
    """When the device last recorded an event in the patient's stream (theirs or pulled)."""
    value = conn.exec_driver_sql(
        "SELECT max(json_extract(metadata, '$.recorded_at')) FROM events WHERE stream_id = ?",
        (stream_of(patient_id),),
    ).scalar()
    return None if value is None else str(value)


def checkpoint_wal(engine: Engine) -> None:
    """Old page images of removed rows stay in the WAL (encrypted) until a checkpoint copies
    it into the database: ask for one now. Best effort: a reader may hold it back, and the
    next automatic checkpoint does it then."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except SQLAlchemyError:
        pass


def _draft_patients(conn: Connection) -> set[str]:
    """Patients some user's draft is about (any user's: a draft is that user's to decide)."""
    patients: set[str] = set()
    for (body,) in conn.exec_driver_sql(_DRAFT_PATIENTS):
        try:
            context = json.loads(body).get("context") or {}
        except (ValueError, AttributeError):
            continue
        if isinstance(context, dict) and context.get("patient_id"):
            patients.add(str(context["patient_id"]))
    return patients


def purge_patients(
    conn: Connection,
    log: EventLog,
    leaving: Sequence[tuple[str, str]],
    metadata: EventMetadata,
) -> PurgeResult:
    """Remove these (patient id, reason) from the store in `conn`'s transaction (the caller
    commits, together with the read models' rows). Raises PatientHeldError, changing nothing,
    if any of them still holds something pending."""
    held = {pid: why for pid, why in holds(conn, [pid for pid, _ in leaving]).items() if why}
    if held:
        raise PatientHeldError(
            _("{count} patient(s) still have something pending and cannot be removed").format(
                count=len(held)
            )
        )
    purge_id = str(uuid.uuid4())
    removed: list[int] = []
    patients: list[PurgedPatient] = []
    for patient_id, reason in leaving:
        stream = stream_of(patient_id)
        links = log.authenticate(conn, stream)
        server_id = conn.exec_driver_sql(_PATIENT_SERVER_ID, (patient_id,)).scalar()
        conn.exec_driver_sql("INSERT OR IGNORE INTO purge_guard (id) VALUES (1)")
        conn.exec_driver_sql("DELETE FROM events WHERE stream_id = ?", (stream,))
        conn.exec_driver_sql("DELETE FROM purge_guard")
        if links:
            conn.exec_driver_sql(
                "INSERT INTO purged_events (position, chain, purge_id) VALUES (?, ?, ?)",
                [(position, chain, purge_id) for position, chain in links],
            )
        _forget_sync_state(conn, patient_id, stream)
        removed.extend(position for position, _ in links)
        patients.append(
            PurgedPatient(
                patient_id, None if server_id is None else str(server_id), reason, len(links)
            )
        )
    ranges = _ranges(sorted(removed))
    payload = {
        "purge_id": purge_id,
        "patients": [
            {
                "patient_id": p.patient_id,
                "server_id": p.server_id,
                "reason": p.reason,
                "events": p.events,
            }
            for p in patients
        ],
        "positions": [list(r) for r in ranges],
    }
    (event,) = log.append(
        purge_stream(metadata.device_id),
        ANY_VERSION,
        [NewEvent(PURGE_EVENT, payload, metadata)],
        conn,
    )
    return PurgeResult(purge_id, tuple(patients), tuple(ranges), event.position)


def _forget_sync_state(conn: Connection, patient_id: str, stream: str) -> None:
    """The patient's outbox rows (all synced or resolved: holds refused the rest), the
    server's copies of their resources (so a later pull brings them back as new) and what of
    theirs sits in quarantine."""
    conn.exec_driver_sql("DELETE FROM outbox WHERE stream_id = ?", (stream,))
    copies = conn.exec_driver_sql(_REMOTE_OF, (patient_id,)).fetchall()
    if copies and conn.exec_driver_sql("SELECT 1 FROM quarantine LIMIT 1").first():
        ids = {(t, i) for t, local, server in copies for i in (local, server)}
        quarantined = conn.exec_driver_sql(
            "SELECT id, resource_type, resource_id FROM quarantine"
        ).fetchall()
        gone = [(row_id,) for row_id, t, i in quarantined if (t, i) in ids]
        if gone:
            conn.exec_driver_sql("DELETE FROM quarantine WHERE id = ?", gone)
    conn.exec_driver_sql(
        "DELETE FROM remote_resources WHERE patient_id = ?1 "
        "OR (resource_type = 'Patient' AND resource_id = ?1)",
        (patient_id,),
    )


def _ranges(positions: Sequence[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for position in positions:
        if ranges and ranges[-1][1] == position - 1:
            ranges[-1] = (ranges[-1][0], position)
        else:
            ranges.append((position, position))
    return ranges
