"""Small builders shared by the store and command-line tests.

Nothing here touches app internals beyond the public store API and, for tamper tests, raw SQL
through ``vault.engine`` (the SQLCipher connection an unlocked vault already holds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from app.store.event_log import EventMetadata, NewEvent, RecordedEvent
from app.store.vault import Vault
from tests.clock import suite_now

ADMIN = "admin"
PASSPHRASE = "correct horse battery staple"


def metadata(user: str = ADMIN, role: str = "admin", **extra: str) -> EventMetadata:
    now = suite_now().isoformat(timespec="milliseconds")
    return EventMetadata(
        command_id="cmd-1",
        user=user,
        role=role,
        device_id="device-test",
        recorded_at=now,
        occurred_at=now,
        extra=extra,
    )


def new_event(type_: str = "NoteWritten", **payload: Any) -> NewEvent:
    return NewEvent(type_, payload, metadata())


def append_one(vault: Vault, stream: str, payload: Mapping[str, Any]) -> RecordedEvent:
    """Append one event at the stream's current version."""
    version = vault.events.stream_version(stream)
    return vault.events.append(stream, version, [NewEvent("NoteWritten", payload, metadata())])[0]


def seed_events(
    vault: Vault, count: int, streams: Iterable[str] = ("patient-a", "patient-b")
) -> list[RecordedEvent]:
    """Append `count` events round-robin over `streams`; returns them in log order."""
    names = list(streams)
    return [append_one(vault, names[i % len(names)], {"n": i}) for i in range(count)]


def tamper(vault: Vault, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Edit the events table the way an attacker holding the database key could: drop the
    immutability triggers, then run raw SQL."""
    with vault.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_delete")
        conn.exec_driver_sql(sql, params)


def raw_events(vault: Vault) -> list[tuple[Any, ...]]:
    """Every stored column of every event row, exactly as in the file."""
    with vault.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM events ORDER BY position")]


def file_digests(directory: Path) -> dict[str, str]:
    """sha256 of every file under `directory`, keyed by relative path."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
