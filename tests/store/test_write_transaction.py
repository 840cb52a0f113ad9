"""write_transaction: durable by default; a non-durable one commits and leaves the connection
durable again."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from app.store.database import read_transaction, write_transaction
from app.store.vault import Vault

FULL, NORMAL = 2, 1


def _synchronous(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())


def test_a_write_transaction_waits_for_the_disk(vault: Vault) -> None:
    with write_transaction(vault.engine) as conn:
        assert _synchronous(conn) == FULL


def test_a_non_durable_one_commits_and_hands_back_a_durable_connection(vault: Vault) -> None:
    with write_transaction(vault.engine, durable=False) as conn:
        assert _synchronous(conn) == NORMAL
        conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO scratch VALUES (7)")
    with read_transaction(vault.engine) as conn:
        assert conn.exec_driver_sql("SELECT x FROM scratch").scalar_one() == 7
    # The pool hands the same connection out again: it must be durable.
    for _ in range(3):
        with write_transaction(vault.engine) as conn:
            assert _synchronous(conn) == FULL


def test_a_failed_non_durable_one_rolls_back_and_is_durable_again(vault: Vault) -> None:
    with pytest.raises(RuntimeError), write_transaction(vault.engine, durable=False) as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
        raise RuntimeError("boom")
    with read_transaction(vault.engine) as conn:
        tables = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'scratch'")
        assert tables.first() is None
    with write_transaction(vault.engine) as conn:
        assert _synchronous(conn) == FULL
