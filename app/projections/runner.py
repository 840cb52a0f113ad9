"""Runs every projection over the event log: catch-up with a checkpoint committed in the same
transaction as the rows, full rebuild with a digest, and in-memory replay for "as of" views."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    create_engine,
    inspect,
    select,
)
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateTable

from app.domain.events import UnknownEventError
from app.projections import (
    audit_log,
    chart_items,
    duplicate_keys,
    patient_index,
    patient_links,
    schedule,
    timeline,
    vitals_series,
)
from app.projections.base import Writes, metadata, register_inserts
from app.store.database import bulk_write_connection, read_transaction, write_transaction
from app.store.event_log import PURGE_EVENT, EventLog, RecordedEvent

# Bump when any read-model table or handler changes: the next unlock rebuilds from the log.
# 8: duplicate-check blocking keys, 9: merge links (issue 17), 10: timeline words kept as Text
# (rendered in the reader's language, issue 18)
PROJECTIONS_VERSION = 10
# A rebuild commits every REBUILD_BATCH events: each commit writes out every page the batch
# dirtied, and the lookup indexes (random ids) get dirtied all over in any batch, so fewer,
# bigger batches write less. Queued rows are sent every REBUILD_FLUSH events.
REBUILD_BATCH = 200_000
REBUILD_FLUSH = 10_000
# The rebuild's page cache: the random-id lookup indexes of a million events (~150 MB) stay in
# it between commits. 256 MB with 50,000-event commits: 137 s at a million events; 512 MB,
# 200,000-event commits and commits that do not wait for the disk: 108 s (same run, same load).
REBUILD_CACHE_MIB = 512

APPLIERS = (
    patient_index.apply,
    duplicate_keys.apply,  # after patient_index: reads its row on a demographics change
    patient_links.apply,
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

# (events applied so far, events to apply): a rebuild at unlock after an upgrade takes
# minutes on a big vault, and the person waiting should see it move.
RebuildProgress = Callable[[int, int], None]


def apply_event(w: Writes, record: RecordedEvent) -> None:
    try:
        event = record.to_domain()
    except UnknownEventError:
        if record.type == PURGE_EVENT:  # a store record, not a domain event: audit only
            audit_log.apply_purge(w, record)
        return  # written by a newer FieldChart: nothing this version can show
    for applier in APPLIERS:
        applier(event, w, record)


_CHECKPOINT = "SELECT position, version FROM projection_checkpoint"
_MOVE_CHECKPOINT = "UPDATE projection_checkpoint SET position = ?"
_SET_CHECKPOINT = "UPDATE projection_checkpoint SET position = ?, version = ?"
_FIRST_CHECKPOINT = "INSERT INTO projection_checkpoint (id, position, version) VALUES (1, ?, ?)"
REBUILDING = 0  # checkpoint version while a rebuild runs: unlock after a crash rebuilds again


def checkpoint(conn: Connection) -> tuple[int, int]:
    row = conn.exec_driver_sql(_CHECKPOINT).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _save_checkpoint(conn: Connection, position: int, version: int | None = None) -> None:
    """Move the checkpoint; `version` is set only by a rebuild (catch-up keeps what is there,
    so events applied while a rebuild runs do not mark its half-built tables as finished)."""
    # Plain SQL: this runs with every command (see Writes in base.py for why).
    if version is None:
        moved = conn.exec_driver_sql(_MOVE_CHECKPOINT, (position,))
    else:
        moved = conn.exec_driver_sql(_SET_CHECKPOINT, (position, version))
    if moved.rowcount == 0:
        first = PROJECTIONS_VERSION if version is None else version
        conn.exec_driver_sql(_FIRST_CHECKPOINT, (position, first))


# Tables clustered by patient (WITHOUT ROWID, patient first) are loaded by a rebuild as plain
# rowid tables (rows appended in log order, so each page is written once) and copied into
# their clustered form, sorted, at the end: inserting ~a million rows in log order straight
# into patient-ordered B-trees dirtied a random page per row, and writing those pages out at
# every batch's commit took most of a rebuild (~100 s of ~210 s at a million events).
CLUSTERED = tuple(
    t for t in metadata.sorted_tables if t.dialect_options["sqlite"]["with_rowid"] is False
)


def _loading_form(table: Table) -> Table:
    """`table`'s columns as a rowid table without a primary key (its unique indexes, created
    by _create_indexes, still refuse duplicates while rows load)."""
    return Table(
        table.name,
        MetaData(),
        *(Column(c.name, c.type, nullable=c.nullable) for c in table.columns),
    )


def _sorted_copy(conn: Connection, table: Table) -> None:
    """Replace a loaded rowid table by its clustered form, rows inserted in key order."""
    staging = f"{table.name}__clustered"
    columns = ", ".join(c.name for c in table.columns)
    key = ", ".join(c.name for c in table.primary_key.columns)
    clustered = Table(
        staging,
        MetaData(),
        *(Column(c.name, c.type, nullable=c.nullable) for c in table.columns),
        PrimaryKeyConstraint(*(c.name for c in table.primary_key.columns)),
        sqlite_with_rowid=False,
    )
    conn.execute(CreateTable(clustered))
    conn.exec_driver_sql(
        f"INSERT INTO {staging} ({columns}) SELECT {columns} FROM {table.name} ORDER BY {key}"
    )
    conn.exec_driver_sql(f"DROP TABLE {table.name}")  # and its indexes
    conn.exec_driver_sql(f"ALTER TABLE {staging} RENAME TO {table.name}")


def _report_flushed(report: RebuildProgress, before: int, total: int, flushed: int) -> None:
    report(min(before + flushed, total), total)


def _create_indexes(conn: Connection, read_only: bool = True) -> None:
    """Create every read-model index that does not exist yet (without the READ_ONLY ones,
    which a rebuild creates after the rows, unless `read_only`)."""
    present = set(
        conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars()
    )
    for table in metadata.sorted_tables:
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            if index.name in present or (index.info.get("read_only") and not read_only):
                continue
            index.create(conn)


class ProjectionRunner:
    def __init__(self, engine: Engine | Callable[[], Engine], log: EventLog) -> None:
        # A callable (the vault's `engine` property) keeps no engine, and so no key, alive
        # after the vault is locked.
        self._engine_source = (
            engine if callable(engine) and not isinstance(engine, Engine) else (lambda: engine)
        )
        self._log = log

    @property
    def _engine(self) -> Engine:
        return self._engine_source()

    def ensure_ready(self, progress: RebuildProgress | None = None) -> bool:
        """Create the read models if missing, rebuild if their version changed, and catch up.
        Returns True if a rebuild happened; `progress` hears about a rebuild as it goes."""
        with write_transaction(self._engine) as conn:
            present = set(inspect(conn).get_table_names())
            missing = [t for t in metadata.sorted_tables if t.name not in present]
            version = checkpoint(conn)[1] if checkpoints.name in present else 0
        if missing or version != PROJECTIONS_VERSION:
            self.rebuild_read_models(progress)
            return True
        with write_transaction(self._engine) as conn:
            # A rebuild creates the indexes after the rows; one cut short by a crash resumes here
            _create_indexes(conn)
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

    def rebuild_read_models(self, progress: RebuildProgress | None = None) -> int:
        """Drop and rebuild every read model from the log (no digest: reading every row back
        costs a good part of the rebuild); returns the number of events applied.

        One connection with a big page cache (bulk_write_connection) runs every batch; each
        batch commits with its checkpoint (a command recorded meanwhile catches up from there;
        the checkpoint's version stays REBUILDING until the end, so a crash
        means a new rebuild). CLUSTERED tables load in log order and are sorted into place at
        the end; READ_ONLY indexes are created after the rows (one sort each instead of a
        random B-tree insert per row). `progress(applied, total)` is called before the first
        batch and every REBUILD_FLUSH events (total: the log's length when it started)."""
        report = progress or (lambda _applied, _total: None)
        total = self._log.head_position()
        report(0, total)
        # Read models only hold what the log holds: no need to zero their freed pages. A power
        # cut mid-rebuild leaves the checkpoint at REBUILDING (the next unlock rebuilds), so
        # its commits need not wait for the disk either.
        with bulk_write_connection(
            self._engine, REBUILD_CACHE_MIB, erase_freed=False, durable=False
        ) as conn:
            with conn.begin():
                metadata.drop_all(conn)
                for table in metadata.sorted_tables:
                    conn.execute(CreateTable(_loading_form(table) if table in CLUSTERED else table))
                _create_indexes(conn, read_only=False)
                _save_checkpoint(conn, 0, REBUILDING)
            applied = 0
            while True:
                with conn.begin():
                    batch = self._catch_up_batch(
                        conn, functools.partial(_report_flushed, report, applied, total)
                    )
                if not batch:
                    break
                applied += batch
            with conn.begin():
                for table in CLUSTERED:
                    _sorted_copy(conn, table)
                _create_indexes(conn)
                _save_checkpoint(conn, checkpoint(conn)[0], PROJECTIONS_VERSION)
        return applied

    def _catch_up_batch(self, conn: Connection, flushed: Callable[[int], None]) -> int:
        position = checkpoint(conn)[0]
        applied = 0
        writes = Writes(conn)
        for record in self._log.read_all(position, conn, batch=REBUILD_FLUSH):
            apply_event(writes, record)
            position = record.position
            applied += 1
            if applied % REBUILD_FLUSH == 0:
                writes.flush()  # bounds the rows held in Python; the commit comes later
                flushed(applied)
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
