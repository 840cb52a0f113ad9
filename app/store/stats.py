"""Counts about a vault for `fieldchart diagnose`: numbers and type names only.

Nothing here returns a value a person entered: no names, no patient ids, no payloads, no
error messages (those can quote values); only counts grouped by event type, command type,
role or status, and positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, inspect

from app.store.database import read_transaction


@dataclass(frozen=True)
class VaultStats:
    schema_version: int
    head_position: int
    events: int
    events_by_type: dict[str, int]
    streams_by_kind: dict[str, int]  # "patient": number of patient streams, ...
    users_by_role: dict[str, int]  # active users per role
    users_disabled: int
    outbox_by_status: dict[str, int]
    outbox_in_flight: int
    attention_by_command_type: dict[str, int]
    commands_with_errors: int  # pending commands whose last attempt failed
    quarantined: int
    projection_checkpoint: int | None  # None: the read models were never built
    projection_version: int | None


def _pairs(conn: Connection, sql: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in conn.exec_driver_sql(sql).all()}


def _one(conn: Connection, sql: str) -> int:
    value = conn.exec_driver_sql(sql).scalar()
    return int(value or 0)


def collect(engine: Engine) -> VaultStats:
    with read_transaction(engine) as conn:
        tables = set(inspect(conn).get_table_names())
        checkpoint: Any = None
        if "projection_checkpoint" in tables:
            checkpoint = conn.exec_driver_sql(
                "SELECT position, version FROM projection_checkpoint"
            ).first()
        users = conn.exec_driver_sql(
            "SELECT role, disabled, count(*) FROM users GROUP BY role, disabled"
        ).all()
        return VaultStats(
            schema_version=_one(conn, "SELECT max(version) FROM schema_migrations"),
            head_position=_one(conn, "SELECT position FROM log_head"),
            events=_one(conn, "SELECT count(*) FROM events"),
            events_by_type=_pairs(
                conn, "SELECT type, count(*) FROM events GROUP BY type ORDER BY type"
            ),
            streams_by_kind=_pairs(
                conn,
                "SELECT CASE WHEN instr(stream_id, '-') > 0 "
                "THEN substr(stream_id, 1, instr(stream_id, '-') - 1) ELSE 'other' END AS kind, "
                "count(DISTINCT stream_id) FROM events GROUP BY kind ORDER BY kind",
            ),
            users_by_role={str(r[0]): int(r[2]) for r in users if not r[1]},
            users_disabled=sum(int(r[2]) for r in users if r[1]),
            outbox_by_status=_pairs(
                conn, "SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status"
            ),
            outbox_in_flight=_one(conn, "SELECT count(*) FROM outbox WHERE in_flight = 1")
            if "outbox" in tables
            else 0,
            attention_by_command_type=_pairs(
                conn,
                "SELECT command_type, count(*) FROM outbox WHERE status = 'needs-attention' "
                "GROUP BY command_type ORDER BY command_type",
            ),
            commands_with_errors=_one(
                conn,
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND last_error IS NOT NULL",
            ),
            quarantined=_one(conn, "SELECT count(*) FROM quarantine"),
            projection_checkpoint=int(checkpoint[0]) if checkpoint else None,
            projection_version=int(checkpoint[1]) if checkpoint else None,
        )


def sqlcipher_versions() -> dict[str, str]:
    """SQLCipher, its SQLite and its crypto provider, as the loaded driver reports them."""
    from app.store.rekey import raw_connect

    conn = raw_connect(Path(":memory:"), bytes(32))
    try:
        return {
            "sqlcipher": str(conn.execute("PRAGMA cipher_version").fetchone()[0]),
            "sqlite": str(conn.execute("SELECT sqlite_version()").fetchone()[0]),
            "provider": str(conn.execute("PRAGMA cipher_provider").fetchone()[0]),
            "provider_version": str(conn.execute("PRAGMA cipher_provider_version").fetchone()[0]),
        }
    finally:
        conn.close()
