"""Opening the SQLCipher file through SQLAlchemy, with the pragmas every connection needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import QueuePool

from app.store.errors import NotAVaultError, SqlCipherUnavailableError

WRITE_OPTION = "fieldchart_write"


def _check_driver() -> None:
    try:
        import sqlcipher3  # noqa: F401
    except ImportError as exc:  # no silent fallback to plain SQLite
        raise SqlCipherUnavailableError(
            "SQLCipher (the sqlcipher3 package) cannot be loaded, so the encrypted vault "
            "cannot be opened; reinstall FieldChart"
        ) from exc


def open_engine(path: Path, data_key: bytes | bytearray) -> Engine:
    """An engine whose every connection is keyed with the raw data key and tuned for safety."""
    _check_driver()
    url = URL.create(
        "sqlite+pysqlcipher",
        # SQLCipher reads x'<64 hex>' as a raw 256-bit key: no per-connection KDF.
        password=f"x'{bytes(data_key).hex()}'",
        database=str(path),
    )
    # QueuePool, not the dialect's SingletonThreadPool: the latter closes other threads'
    # connections once more than five threads have used the engine.
    engine = create_engine(url, poolclass=QueuePool, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below) so writers can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # SQLCipher would print its own errors to stderr; ours are the plain messages.
        cur.execute("PRAGMA cipher_log_level = NONE")
        cur.execute("PRAGMA busy_timeout = 10000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA temp_store = MEMORY")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock at BEGIN so two writers never deadlock on upgrade.
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def check_readable(engine: Engine, path: Path) -> None:
    """Fail with a specific message if the key is wrong or the file is not a database."""
    try:
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one()
            result = conn.exec_driver_sql("PRAGMA quick_check").scalar_one()
    except (DatabaseError, OperationalError) as exc:
        raise NotAVaultError(
            f"{path.name} cannot be opened with this vault's key: it is not a FieldChart vault, "
            "or it is truncated or corrupted"
        ) from exc
    if not tables:
        raise NotAVaultError(f"{path.name} is empty: it is not a FieldChart vault")
    if result != "ok":
        raise NotAVaultError(f"{path.name} failed SQLite's integrity check: {result}")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One durable write transaction (BEGIN IMMEDIATE ... COMMIT with synchronous=FULL)."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A consistent read snapshot."""
    with engine.connect() as conn, conn.begin():
        yield conn


# What services hold while they work inside one transaction; SQL itself stays in the store
# and projection modules.
Transaction = Connection
