"""What sync remembers between cycles, inside the encrypted vault.

- remote_resources: the latest server copy of every resource we wrote or pulled (the base that
  updates start from, and the version for If-Match), kept under our id, with the id the
  server knows it by (the id map: the same id unless the server assigned its own);
- pull_marks: the inclusive `_lastUpdated` watermark per resource type;
- quarantine: server content that could not be used, kept for IT to inspect;
- sync_journal: small facts (last success, last error, audit push position).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class RemoteCopy:
    resource_type: str
    resource_id: str
    version_id: str
    patient_id: str | None
    body: dict[str, Any]
    server_id: str


# Plain SQL through exec_driver_sql for the statements a pull or push runs per resource.
_REMOTE = (
    "SELECT version_id, patient_id, body, server_id FROM remote_resources "
    "WHERE resource_type = ? AND resource_id = ?"
)
_SERVER_ID = "SELECT server_id FROM remote_resources WHERE resource_type = ? AND resource_id = ?"
_LOCAL_ID = "SELECT resource_id FROM remote_resources WHERE resource_type = ? AND server_id = ?"
_KNOWN = "SELECT version_id FROM remote_resources WHERE resource_type = ? AND resource_id = ?"
_SAVE = (
    "INSERT INTO remote_resources "
    "(resource_type, resource_id, version_id, patient_id, last_updated, body, server_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
    "ON CONFLICT (resource_type, resource_id) DO UPDATE SET version_id = ?3, "
    "patient_id = ?4, last_updated = ?5, body = ?6, server_id = ?7"
)


def remote(conn: Connection, resource_type: str, resource_id: str) -> RemoteCopy | None:
    row = conn.exec_driver_sql(_REMOTE, (resource_type, resource_id)).first()
    if row is None:
        return None
    return RemoteCopy(resource_type, resource_id, row[0], row[1], json.loads(row[2]), row[3])


def server_id(conn: Connection, resource_type: str, resource_id: str) -> str | None:
    """The id the server knows our resource by, or None if the server has not got it."""
    value = conn.exec_driver_sql(_SERVER_ID, (resource_type, resource_id)).scalar()
    return None if value is None else str(value)


def local_id(conn: Connection, resource_type: str, server_resource_id: str) -> str | None:
    """Our id of the resource the server knows by `server_resource_id`, if we have it."""
    value = conn.exec_driver_sql(_LOCAL_ID, (resource_type, server_resource_id)).scalar()
    return None if value is None else str(value)


def known_version(conn: Connection, resource_type: str, resource_id: str) -> str | None:
    value = conn.exec_driver_sql(_KNOWN, (resource_type, resource_id)).scalar()
    return None if value is None else str(value)


def save_remote(
    conn: Connection,
    resource: dict[str, Any],
    patient_id: str | None,
    server_resource_id: str | None = None,
) -> None:
    """Keep the server's copy of a resource (under our id; `server_resource_id` is the id the
    server gave it, when not the same)."""
    meta = resource.get("meta") or {}
    if server_resource_id is not None and server_resource_id != resource["id"]:
        # A server id once given to another of our resources (a server that reuses ids)
        # now names this one. (Where the server took our ids, an id names one resource.)
        conn.exec_driver_sql(
            "DELETE FROM remote_resources WHERE resource_type = ? AND server_id = ? "
            "AND resource_id != ?",
            (resource["resourceType"], server_resource_id, resource["id"]),
        )
    conn.exec_driver_sql(
        _SAVE,
        (
            resource["resourceType"],
            resource["id"],
            str(meta.get("versionId")),
            patient_id,
            meta.get("lastUpdated"),
            json.dumps(resource, sort_keys=True),
            server_resource_id or resource["id"],
        ),
    )


def watermark(conn: Connection, resource_type: str) -> str | None:
    return conn.execute(
        text("SELECT watermark FROM pull_marks WHERE resource_type = :t"), {"t": resource_type}
    ).scalar()


def set_watermark(conn: Connection, resource_type: str, value: str) -> None:
    conn.execute(
        text(
            "INSERT INTO pull_marks VALUES (:t, :w) "
            "ON CONFLICT (resource_type) DO UPDATE SET watermark = :w"
        ),
        {"t": resource_type, "w": value},
    )


def quarantine_key(
    resource_type: str | None, resource_id: str | None, body_sha256: str | None, reason: str
) -> bytes:
    """What makes two quarantined items the same: the resource, its exact content (its version
    is inside it) and why it was refused. The same bad entry pulled again every cycle is one
    row seen many times, not a new row each time."""
    parts = json.dumps([resource_type, resource_id, body_sha256, reason])
    return hashlib.sha256(parts.encode("utf-8", "replace")).digest()  # 32 bytes, not 64 hex


_QUARANTINE = (
    "INSERT INTO quarantine (received_at, resource_type, resource_id, reason, body_sha256, "
    "body, entry_key, times_seen, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?1) "
    "ON CONFLICT (entry_key) DO UPDATE SET times_seen = times_seen + 1, last_seen_at = ?1"
)


def quarantine(
    conn: Connection,
    *,
    received_at: str,
    resource_type: str | None,
    resource_id: str | None,
    reason: str,
    body: str | bytes | None,
) -> None:
    """Keep a server item that could not be used; one already kept is counted again instead
    (times_seen, last_seen_at)."""
    raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
    digest = hashlib.sha256(raw).hexdigest() if raw is not None else None
    conn.exec_driver_sql(
        _QUARANTINE,
        (
            received_at,
            resource_type,
            resource_id,
            reason,
            digest,
            raw.decode("utf-8", "replace")[:1_000_000] if raw is not None else None,
            quarantine_key(resource_type, resource_id, digest, reason),
        ),
    )


def quarantined(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The most recently seen quarantined items, newest first (a sort, not an index: an index
    on last_seen_at would be rewritten by every sighting of every item)."""
    rows = conn.execute(
        text(
            "SELECT id, received_at, resource_type, resource_id, reason, body_sha256, "
            "times_seen, last_seen_at FROM quarantine ORDER BY last_seen_at DESC, id DESC "
            "LIMIT :n"
        ),
        {"n": limit},
    )
    return [dict(r._mapping) for r in rows]


