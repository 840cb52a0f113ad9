"""The outbox: every accepted command with its events, in order, and its sync state.

Written in the same transaction as the command's events, so a command is never recorded
without its outbox row. Sync moves rows from pending to synced or needs-attention; the command
JSON is kept so a conflicting command can be re-run on the server's newer version (rebase).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, select, text

from app.store.schema import outbox


class OutboxStatus(StrEnum):
    """Where a recorded command stands with the server (the one list sync and the UI read)."""

    PENDING = "pending"
    SYNCED = "synced"
    NEEDS_ATTENTION = "needs-attention"
    RESOLVED = "resolved"  # a person settled the conflict (by a later ResolveSyncConflict)


PENDING = OutboxStatus.PENDING
SYNCED = OutboxStatus.SYNCED
NEEDS_ATTENTION = OutboxStatus.NEEDS_ATTENTION
RESOLVED = OutboxStatus.RESOLVED
STATUSES = tuple(OutboxStatus)


@dataclass(frozen=True)
class OutboxEntry:
    command_id: str
    seq: int
    stream_id: str
    command_type: str
    command: dict[str, Any]
    first_position: int
    last_position: int
    recorded_at: str
    user: str
    role: str
    status: str
    attempts: int
    last_error: str | None
    detail: dict[str, Any] | None
    result: dict[str, Any]
    in_flight: bool = False  # sent in an earlier cycle whose answer was never recorded


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(
        command_id=row.command_id,
        seq=row.seq,
        stream_id=row.stream_id,
        command_type=row.command_type,
        command=json.loads(row.command),
        first_position=row.first_position,
        last_position=row.last_position,
        recorded_at=row.recorded_at,
        user=row.user,
        role=row.role,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        detail=json.loads(row.detail) if row.detail else None,
        result=json.loads(row.result),
        in_flight=bool(row.in_flight),
    )


def record(
    conn: Connection,
    *,
    command_id: str,
    stream_id: str,
    command_type: str,
    command: dict[str, Any],
    first_position: int,
    last_position: int,
    recorded_at: str,
    user: str,
    role: str,
    result: dict[str, Any],
    status: str = PENDING,
) -> None:
    # Plain SQL: these two run for every command, and building Core statements per call cost
    # more than the SQLite work.
    seq = int(conn.exec_driver_sql(_NEXT_SEQ).scalar_one())
    conn.exec_driver_sql(
        _INSERT,
        (
            command_id,
            seq,
            stream_id,
            command_type,
            json.dumps(command, sort_keys=True),
            first_position,
            last_position,
            recorded_at,
            user,
            role,
            status,
            0,
            json.dumps(result, sort_keys=True),
        ),
    )


_NEXT_SEQ = "SELECT coalesce(max(seq), 0) + 1 FROM outbox"
_INSERT = (
    "INSERT INTO outbox (command_id, seq, stream_id, command_type, command, first_position, "
    "last_position, recorded_at, user, role, status, attempts, result) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_GET = "SELECT " + ", ".join(c.name for c in outbox.columns) + " FROM outbox WHERE command_id = ?"


def get(conn: Connection, command_id: str) -> OutboxEntry | None:
    row = conn.exec_driver_sql(_GET, (command_id,)).first()
    return None if row is None else _entry(row)


def with_status(conn: Connection, status: str, limit: int | None = None) -> list[OutboxEntry]:
    query = select(outbox).where(outbox.c.status == status).order_by(outbox.c.seq)
    if limit is not None:
        query = query.limit(limit)
    return [_entry(r) for r in conn.execute(query)]


def later_in_stream(conn: Connection, stream_id: str, seq: int) -> list[OutboxEntry]:
    """This device's commands on a stream recorded after `seq`, in order (any status)."""
    query = (
        select(outbox)
        .where(outbox.c.stream_id == stream_id, outbox.c.seq > seq)
        .order_by(outbox.c.seq)
    )
    return [_entry(r) for r in conn.execute(query)]


def counts(conn: Connection) -> dict[str, int]:
    found: dict[str, int] = dict(
        conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
    )
    return {s: int(found.get(s, 0)) for s in STATUSES}


def set_status(
    conn: Connection,
    command_id: str,
    status: str,
    *,
    error: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        text(
            "UPDATE outbox SET status = :s, last_error = :e, detail = :d, "
            "attempts = attempts + 1, in_flight = 0 WHERE command_id = :c"
        ),
        {
            "s": status,
            "e": error,
            "d": json.dumps(detail, sort_keys=True) if detail else None,
            "c": command_id,
        },
    )


def set_positions(conn: Connection, command_id: str, first: int, last: int) -> None:
    """After a rebase the command's events are the re-decided ones."""
    conn.execute(
        text("UPDATE outbox SET first_position = :f, last_position = :l WHERE command_id = :c"),
        {"f": first, "l": last, "c": command_id},
    )


def mark_in_flight(conn: Connection, command_ids: list[str]) -> None:
    """Before sending: if we crash before recording the answer, the next cycle checks the
    server first instead of writing the same thing again."""
    conn.execute(
        text("UPDATE outbox SET in_flight = 1 WHERE command_id = :c"),
        [{"c": c} for c in command_ids],
    )
