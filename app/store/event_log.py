"""The append-only event log: sealed payloads, a keyed hash chain, optimistic concurrency.

It is also the one mapper between domain events and stored ones: `NewEvent.of(event, metadata)`
on the way in, `RecordedEvent.to_domain()` on the way out; nothing else decodes payloads.

Each row's payload is AES-256-GCM sealed with associated data binding event id, stream and
version, so a payload moved to another row fails to open. Each row also carries
HMAC(previous link || row), so an edited, deleted, inserted or reordered row breaks the chain at
the first position that differs; `log_head` holds the last link, so a truncated tail shows too.

The one removal allowed is a purge (app/store/purge.py: a patient who left the device): each
removed row leaves its position and link in `purged_events`, the chain runs on through those
links, and verify accepts a missing position only if a later purge event (PURGE_EVENT, in the
chain itself, so it cannot be forged without the key) lists it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from app.domain.events import DomainEvent, from_payload
from app.i18n import _
from app.store import crypto, schema
from app.store.database import read_transaction, write_transaction
from app.store.errors import ConcurrencyError, TamperError
from app.store.recorded_order import warn_if_stepped_back

NO_STREAM = 0  # expected_version for a stream that must not exist yet
ANY_VERSION = -1  # expected_version that skips the concurrency check (clinic-wide streams)
READ_BATCH = 2000
PURGE_EVENT = "EventsPurged"  # payload: {"positions": [[first, last], ...], ...} (ids only)

# Plain SQL through Connection.exec_driver_sql: the log's statements run once or more per
# command, and building and compiling a Core statement each time cost several times the SQLite
# work. exec_driver_sql still wraps DB-API errors (IntegrityError below) the SQLAlchemy way.
_COLUMNS = (
    "position, event_id, stream_id, stream_version, type, schema_version, metadata, payload, chain"
)
_STREAM_VERSION = "SELECT max(stream_version) FROM events WHERE stream_id = ?"
_HEAD = "SELECT position, chain FROM log_head"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_MOVE_HEAD = "UPDATE log_head SET position = ?, chain = ?"
_FIRST_HEAD = "INSERT INTO log_head (id, position, chain) VALUES (1, ?, ?)"
_STREAM = f"SELECT {_COLUMNS} FROM events WHERE stream_id = ? AND stream_version > ?"
_STREAM_UP_TO = _STREAM + " AND position <= ?"
_AFTER = f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"
_LINK_AT = (
    "SELECT chain FROM events WHERE position = ?1 "
    "UNION ALL SELECT chain FROM purged_events WHERE position = ?1"
)
_LINK_CHUNK = 400  # positions per look-up (twice that many parameters)
_PURGED_BETWEEN = (
    "SELECT position, chain FROM purged_events WHERE position >= ? AND position < ? "
    "ORDER BY position"
)


@dataclass(frozen=True)
class EventMetadata:
    command_id: str
    user: str
    role: str
    device_id: str
    recorded_at: str  # ISO 8601 UTC, when the device stored it
    occurred_at: str  # ISO 8601, clinical time (may be earlier)
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. origin=server for pulled events

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "command_id": self.command_id,
            "user": self.user,
            "role": self.role,
            "device_id": self.device_id,
            "recorded_at": self.recorded_at,
            "occurred_at": self.occurred_at,
        }
        if self.extra:
            data["extra"] = dict(self.extra)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> EventMetadata:
        data = json.loads(text)
        return cls(
            command_id=data["command_id"],
            user=data["user"],
            role=data["role"],
            device_id=data["device_id"],
            recorded_at=data["recorded_at"],
            occurred_at=data["occurred_at"],
            extra=data.get("extra", {}),
        )


@dataclass(frozen=True)
class NewEvent:
    type: str
    payload: Mapping[str, Any]
    metadata: EventMetadata
    schema_version: int = 1
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def of(cls, event: DomainEvent, metadata: EventMetadata) -> NewEvent:
        """The stored form of a domain event: its type name, payload and schema version."""
        return cls(type(event).__name__, event.to_payload(), metadata, event.SCHEMA_VERSION)


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    event_id: str
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    metadata: EventMetadata
    payload: Mapping[str, Any]

    def to_domain(self) -> DomainEvent:
        """The domain event this row stores, upcast to its current schema version (raises
        UnknownEventError for a type this version of FieldChart does not know)."""
        return from_payload(self.type, self.schema_version, self.payload)


@dataclass(frozen=True)
class VerifyReport:
    events: int
    head_position: int
    purged: int = 0  # positions removed by purges (each listed by a purge event), in range


def _aad(event_id: str, stream_id: str, version: int) -> bytes:
    return f"{event_id}|{stream_id}|{version}".encode()


def _link_record(
    position: int,
    event_id: str,
    stream_id: str,
    version: int,
    type_: str,
    schema_version: int,
    metadata_json: str,
    sealed: bytes,
) -> bytes:
    # JSON gives an unambiguous encoding of the fields (no concatenation collisions).
    return json.dumps(
        [
            position,
            event_id,
            stream_id,
            version,
            type_,
            schema_version,
            metadata_json,
            sealed.hex(),
        ],
        separators=(",", ":"),
    ).encode()


class EventLog:
    """Append and read events of one unlocked vault."""

    def __init__(
        self, engine_source: Callable[[], Engine], data_key: bytes | bytearray, vault_id: str
    ) -> None:
        self._engine = engine_source
        payload_key = crypto.subkey(data_key, "payload")
        self._aead = AESGCM(bytes(payload_key))
        crypto.wipe(payload_key)
        self._chain_key = crypto.subkey(data_key, "chain")
        self._genesis = crypto.chain_mac(self._chain_key, b"", f"genesis|{vault_id}".encode())
        # Called with the rows just inserted (position first, chain link last) inside the
        # append's transaction: the session signs each event with its user's key there
        # (app/store/signatures.py EventSigner). None: unsigned (a vault not yet migrated).
        self.row_hook: Callable[[Connection, Sequence[tuple[Any, ...]]], None] | None = None

    def forget_keys(self) -> None:
        crypto.wipe(self._chain_key)
        self._aead = None  # type: ignore[assignment]

    # -- writing -------------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        conn: Connection | None = None,
    ) -> list[RecordedEvent]:
        """Append events to a stream if it is at `expected_version`; commit unless given `conn`."""
        if conn is None:
            with write_transaction(self._engine()) as own:
                return self.append(stream_id, expected_version, events, own)
        current = self.stream_version(stream_id, conn)
        if expected_version != ANY_VERSION and current != expected_version:
            raise ConcurrencyError(stream_id, expected_version, current)
        head = conn.exec_driver_sql(_HEAD).first()
        position, link = (head[0], head[1]) if head else (0, self._genesis)
        if events:  # a device clock that stepped back is said, not refused (docs/clocks.md)
            warn_if_stepped_back(conn, position, events[0].metadata.recorded_at)
        recorded: list[RecordedEvent] = []
        rows: list[tuple[Any, ...]] = []
        for offset, ev in enumerate(events, start=1):
            position += 1
            version = current + offset
            metadata_json = ev.metadata.to_json()
            plaintext = json.dumps(ev.payload, sort_keys=True, separators=(",", ":")).encode()
            nonce = os.urandom(crypto.NONCE_BYTES)
            sealed = nonce + self._aead.encrypt(
                nonce, plaintext, _aad(ev.event_id, stream_id, version)
            )
            link = crypto.chain_mac(
                self._chain_key,
                link,
                _link_record(
                    position,
                    ev.event_id,
                    stream_id,
                    version,
                    ev.type,
                    ev.schema_version,
                    metadata_json,
                    sealed,
                ),
            )
            rows.append(
                (
                    position,
                    ev.event_id,
                    stream_id,
                    version,
                    ev.type,
                    ev.schema_version,
                    metadata_json,
                    sealed,
                    link,
                )
            )
            recorded.append(
                RecordedEvent(
                    position,
                    ev.event_id,
                    stream_id,
                    version,
                    ev.type,
                    ev.schema_version,
                    ev.metadata,
                    # Exactly what a later read returns (key order, lists), so projections fed
                    # live and projections rebuilt from the log see identical input.
                    json.loads(plaintext),
                )
            )
        if not rows:
            return recorded
        try:
            conn.exec_driver_sql(_INSERT, rows[0] if len(rows) == 1 else rows)
        except IntegrityError as exc:  # a racing writer took the version first
            raise ConcurrencyError(stream_id, expected_version, current + 1) from exc
        if self.row_hook is not None:
            self.row_hook(conn, rows)
        if head:
            conn.exec_driver_sql(_MOVE_HEAD, (position, link))
        else:
            conn.exec_driver_sql(_FIRST_HEAD, (position, link))
        return recorded

    def link_at(self, conn: Connection, position: int) -> bytes | None:
        """The chain link at `position` (of an event, or left by a purged one); the genesis
        link at 0; None if nothing is there."""
        if position == 0:
            return self._genesis
        value = conn.exec_driver_sql(_LINK_AT, (position,)).scalar()
        return None if value is None else bytes(value)

    def authenticate(self, conn: Connection, stream_id: str) -> list[tuple[int, bytes]]:
        """(position, link) of every row of a stream, each checked against the link before it
        and its seal opened: what a purge keeps of rows it is about to remove (raises
        TamperError on the first that fails, so nothing altered is removed unnoticed)."""
        rows = conn.exec_driver_sql(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = ? ORDER BY position", (stream_id,)
        ).fetchall()
        before = self._links_at(conn, [row[0] - 1 for row in rows])
        kept: list[tuple[int, bytes]] = []
        for row in rows:
            previous = before.get(row[0] - 1)
            record = _link_record(*row[:8])
            if previous is None or not crypto.constant_time_equal(
                crypto.chain_mac(self._chain_key, previous, record), row[8]
            ):
                raise TamperError(
                    _("event at position {value} does not match the hash chain").format(
                        value=row[0]
                    ),
                    row[0],
                )
            self._open(row)
            kept.append((int(row[0]), bytes(row[8])))
        return kept

    def _links_at(self, conn: Connection, positions: Sequence[int]) -> dict[int, bytes]:
        """The links at these positions (events' or purged ones'), read a chunk at a time."""
        found: dict[int, bytes] = {0: self._genesis} if 0 in positions else {}
        wanted = sorted(set(positions) - {0})
        for start in range(0, len(wanted), _LINK_CHUNK):
            chunk = wanted[start : start + _LINK_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for position, chain in conn.exec_driver_sql(
                f"SELECT position, chain FROM events WHERE position IN ({marks}) UNION ALL "
                f"SELECT position, chain FROM purged_events WHERE position IN ({marks})",
                (*chunk, *chunk),
            ):
                found[int(position)] = bytes(chain)
        return found

    # -- reading -------------------------------------------------------------------------

    def stream_version(self, stream_id: str, conn: Connection | None = None) -> int:
        if conn is None:
            with read_transaction(self._engine()) as own:
                return self.stream_version(stream_id, own)
        value = conn.exec_driver_sql(_STREAM_VERSION, (stream_id,)).scalar()
        return int(value or 0)

    def head_position(self, conn: Connection | None = None) -> int:
        if conn is None:
            with read_transaction(self._engine()) as own:
                return self.head_position(own)
        value = conn.execute(select(schema.log_head.c.position)).scalar()
        return int(value or 0)

    def read_stream(
        self,
        stream_id: str,
        conn: Connection | None = None,
        up_to_position: int | None = None,
        after_version: int = 0,
    ) -> list[RecordedEvent]:
        """Events of one stream in version order, after `after_version` (and optionally only
        up to a log position)."""
        if conn is None:
            with read_transaction(self._engine()) as own:
                return self.read_stream(stream_id, own, up_to_position, after_version)
        if up_to_position is None:
            result = conn.exec_driver_sql(
                _STREAM + " ORDER BY stream_version", (stream_id, after_version)
            )
        else:
            result = conn.exec_driver_sql(
                _STREAM_UP_TO + " ORDER BY stream_version",
                (stream_id, after_version, up_to_position),
            )
        return [self._open(row) for row in result.fetchall()]

    def read_all(
        self, from_position: int = 0, conn: Connection | None = None, batch: int = READ_BATCH
    ) -> Iterator[RecordedEvent]:
        """Events after `from_position` in log order, read in batches so memory stays flat."""
        position = from_position
        while True:
            if conn is None:
                with read_transaction(self._engine()) as own:
                    rows = self._rows_after(own, position, batch)
            else:
                rows = self._rows_after(conn, position, batch)
            if not rows:
                return
            for row in rows:
                yield self._open(row)
            position = rows[-1][0]

    def _rows_after(self, conn: Connection, position: int, batch: int) -> Sequence[Any]:
        return conn.exec_driver_sql(_AFTER, (position, batch)).fetchall()

    def _open(self, row: Sequence[Any]) -> RecordedEvent:
        """A row of `_COLUMNS`, authenticated and decoded."""
        position, event_id, stream_id, version, type_, schema_version, metadata, sealed = row[:8]
        try:
            plaintext = self._aead.decrypt(
                sealed[: crypto.NONCE_BYTES],
                sealed[crypto.NONCE_BYTES :],
                _aad(event_id, stream_id, version),
            )
        except (InvalidTag, ValueError) as exc:
            raise TamperError(
                _(
                    "event at position {position} failed authentication: its "
                    "payload was altered or moved"
                ).format(position=position),
                position,
            ) from exc
        return RecordedEvent(
            position=position,
            event_id=event_id,
            stream_id=stream_id,
            stream_version=version,
            type=type_,
            schema_version=schema_version,
            metadata=EventMetadata.from_json(metadata),
            payload=json.loads(plaintext),
        )

    # -- verification --------------------------------------------------------------------

    def verify(self, from_tail: int | None = None) -> VerifyReport:
        """Check positions, chain links, payload seals and the head; raise TamperError at the
        first bad position. `from_tail=N` checks only the last N events (used at unlock). A
        purged position counts only if a purge event after it lists it."""
        engine = self._engine()
        with read_transaction(engine) as conn:
            head = conn.execute(select(schema.log_head.c.position, schema.log_head.c.chain)).first()
            head_position = int(head[0]) if head else 0
            start = 0
            link = self._genesis
            if from_tail is not None and head_position > from_tail:
                start = head_position - from_tail
                prev = self.link_at(conn, start)
                if prev is None:
                    raise TamperError(
                        _("event at position {start} is missing").format(start=start), start
                    )
                link = prev
            expected = start
            count = 0
            purged: list[int] = []
            listed: set[int] = set()
            for row in conn.execute(
                select(schema.events)
                .where(schema.events.c.position > start)
                .order_by(schema.events.c.position)
            ).yield_per(READ_BATCH):
                expected += 1
                if row.position != expected:
                    expected, link = _through_purged(conn, expected, row.position, link, purged)
                if row.position != expected:
                    raise TamperError(
                        _(
                            "event at position {expected} is missing (next found: {position})"
                        ).format(expected=expected, position=row.position),
                        expected,
                    )
                link = crypto.chain_mac(
                    self._chain_key,
                    link,
                    _link_record(
                        row.position,
                        row.event_id,
                        row.stream_id,
                        row.stream_version,
                        row.type,
                        row.schema_version,
                        row.metadata,
                        row.payload,
                    ),
                )
                if not crypto.constant_time_equal(link, row.chain):
                    raise TamperError(
                        _(
                            "event at position {position} does not match the hash chain: "
                            "it or an earlier event was edited, inserted or reordered"
                        ).format(position=row.position),
                        row.position,
                    )
                opened = self._open(row)
                if row.type == PURGE_EVENT:
                    listed.update(_purged_positions(opened.payload))
                count += 1
            if expected != head_position:
                raise TamperError(
                    _(
                        "the log ends at position {expected} but its head says "
                        "{head_position}: events were removed from the end"
                    ).format(expected=expected, head_position=head_position),
                    expected + 1,
                )
            if head is not None and not crypto.constant_time_equal(link, head[1]):
                raise TamperError(_("the log head does not match the last event"), head_position)
            unlisted = [p for p in purged if p not in listed]
            if unlisted:
                raise TamperError(
                    _(
                        "event at position {value} was removed, but no purge event "
                        "records its removal"
                    ).format(value=unlisted[0]),
                    unlisted[0],
                )
        return VerifyReport(events=count, head_position=head_position, purged=len(purged))


def _through_purged(
    conn: Connection, expected: int, found: int, link: bytes, purged: list[int]
) -> tuple[int, bytes]:
    """Walk the purged positions from `expected` up to the next event at `found` (`link`: the
    one before `expected`): returns the first position not accounted for (== found when all
    are) and the link before it."""
    for position, chain in conn.exec_driver_sql(_PURGED_BETWEEN, (expected, found)):
        if position != expected:
            break
        purged.append(position)
        link = bytes(chain)
        expected += 1
    return expected, link


def _purged_positions(payload: Mapping[str, Any]) -> Iterator[int]:
    for first, last in payload.get("positions", []):
        yield from range(int(first), int(last) + 1)
