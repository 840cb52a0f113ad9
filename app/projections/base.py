"""What every projection shares: one MetaData for the read-model tables and the handler shape.

Read models are disposable: they are rebuilt from the event log whenever their schema version
changes, and each handler is a pure function of the event (no clock), so a rebuild gives
byte-identical tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Executable, MetaData, Result, Table, func

from app.domain.events import DomainEvent, field_names, patient_of_stream
from app.store.database import dbapi_of
from app.store.event_log import RecordedEvent

metadata = MetaData()

# Index.info of an index only queries use (never a handler's lookup, never a uniqueness rule):
# a rebuild creates these after loading the rows, one sort each instead of a B-tree insert per
# row. Handlers' lookups (by item id, ...) and unique indexes must exist while rows load.
READ_ONLY = {"read_only": True}


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
    queue goes out as one `executemany`, in the order queued. Any other statement on a
    table (`execute`, `first`: select, update, delete) first sends that table's queue, so it
    sees every row queued before it. A handler that changes one row by its key can instead ask
    `queued` for the row still waiting (and change the dict), or, when it is not waiting, use
    `sent_first`/`sent_execute`, which leave the queue alone: that row was sent already.
    Read-model tables are independent (no foreign keys or triggers between them), so one
    table's inserts may go out after statements on another. `flush()` sends what is left; the
    runner calls it before saving the checkpoint, in the same transaction.

    Statements are plain SQL on the connection's DB-API cursor: compiling a SQLAlchemy Core
    statement per event cost ~50-70 us, several times the SQLite work itself.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._cursor = dbapi_of(conn).cursor()
        self._queues: dict[str, _Queue] = {}

    def insert(self, table: Table, row: dict[str, Any], key: Any = None) -> None:
        """Queue a row; with `key` (its primary key value) `queued` can find it again."""
        queue = self._queues.get(table.name)
        if queue is None:
            queue = self._queues[table.name] = _Queue(table)
        queue.rows.append(row)
        if key is not None:
            queue.by_key[key] = row

    def insert_many(self, table: Table, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.insert(table, row)

    def queued(self, table: Table, key: Any) -> dict[str, Any] | None:
        """The row inserted with this key that is still waiting to be sent, if any."""
        queue = self._queues.get(table.name)
        return None if queue is None else queue.by_key.get(key)

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
        return self.sent_first(table, sql, params)

    def sent_first(
        self, table: Table, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> tuple[Any, ...] | None:
        """The first row of a query about rows already sent (the caller checked `queued`)."""
        row: tuple[Any, ...] | None = self._cursor.execute(sql, params).fetchone()
        return row

    def sent_execute(
        self, table: Table, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> None:
        """A statement about rows already sent (the caller checked `queued`)."""
        self._cursor.execute(sql, params)

    def statement(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> Result[Any]:
        """A SQLAlchemy Core statement, after every queued insert: the general (slower) way,
        for rare events."""
        self.flush()
        return self.conn.execute(stmt, params)

    def flush(self) -> None:
        for name in list(self._queues):
            self._send(name)

    def _send(self, name: str) -> None:
        queue = self._queues.pop(name, None)
        if queue is None:
            return
        rows = queue.rows
        if len(rows) == 1:
            self._cursor.execute(queue.sql, rows[0])
        else:
            # In queue order: a rowid table's rowids follow it, and queries that order by a
            # column with ties (the schedule by start time) return ties in rowid order, which
            # must be the same whether the rows came one command at a time or in a rebuild.
            self._cursor.executemany(queue.sql, rows)


class _Queue:
    __slots__ = ("by_key", "rows", "sql")

    def __init__(self, table: Table) -> None:
        sql = _INSERTS.get(table.name)
        if sql is None:
            sql = _INSERTS[table.name] = insert_sql(table)
        self.sql = sql
        self.rows: list[dict[str, Any]] = []
        self.by_key: dict[Any, dict[str, Any]] = {}


_INSERTS: dict[str, str] = {}


def register_inserts() -> None:
    """Prepare the INSERT text of every read-model table (after all of them are defined)."""
    for table in metadata.sorted_tables:
        _INSERTS[table.name] = insert_sql(table)


Handler = Callable[[DomainEvent, Writes, RecordedEvent], None]


def fields_of(event: DomainEvent) -> dict[str, Any]:
    """event.to_payload() without its deep copy: the same keys and values (events hold only
    JSON values, never nested dataclasses), for handlers that only read or serialise them."""
    return {name: getattr(event, name) for name in field_names(type(event))}


def patient_of(record: RecordedEvent) -> str | None:
    """The patient whose stream `record` is on; None for other streams."""
    return patient_of_stream(record.stream_id)


def in_time_order(column: ColumnElement[str]) -> ColumnElement[str]:
    """Sort key for ISO 8601 instants written with any UTC offset.

    Plain string order puts 10:00+03:00 (07:00 UTC) after 08:00+00:00; SQLite's strftime
    normalises to UTC (milliseconds kept), falling back to the text if it cannot parse it."""
    return func.coalesce(func.strftime(_SORTABLE_INSTANT, column), column)


def in_time_order_sql(column: str) -> str:
    """in_time_order as SQL text, for queries run on the DB-API cursor."""
    return f"coalesce(strftime('{_SORTABLE_INSTANT}', {column}), {column})"


_SORTABLE_INSTANT = "%Y-%m-%d %H:%M:%f"  # UTC, milliseconds kept


def compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
