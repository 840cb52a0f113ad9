"""What every projection shares: one MetaData for the read-model tables and the handler shape.

Read models are disposable: they are rebuilt from the event log whenever their schema version
changes, and each handler is a pure function of the event (no clock), so a rebuild gives
byte-identical tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Executable, MetaData, Result, Table, func

from app.domain.events import DomainEvent
from app.store.event_log import RecordedEvent

metadata = MetaData()


def insert_sql(table: Table) -> str:
    """INSERT of every column of `table`, with named parameters (one per column)."""
    names = [c.name for c in table.columns]
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"VALUES ({', '.join(':' + n for n in names)})"
    )


class Writes:
    """The read-model writes of one catch-up, rebuild batch or replay, sent as few DB-API calls
    as the order of events allows.

    Handlers queue inserts with `insert` (a dict with every column of the table); each table's
    queue goes out as one `executemany`. Any other statement on a table (`execute`, `first`:
    select, update, delete) first sends that table's queue, so it sees every row queued
    before it. Read-model tables are independent (no foreign keys or triggers between them), so
    one table's inserts may go out after statements on another. `flush()` sends what is left;
    the runner calls it before saving the checkpoint, in the same transaction.

    Statements are plain SQL on the connection's DB-API cursor: compiling a SQLAlchemy Core
    statement per event cost ~50-70 us, several times the SQLite work itself.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        self._cursor = dbapi.cursor()
        self._queues: dict[str, tuple[str, list[Mapping[str, Any]]]] = {}

    def insert(self, table: Table, row: Mapping[str, Any]) -> None:
        queued = self._queues.get(table.name)
        if queued is None:
            sql = _INSERTS.get(table.name) or _INSERTS.setdefault(table.name, insert_sql(table))
            queued = self._queues[table.name] = (sql, [])
        queued[1].append(row)

    def insert_many(self, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.insert(table, row)

    def execute(
        self, table: Table, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> None:
        """Run one statement on `table` after its queued inserts."""
        self._send(table.name)
        self._cursor.execute(sql, params)

    def first(
        self, table: Table, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> tuple[Any, ...] | None:
        """The first row of a query on `table`, after its queued inserts."""
        self._send(table.name)
        row: tuple[Any, ...] | None = self._cursor.execute(sql, params).fetchone()
        return row

    def statement(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> Result[Any]:
        """A SQLAlchemy Core statement, after every queued insert: the general (slower) way,
        for rare events."""
        self.flush()
        return self.conn.execute(stmt, params)

    def flush(self) -> None:
        for name in list(self._queues):
            self._send(name)

    def _send(self, name: str) -> None:
        queued = self._queues.pop(name, None)
        if queued is not None:
            sql, rows = queued
            if len(rows) == 1:
                self._cursor.execute(sql, rows[0])
            else:
                self._cursor.executemany(sql, rows)


_INSERTS: dict[str, str] = {}


def register_inserts() -> None:
    """Prepare the INSERT text of every read-model table (after all of them are defined)."""
    for table in metadata.sorted_tables:
        _INSERTS[table.name] = insert_sql(table)


Handler = Callable[[DomainEvent, Writes, RecordedEvent], None]


def fields_of(event: DomainEvent) -> dict[str, Any]:
    """event.to_payload() without its deep copy: the same keys and values (events hold only
    JSON values, never nested dataclasses), for handlers that only read or serialise them."""
    return {name: getattr(event, name) for name in _field_names(type(event))}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        import dataclasses

        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def patient_of(record: RecordedEvent) -> str | None:
    prefix = "patient-"
    return record.stream_id[len(prefix) :] if record.stream_id.startswith(prefix) else None


def in_time_order(column: ColumnElement[str]) -> ColumnElement[str]:
    """Sort key for ISO 8601 instants written with any UTC offset.

    Plain string order puts 10:00+03:00 (07:00 UTC) after 08:00+00:00; SQLite's strftime
    normalises to UTC (milliseconds kept), falling back to the text if it cannot parse it."""
    return func.coalesce(func.strftime("%Y-%m-%d %H:%M:%f", column), column)


def compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
