"""What every projection shares: one MetaData for the read-model tables and the handler shape.

Read models are disposable: they are rebuilt from the event log whenever their schema version
changes, and each handler is a pure function of the event (no clock), so a rebuild gives
byte-identical tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, MetaData, Table, func

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


EMPTY: Mapping[str, Any] = {}


class Writes:
    """The read-model writes of one catch-up, rebuild batch or replay, sent as few DB-API calls
    as the order of events allows.

    Handlers say what changes: `insert` (a dict with every column of the table; with `key`,
    its primary key value, `modify` can find it while it waits), `update`, `delete`,
    `replace`, `upsert` and `modify` rows by column values, and `get` reads one. Inserts are
    queued, and each table's queue goes out as one `executemany`, in the order queued; any
    other statement on a table first sends that table's queue, so it sees every row queued
    before it. `modify` changes a row still waiting in the queue in place, and reads and
    updates one already sent without sending the queue. Read-model tables are independent (no
    foreign keys or triggers between them), so one table's inserts may go out after
    statements on another. `flush()` sends what is left; the runner calls it before saving the
    checkpoint, in the same transaction.

    Statements are plain SQL on the connection's DB-API cursor, their text built once per
    shape: compiling a SQLAlchemy Core statement per event cost ~50-70 us, several times the
    SQLite work itself. `execute`, `first`, `sent_first` and `sent_execute` are what the
    helpers send through (one place to stub them out, as the bench does).
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._cursor = dbapi_of(conn).cursor()
        self._queues: dict[str, _Queue] = {}

    def insert(self, table: Table, row: dict[str, Any], key: Any = None) -> None:
        """Queue a row; with `key` (its primary key value) `modify` can find it there."""
        queue = self._queues.get(table.name)
        if queue is None:
            queue = self._queues[table.name] = _Queue(table)
        queue.rows.append(row)
        if key is None:
            queue.unkeyed = True
        else:
            queue.by_key[key] = row

    def insert_many(self, table: Table, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.insert(table, row)

    def update(
        self,
        table: Table,
        where: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        unless: Mapping[str, Any] = EMPTY,
    ) -> None:
        """Set `values` on the rows whose columns equal `where` (and differ from `unless`)."""
        if values:
            sql = _statement(table, "UPDATE", tuple(values), tuple(where), tuple(unless))
            self.execute(table, sql, (*values.values(), *where.values(), *unless.values()))

    def delete(self, table: Table, where: Mapping[str, Any]) -> None:
        """Delete the rows whose columns equal `where`."""
        self.execute(table, _statement(table, "DELETE", (), tuple(where)), tuple(where.values()))

    def replace(
        self, table: Table, where: Mapping[str, Any], rows: Iterable[dict[str, Any]]
    ) -> None:
        """Delete the rows whose columns equal `where` and queue `rows` in their place."""
        self.delete(table, where)
        self.insert_many(table, rows)

    def get(
        self, table: Table, where: Mapping[str, Any], columns: Sequence[str]
    ) -> tuple[Any, ...] | None:
        """`columns` of the first row whose columns equal `where`, if there is one."""
        sql = _statement(table, "SELECT", tuple(columns), tuple(where))
        return self.first(table, sql, tuple(where.values()))

    def upsert(
        self,
        table: Table,
        key: Mapping[str, Any],
        values: Mapping[str, Any],
        new: Mapping[str, Any] = EMPTY,
    ) -> None:
        """Set `values` on the row with this primary key, or, when there is none, insert it
        with its key, `values` and `new` (the columns only a new row gets)."""
        if self.get(table, key, tuple(key)) is None:
            only = next(iter(key.values())) if len(key) == 1 else None
            self.insert(table, {**key, **values, **new}, key=only)
        else:
            self.update(table, key, values)

    def modify(
        self,
        table: Table,
        key_column: str,
        key: Any,
        read: Sequence[str],
        change: Callable[..., Mapping[str, Any]],
    ) -> None:
        """Change the row whose `key_column` is `key`: `change(*its read columns)` gives the
        columns to set. No such row, no change. A row inserted with this `key` and still
        queued is changed in place; one already sent is read and updated without sending the
        table's queue (unless rows inserted without a key wait there)."""
        queue = self._queues.get(table.name)
        row = None if queue is None else queue.by_key.get(key)
        if row is not None:
            row.update(change(*(row[column] for column in read)))
            return
        find = _statement(table, "SELECT", tuple(read), (key_column,))
        if queue is not None and queue.unkeyed:  # the row may wait there unnamed: send it
            found = self.first(table, find, (key,))
        else:
            found = self.sent_first(table, find, (key,))
        if found is None:
            return
        values = change(*found)
        if values:
            sql = _statement(table, "UPDATE", tuple(values), (key_column,))
            self.sent_execute(table, sql, (*values.values(), key))

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
        """The first row of a query about rows already sent (none of them is queued)."""
        row: tuple[Any, ...] | None = self._cursor.execute(sql, params).fetchone()
        return row

    def sent_execute(
        self, table: Table, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> None:
        """A statement about rows already sent (none of them is queued)."""
        self._cursor.execute(sql, params)

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
    __slots__ = ("by_key", "rows", "sql", "unkeyed")

    def __init__(self, table: Table) -> None:
        sql = _INSERTS.get(table.name)
        if sql is None:
            sql = _INSERTS[table.name] = insert_sql(table)
        self.sql = sql
        self.rows: list[dict[str, Any]] = []
        self.by_key: dict[Any, dict[str, Any]] = {}
        self.unkeyed = False  # a row inserted without a key waits here


# (table, verb, columns, where, unless) -> SQL text with ? parameters in that order
_STATEMENTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], str] = {}


def _statement(
    table: Table,
    verb: str,
    columns: tuple[str, ...],
    where: tuple[str, ...],
    unless: tuple[str, ...] = (),
) -> str:
    """The SQL of an UPDATE (SET columns), DELETE or SELECT (of columns) of `table`'s rows
    whose `where` columns equal and `unless` columns differ from the values given."""
    shape = (table.name, verb, columns, where, unless)
    sql = _STATEMENTS.get(shape)
    if sql is not None:
        return sql
    unknown = [c for c in (*columns, *where, *unless) if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {unknown[0]!r}")
    if not where:
        raise ValueError(f"{verb} of {table.name} without a condition")
    condition = " AND ".join([f"{c} = ?" for c in where] + [f"{c} != ?" for c in unless])
    if verb == "UPDATE":
        sql = f"UPDATE {table.name} SET {', '.join(f'{c} = ?' for c in columns)}"
    elif verb == "DELETE":
        sql = f"DELETE FROM {table.name}"
    else:
        sql = f"SELECT {', '.join(columns)} FROM {table.name}"
    sql = _STATEMENTS[shape] = f"{sql} WHERE {condition}"
    return sql


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
