"""The projection writer's helpers: what a handler states (insert, update, delete, replace,
upsert, modify by key) is what the table holds after a flush, whether the row it changes is
still queued or already sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, create_engine
from sqlalchemy.pool import StaticPool

from app.projections.base import Writes

probe = Table(
    "writes_probe",
    MetaData(),
    Column("id", String, primary_key=True),
    Column("owner", String, nullable=False),
    Column("status", String, nullable=False),
    Column("count", Integer, nullable=False),
)


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    with engine.begin() as connection:
        probe.metadata.create_all(connection)
        yield connection
    engine.dispose()


def rows(conn: Connection) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(probe.select().order_by(probe.c.id))]


def row(key: str, owner: str = "p-1", status: str = "booked", count: int = 0) -> dict[str, Any]:
    return {"id": key, "owner": owner, "status": status, "count": count}


def bump(status: str, count: int) -> dict[str, Any]:
    return {"status": f"{status}+", "count": count + 1}


def test_modify_changes_a_queued_row_in_place_and_a_sent_row_by_its_key(
    conn: Connection,
) -> None:
    w = Writes(conn)
    w.insert(probe, row("a"), key="a")
    w.modify(probe, "id", "a", ("status", "count"), bump)
    assert rows(conn) == []  # still queued: changed there, nothing sent yet
    w.flush()
    assert rows(conn) == [("a", "p-1", "booked+", 1)]
    w.modify(probe, "id", "a", ("status", "count"), bump)
    w.modify(probe, "id", "missing", ("status", "count"), bump)  # no row, no change
    w.flush()
    assert rows(conn) == [("a", "p-1", "booked++", 2)]


def test_modify_sends_rows_queued_without_a_key_first(conn: Connection) -> None:
    w = Writes(conn)
    w.insert(probe, row("a"))  # no key: modify cannot find it in the queue
    w.modify(probe, "id", "a", ("status", "count"), bump)
    w.flush()
    assert rows(conn) == [("a", "p-1", "booked+", 1)]


def test_upsert_inserts_once_then_updates_keeping_what_only_a_new_row_gets(
    conn: Connection,
) -> None:
    w = Writes(conn)
    w.upsert(probe, {"id": "a"}, {"status": "booked", "count": 1}, {"owner": "p-1"})
    w.upsert(probe, {"id": "a"}, {"status": "noshow", "count": 2}, {"owner": "p-2"})
    w.flush()
    assert rows(conn) == [("a", "p-1", "noshow", 2)]


def test_update_delete_and_replace_match_columns_and_see_queued_rows(conn: Connection) -> None:
    w = Writes(conn)
    w.insert_many(probe, [row("a"), row("b", status="entered-in-error"), row("c", owner="p-2")])
    w.update(
        probe, {"owner": "p-1"}, {"status": "fulfilled"}, unless={"status": "entered-in-error"}
    )
    w.delete(probe, {"id": "c"})
    w.replace(probe, {"owner": "p-1"}, [row("d", count=4)])
    w.insert(probe, row("e", owner="p-3"))
    w.flush()
    assert rows(conn) == [("d", "p-1", "booked", 4), ("e", "p-3", "booked", 0)]
    w.insert(probe, row("f", owner="p-3", status="entered-in-error"))
    w.update(probe, {"owner": "p-3"}, {"status": "noshow"}, unless={"status": "entered-in-error"})
    assert w.get(probe, {"id": "e"}, ("status", "count")) == ("noshow", 0)
    assert w.get(probe, {"id": "f"}, ("status",)) == ("entered-in-error",)
    assert w.get(probe, {"id": "zz"}, ("status",)) is None


def test_a_column_the_table_lacks_is_refused(conn: Connection) -> None:
    w = Writes(conn)
    with pytest.raises(ValueError, match="writes_probe has no column 'colour'"):
        w.update(probe, {"id": "a"}, {"colour": "red"})
