"""Ordered, forward-only schema migrations of the store.

Each migration runs in its own write transaction together with the row that records it, so a
crash leaves the schema at a whole version. A vault written by a newer FieldChart is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

from app.i18n import _
from app.store.database import write_transaction
from app.store.errors import NotAVaultError
from app.store.sync_state import fold_quarantine_duplicates


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _statements(*sql: str) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        for statement in sql:
            conn.exec_driver_sql(statement)

    return run


MIGRATIONS: Sequence[Migration] = (
    Migration(
        1,
        "vault metadata, users and the event log",
        _statements(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE users (
                name TEXT PRIMARY KEY, role TEXT NOT NULL, created_at TEXT NOT NULL,
                disabled BOOLEAN NOT NULL DEFAULT 0)""",
            """CREATE TABLE events (
                position INTEGER PRIMARY KEY,
                event_id TEXT NOT NULL UNIQUE,
                stream_id TEXT NOT NULL,
                stream_version INTEGER NOT NULL,
                type TEXT NOT NULL,
                schema_version INTEGER NOT NULL,
                metadata TEXT NOT NULL,
                payload BLOB NOT NULL,
                chain BLOB NOT NULL,
                CONSTRAINT uq_stream_version UNIQUE (stream_id, stream_version))""",
            # Events are immutable: corrections are new events, never edits.
            """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
               BEGIN SELECT RAISE(ABORT, 'events are immutable'); END""",
            """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
               BEGIN SELECT RAISE(ABORT, 'events are immutable'); END""",
            """CREATE TABLE log_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                position INTEGER NOT NULL, chain BLOB NOT NULL)""",
        ),
    ),
    Migration(
        2,
        "outbox: every accepted command, its events and its sync state",
        _statements(
            """CREATE TABLE outbox (
                command_id TEXT PRIMARY KEY,
                seq INTEGER NOT NULL UNIQUE,
                stream_id TEXT NOT NULL,
                command_type TEXT NOT NULL,
                command TEXT NOT NULL,
                first_position INTEGER NOT NULL,
                last_position INTEGER NOT NULL,
                recorded_at TEXT NOT NULL,
                user TEXT NOT NULL,
                role TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                detail TEXT,
                result TEXT NOT NULL)""",
            "CREATE INDEX ix_outbox_status ON outbox (status, seq)",
            "CREATE INDEX ix_outbox_stream ON outbox (stream_id, seq)",
        ),
    ),
    Migration(
        3,
        "device settings (sync server, auth secrets, intervals) inside the encrypted file",
        _statements("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"),
    ),
    Migration(
        4,
        "sync state: server copies, pull watermarks, quarantine, sync journal",
        _statements(
            """CREATE TABLE remote_resources (
                resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,
                version_id TEXT NOT NULL, patient_id TEXT, last_updated TEXT,
                body TEXT NOT NULL, PRIMARY KEY (resource_type, resource_id))""",
            """CREATE TABLE pull_marks (
                resource_type TEXT PRIMARY KEY, watermark TEXT NOT NULL)""",
            """CREATE TABLE quarantine (
                id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, resource_type TEXT,
                resource_id TEXT, reason TEXT NOT NULL, body_sha256 TEXT,
                body TEXT)""",
            "CREATE TABLE sync_journal (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ),
    ),
    Migration(
        5,
        "outbox.in_flight: a push was sent but its answer not yet recorded",
        _statements("ALTER TABLE outbox ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0"),
    ),
    Migration(
        6,
        "drafts: each user's unsaved task forms, kept across a lock inside the encrypted file",
        _statements(
            """CREATE TABLE drafts (
                draft_id TEXT PRIMARY KEY, user TEXT NOT NULL, form TEXT NOT NULL,
                title TEXT NOT NULL, body TEXT NOT NULL, saved_at TEXT NOT NULL)""",
            "CREATE INDEX ix_drafts_user ON drafts (user, saved_at)",
        ),
    ),
    Migration(
        7,
        "remote_resources.server_id: the id the server gave a resource (servers that assign ids)",
        _statements(
            "ALTER TABLE remote_resources ADD COLUMN server_id TEXT",
            # Until now every resource was written with our id or pulled with the server's.
            "UPDATE remote_resources SET server_id = resource_id",
            "CREATE UNIQUE INDEX ix_remote_server_id "
            "ON remote_resources (resource_type, server_id)",
        ),
    ),
    Migration(
        8,
        "purged_events: the chain links of events removed with a patient who left the device",
        _statements(
            # A removed event leaves its position and chain link behind (no content): the
            # chain runs on through it, and the purge event that lists it says why it went.
            """CREATE TABLE purged_events (
                position INTEGER PRIMARY KEY, chain BLOB NOT NULL, purge_id TEXT NOT NULL)""",
            # Events stay immutable; only a purge (which holds this one-row guard inside its
            # own transaction) may delete rows, never update them.
            "CREATE TABLE purge_guard (id INTEGER PRIMARY KEY CHECK (id = 1))",
            "DROP TRIGGER events_no_delete",
            """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
               WHEN NOT EXISTS (SELECT 1 FROM purge_guard)
               BEGIN SELECT RAISE(ABORT, 'events are immutable'); END""",
            # A purge finds a patient's server copies by patient (and not by a table scan).
            "CREATE INDEX ix_remote_patient ON remote_resources (patient_id)",
        ),
    ),
    Migration(
        9,
        "quarantine: one row per bad server item, with how often and when last it came back",
        fold_quarantine_duplicates,
    ),
    Migration(
        10,
        "event_signatures: each event's Ed25519 signature by the user who wrote it",
        _statements(
            # One row per log position (app/store/signatures.py); events written before the
            # vault's signed baseline have none (app/store/role_grants.py: unsigned legacy).
            """CREATE TABLE event_signatures (
                position INTEGER PRIMARY KEY, signer TEXT NOT NULL, signature BLOB NOT NULL)""",
        ),
    ),
)


def current_version(conn: Connection) -> int:
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    value = conn.execute(text("SELECT max(version) FROM schema_migrations")).scalar()
    return int(value or 0)


def migrate(engine: Engine, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the schema up to date; returns the resulting version."""
    latest = migrations[-1].version if migrations else 0
    with write_transaction(engine) as conn:
        version = current_version(conn)
    if version > latest:
        raise NotAVaultError(
            _(
                "this vault has schema version {version}, newer than this "
                "FieldChart understands ({latest}); update FieldChart"
            ).format(version=version, latest=latest)
        )
    for migration in migrations:
        if migration.version <= version:
            continue
        with write_transaction(engine) as conn:
            migration.apply(conn)
            conn.execute(
                text("INSERT INTO schema_migrations VALUES (:v, :n, :t)"),
                {"v": migration.version, "n": migration.name, "t": datetime.now(UTC).isoformat()},
            )
        version = migration.version
    return version
