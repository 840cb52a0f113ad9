"""Quarantine keeps one row per bad server item: seen again, it is counted (times_seen,
last_seen_at), and migration 9 folds the duplicate rows earlier versions added every cycle."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from app.store import sync_state
from app.store.database import open_engine, read_transaction, write_transaction
from app.store.migrations import MIGRATIONS, migrate


def _engine(path: Path) -> Engine:
    return open_engine(path / "vault.db", os.urandom(32))


def test_an_item_seen_again_is_counted_not_added(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    migrate(engine)
    for hour in ("08", "09", "10"):
        with write_transaction(engine) as conn:
            for n in range(3):
                sync_state.quarantine(
                    conn,
                    received_at=f"2026-12-02T{hour}:00:00+00:00",
                    resource_type="Observation",
                    resource_id=f"bad-{n}",
                    reason="status: not a code",
                    body=f'{{"id": "bad-{n}"}}',
                )
            # Another version of bad-0 (different content) is another item.
            sync_state.quarantine(
                conn,
                received_at=f"2026-12-02T{hour}:00:00+00:00",
                resource_type="Observation",
                resource_id="bad-0",
                reason="status: not a code",
                body=f'{{"id": "bad-0", "v": "{hour}"}}',
            )
    with read_transaction(engine) as conn:
        rows = sync_state.quarantined(conn, 100)
        assert sync_state.quarantined_count(conn) == 3 + 3
    seen = sorted(r["times_seen"] for r in rows)
    assert seen == [1, 1, 1, 3, 3, 3]
    assert {r["last_seen_at"] for r in rows if r["times_seen"] == 3} == {
        "2026-12-02T10:00:00+00:00"
    }
    assert {r["received_at"] for r in rows if r["times_seen"] == 3} == {"2026-12-02T08:00:00+00:00"}
    engine.dispose()


def test_migration_9_folds_the_rows_earlier_cycles_added(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    before = [m for m in MIGRATIONS if m.version < 9]
    migrate(engine, before)
    with write_transaction(engine) as conn:
        for cycle in range(4):
            for n in range(5):
                conn.exec_driver_sql(
                    "INSERT INTO quarantine (received_at, resource_type, resource_id, reason, "
                    "body_sha256, body) VALUES (?, 'Patient', ?, 'bad', ?, '{}')",
                    (f"2026-12-0{cycle + 1}T00:00:00+00:00", f"p-{n}", f"hash-{n}"),
                )
        conn.exec_driver_sql(
            "INSERT INTO quarantine (received_at, resource_type, resource_id, reason) "
            "VALUES ('2026-12-01T00:00:00+00:00', 'Patient', NULL, 'unusable page')"
        )
    migrate(engine)
    with read_transaction(engine) as conn:
        rows = conn.exec_driver_sql(
            "SELECT resource_id, times_seen, received_at, last_seen_at FROM quarantine ORDER BY id"
        ).all()
    assert [tuple(r) for r in rows] == [
        *[
            (f"p-{n}", 4, "2026-12-01T00:00:00+00:00", "2026-12-04T00:00:00+00:00")
            for n in range(5)
        ],
        (None, 1, "2026-12-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
    ]
    with write_transaction(engine) as conn:  # and later sightings find the folded row
        sync_state.quarantine(
            conn,
            received_at="2026-12-05T00:00:00+00:00",
            resource_type="Patient",
            resource_id=None,
            reason="unusable page",
            body=None,
        )
    with read_transaction(engine) as conn:
        assert sync_state.quarantined_count(conn) == 6
    engine.dispose()
