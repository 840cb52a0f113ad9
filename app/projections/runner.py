"""Runs every projection over the event log: catch-up with a checkpoint committed in the same
transaction as the rows, full rebuild with a digest, and in-memory replay for "as of" views."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    Table,
    create_engine,
    inspect,
    select,
)
from sqlalchemy.pool import StaticPool

from app.domain.events import UnknownEventError, from_payload
from app.projections import audit_log, chart_items, patient_index, schedule, timeline, vitals_series
from app.projections.base import Writes, metadata, register_inserts
from app.store.database import read_transaction, write_transaction
from app.store.event_log import EventLog, RecordedEvent

# Bump when any read-model table or handler changes: the next unlock rebuilds from the log.
PROJECTIONS_VERSION = 4
REBUILD_BATCH = 5000

APPLIERS = (
    patient_index.apply,
    chart_items.apply,
    timeline.apply,
    vitals_series.apply,
    schedule.apply,
    audit_log.apply,
)

checkpoints = Table(
    "projection_checkpoint",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)


register_inserts()


def apply_event(w: Writes, record: RecordedEvent) -> None:
    try:
        event = from_payload(record.type, record.schema_version, record.payload)
    except UnknownEventError:
        return  # written by a newer FieldChart: nothing this version can show
    for applier in APPLIERS:
        applier(event, w, record)


_CHECKPOINT = "SELECT position, version FROM projection_checkpoint"
_MOVE_CHECKPOINT = "UPDATE projection_checkpoint SET position = ?, version = ?"
_FIRST_CHECKPOINT = "INSERT INTO projection_checkpoint (id, position, version) VALUES (1, ?, ?)"


def checkpoint(conn: Connection) -> tuple[int, int]:
    row = conn.exec_driver_sql(_CHECKPOINT).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _save_checkpoint(conn: Connection, position: int) -> None:
    # Plain SQL: this runs with every command (see Writes in base.py for why).
    moved = conn.exec_driver_sql(_MOVE_CHECKPOINT, (position, PROJECTIONS_VERSION))
    if moved.rowcount == 0:
        conn.exec_driver_sql(_FIRST_CHECKPOINT, (position, PROJECTIONS_VERSION))


class ProjectionRunner:
    def __init__(self, engine: Engine, log: EventLog) -> None:
        self._engine = engine
        self._log = log

    def ensure_ready(self) -> bool:
        """Create the read models if missing, rebuild if their version changed, and catch up.
        Returns True if a rebuild happened."""
        with write_transaction(self._engine) as conn:
            present = set(inspect(conn).get_table_names())
            missing = [t for t in metadata.sorted_tables if t.name not in present]
            version = checkpoint(conn)[1] if checkpoints.name in present else 0
        if missing or version != PROJECTIONS_VERSION:
            self.rebuild_read_models()
            return True
        self.catch_up()
        return False

    def catch_up(self, conn: Connection | None = None, known: Sequence[RecordedEvent] = ()) -> int:
        """Apply every event after the checkpoint; `known` are events just appended in `conn`,
        used as-is when they follow the checkpoint directly (saves re-reading them)."""
        if conn is None:
            with write_transaction(self._engine) as own:
                return self.catch_up(own, known)
        position = checkpoint(conn)[0]
        if known and known[0].position == position + 1:
            pending: Iterable[RecordedEvent] = known
        else:
            pending = self._log.read_all(position, conn)
        applied = 0
        writes = Writes(conn)
        for record in pending:
            apply_event(writes, record)
            position = record.position
            applied += 1
        if applied:
            writes.flush()
            _save_checkpoint(conn, position)
        return applied

    def rebuild(self) -> str:
        """Drop and rebuild every read model from the log; returns the digest of the result."""
        self.rebuild_read_models()
        return self.digest()

    def rebuild_read_models(self) -> int:
        """Drop and rebuild every read model from the log (no digest: reading every row back
        costs a good part of the rebuild); returns the number of events applied."""
        with write_transaction(self._engine) as conn:
            metadata.drop_all(conn)
            metadata.create_all(conn)
            _save_checkpoint(conn, 0)
        applied = 0
        while batch := self._catch_up_batch():
            applied += batch
        return applied

    def _catch_up_batch(self) -> int:
        with write_transaction(self._engine) as conn:
            position = checkpoint(conn)[0]
            applied = 0
            writes = Writes(conn)
            for record in self._log.read_all(position, conn, batch=REBUILD_BATCH):
                apply_event(writes, record)
                position = record.position
                applied += 1
                if applied >= REBUILD_BATCH:
                    break
            if applied:
                writes.flush()
                _save_checkpoint(conn, position)
            return applied

    def digest(self) -> str:
        with read_transaction(self._engine) as conn:
            return digest(conn)


def digest(conn: Connection) -> str:
    """SHA-256 over every read-model row in primary-key order: equal digests, equal models."""
    h = hashlib.sha256()
    for table in sorted(metadata.sorted_tables, key=lambda t: t.name):
        if table is checkpoints:
            continue
        h.update(table.name.encode())
        order = list(table.primary_key.columns)
        for row in conn.execute(select(table).order_by(*order)):
            h.update(json.dumps(list(row), default=str, separators=(",", ":")).encode())
    return h.hexdigest()


def replay_in_memory(records: Iterable[RecordedEvent]) -> Engine:
    """A private in-memory database holding the read models of just these events (used for
    "chart as of"): the same handlers and queries as the live read models, nothing on disk."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    with engine.begin() as conn:
        metadata.create_all(conn)
        writes = Writes(conn)
        for record in records:
            apply_event(writes, record)
        writes.flush()
    return engine


__all__ = ["PROJECTIONS_VERSION", "ProjectionRunner", "digest", "replay_in_memory"]