def quarantined_count(conn: Connection) -> int:
    """How many distinct items are in quarantine (all of them, not a page)."""
    return int(conn.exec_driver_sql("SELECT count(*) FROM quarantine").scalar() or 0)


def journal(conn: Connection, key: str) -> Any:
    value = conn.execute(text("SELECT value FROM sync_journal WHERE key = :k"), {"k": key}).scalar()
    return None if value is None else json.loads(value)


def set_journal(conn: Connection, key: str, value: Any) -> None:
    conn.execute(
        text("INSERT INTO sync_journal VALUES (:k, :v) ON CONFLICT (key) DO UPDATE SET value = :v"),
        {"k": key, "v": json.dumps(value)},
    )


# -- held server changes (needs attention) ---------------------------------------------------
# A server version that would change who a patient is, or move an item between patients, is
# kept here for a person instead of being applied (sync/held_changes.py). One entry per
# resource, under "held:<type>/<our id>" in sync_journal: a newer server version replaces it.

HELD_PREFIX = "held:"


def held_key(resource_type: str, resource_id: str) -> str:
    return f"{HELD_PREFIX}{resource_type}/{resource_id}"


def hold_change(conn: Connection, hold_id: str, value: dict[str, Any]) -> None:
    if not hold_id.startswith(HELD_PREFIX):
        raise ValueError("not a held-change id")
    set_journal(conn, hold_id, value)


def held_change(conn: Connection, hold_id: str) -> dict[str, Any] | None:
    if not hold_id.startswith(HELD_PREFIX):
        return None
    value = journal(conn, hold_id)
    return value if isinstance(value, dict) else None


def held_changes(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        text("SELECT value FROM sync_journal WHERE key >= :a AND key < :b ORDER BY key"),
        {"a": HELD_PREFIX, "b": HELD_PREFIX[:-1] + chr(ord(HELD_PREFIX[-1]) + 1)},
    )
    return [v for v in (json.loads(r[0]) for r in rows) if isinstance(v, dict)]


def held_count(conn: Connection) -> int:
    value = conn.execute(
        text("SELECT count(*) FROM sync_journal WHERE key >= :a AND key < :b"),
        {"a": HELD_PREFIX, "b": HELD_PREFIX[:-1] + chr(ord(HELD_PREFIX[-1]) + 1)},
    ).scalar()
    return int(value or 0)


def release_change(conn: Connection, hold_id: str) -> None:
    if hold_id.startswith(HELD_PREFIX):
        conn.execute(text("DELETE FROM sync_journal WHERE key = :k"), {"k": hold_id})


def fold_quarantine_duplicates(conn: Connection) -> None:
    """Migration 9: give quarantine its entry key, count and last-seen time, and fold the rows
    earlier versions added again every cycle into the first of each (counted)."""
    for statement in (
        "ALTER TABLE quarantine ADD COLUMN entry_key BLOB",
        "ALTER TABLE quarantine ADD COLUMN times_seen INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE quarantine ADD COLUMN last_seen_at TEXT",
    ):
        conn.exec_driver_sql(statement)
    rows = conn.exec_driver_sql(
        "SELECT id, received_at, resource_type, resource_id, body_sha256, reason "
        "FROM quarantine ORDER BY id"
    ).all()
    kept: dict[bytes, list[Any]] = {}  # entry key -> [id, times seen, last seen]
    extra: list[tuple[int]] = []
    for row_id, received_at, resource_type, resource_id, digest, reason in rows:
        key = quarantine_key(resource_type, resource_id, digest, reason)
        first = kept.get(key)
        if first is None:
            kept[key] = [row_id, 1, received_at]
        else:
            first[1] += 1
            first[2] = max(first[2], received_at)
            extra.append((row_id,))
    if extra:
        conn.exec_driver_sql("DELETE FROM quarantine WHERE id = ?", extra)
    if kept:
        conn.exec_driver_sql(
            "UPDATE quarantine SET entry_key = ?, times_seen = ?, last_seen_at = ? WHERE id = ?",
            [(key, seen, last, row_id) for key, (row_id, seen, last) in kept.items()],
        )
    conn.exec_driver_sql("CREATE UNIQUE INDEX ix_quarantine_entry ON quarantine (entry_key)")
