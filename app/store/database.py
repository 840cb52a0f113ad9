"""Opening the SQLCipher file through SQLAlchemy, with the pragmas every connection needs."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import QueuePool

from app.i18n import _
from app.store.errors import NotAVaultError, SqlCipherUnavailableError
from app.store.storage_errors import storage_failure

WRITE_OPTION = "fieldchart_write"
PAGE_CACHE_KIB = 16 * 1024


def _check_driver() -> None:
    try:
        import sqlcipher3  # noqa: F401
    except ImportError as exc:  # no silent fallback to plain SQLite
        raise SqlCipherUnavailableError(
            _(
                "SQLCipher (the sqlcipher3 package) cannot be loaded, so the encrypted vault "
                "cannot be opened; reinstall FieldChart"
            )
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
        # 16 MB of decrypted pages per connection instead of SQLCipher's 2 MB: a 1,300-event
        # chart is ~180 pages, and a clinic day moves between dozens of charts; every page
        # that falls out is read, decrypted and authenticated again (chart open p50 -13 %).
        cur.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
        cur.execute("PRAGMA foreign_keys = ON")
        # Checkpoints run on WalCheckpointer's thread, not inside a command's commit; SQLite's
        # own (in the commit that crosses the limit) stays as a backstop at a higher mark.
        cur.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
        # A WAL that a rebuild grew to hundreds of MB is cut back when it restarts.
        cur.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock at BEGIN so two writers never deadlock on upgrade.
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    checkpointer = WalCheckpointer(engine)
    event.listen(engine, "commit", lambda _conn: checkpointer.wrote())
    event.listen(engine, "engine_disposed", lambda _engine: checkpointer.stop())
    checkpointer.start()
    return engine


# SQLite checkpoints the WAL (copies its pages into the database file and fsyncs it) inside
# the commit that takes the WAL past `wal_autocheckpoint` pages: with the default 1,000 pages
# that was every ~40 commands at a million events, and that commit took 15-90 ms instead of
# ~4 ms (the RecordVitals p99). A background thread checkpoints instead, in a pause between
# commits: a checkpoint's fsync of the database file also delays a commit's fsync of the WAL
# on the same disk, so it waits for CHECKPOINT_IDLE_S without commits (people record a command
# every few seconds at most), unless commits have kept coming for CHECKPOINT_BUSY_S. A pause
# also lets the next writer restart the WAL from its beginning.
CHECKPOINT_POLL_S = 0.1
CHECKPOINT_IDLE_S = 0.25
CHECKPOINT_BUSY_S = 1.0
BACKSTOP_CHECKPOINT_PAGES = 16_384  # 64 MiB: SQLite's own, if the thread cannot keep up
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # a WAL a rebuild grew is cut back to this on restart


class WalCheckpointer:
    """A daemon thread that runs PASSIVE checkpoints (they never block readers or writers)
    on its own pooled connection after commits, preferably in a pause. It stops when the
    engine is disposed (lock) or garbage-collected."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._stop = threading.Event()
        self._last_write = 0.0  # monotonic time of the last commit
        self._first_unchecked = 0.0  # of the first commit not checkpointed yet (0: none)
        self._thread = threading.Thread(
            target=self._run, name="fieldchart-wal-checkpoint", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def wrote(self) -> None:
        now = time.monotonic()
        self._last_write = now
        if not self._first_unchecked:
            self._first_unchecked = now

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def _due(self) -> bool:
        if not self._first_unchecked:
            return False
        now = time.monotonic()
        idle = now - self._last_write >= CHECKPOINT_IDLE_S
        return idle or now - self._first_unchecked >= CHECKPOINT_BUSY_S

    def _run(self) -> None:
        while not self._stop.wait(CHECKPOINT_POLL_S):
            if not self._due():
                if self._engine() is None:
                    return
                continue
            engine = self._engine()
            if engine is None:
                return
            self._first_unchecked = 0.0  # commits from now on wait for the next round
            try:
                with engine.connect() as conn:
                    dbapi = conn.connection.driver_connection
                    if dbapi is not None and not self._stop.is_set():
                        dbapi.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except Exception:  # locked, closing, ...: SQLite's own checkpoint is the backstop
                pass
            finally:
                del engine


# `PRAGMA quick_check` reads (and so decrypts and authenticates) every page: ~1.4 s for a
# 330 MB vault, ~15 s at a million events. Unlock runs it only on files up to this size;
# beyond, SQLCipher's per-page HMAC still refuses any altered or torn page the moment it is
# read, and the event log's tail is verified at unlock (`fieldchart verify` checks every event).
QUICK_CHECK_MAX_BYTES = 32 * 1024 * 1024


def check_readable(engine: Engine, path: Path) -> None:
    """Fail with a specific message if the key is wrong or the file is not a database."""
    try:
        with engine.connect() as conn:
            tables = conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one()
            small = path.stat().st_size <= QUICK_CHECK_MAX_BYTES
            result = conn.exec_driver_sql("PRAGMA quick_check").scalar_one() if small else "ok"
    except (DatabaseError, OperationalError) as exc:
        # A held lock or a full disk is not a damaged vault: say which, nothing is wrong with it.
        unavailable = storage_failure(exc, path.parent)
        if unavailable is not None:
            raise unavailable from exc
        raise NotAVaultError(
            _(
                "{name} cannot be opened with this vault's key: it is not a "
                "FieldChart vault, or it is truncated or corrupted"
            ).format(name=path.name)
        ) from exc
    if not tables:
        raise NotAVaultError(
            _("{name} is empty: it is not a FieldChart vault").format(name=path.name)
        )
    if result != "ok":
        raise NotAVaultError(
            _("{name} failed SQLite's integrity check: {result}").format(
                name=path.name, result=result
            )
        )


def dbapi_of(conn: Connection) -> Any:
    """The DB-API (sqlcipher3) connection under a SQLAlchemy connection."""
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    return dbapi


@contextmanager
def _commits_waiting_for_disk(dbapi: Any, durable: bool) -> Iterator[None]:
    """synchronous=NORMAL on this connection while the block runs unless `durable`; FULL, the
    setting of every connection (open_engine), afterwards."""
    if not durable:
        dbapi.execute("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        if not durable:
            dbapi.execute("PRAGMA synchronous = FULL")


@contextmanager
def write_transaction(engine: Engine, *, durable: bool = True) -> Iterator[Connection]:
    """One write transaction: BEGIN IMMEDIATE ... COMMIT, durable (synchronous=FULL: the
    commit waits for the WAL to reach the disk) unless `durable=False`.

    A non-durable commit (synchronous=NORMAL) survives the app being killed, not a power cut
    before the next durable commit or checkpoint; the next durable commit makes it durable
    too (the WAL is written in order). Only for bookkeeping that can be re-learned, never for
    anything a person recorded."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with _commits_waiting_for_disk(dbapi_of(conn), durable), conn.begin():
            yield conn


BULK_CACHE_MIB = 256


@contextmanager
def bulk_write_connection(
    engine: Engine,
    cache_mib: int = BULK_CACHE_MIB,
    *,
    erase_freed: bool = True,
    durable: bool = True,
) -> Iterator[Connection]:
    """One connection for a long run of write transactions (`with conn.begin(): ...` each,
    BEGIN IMMEDIATE like write_transaction), with a page cache of `cache_mib` while it lasts:
    a rebuild inserts into B-trees far bigger than the default cache, and every page that
    falls out of it is encrypted on the way out and decrypted again on the way back.

    `erase_freed=False` turns SQLCipher's default `secure_delete` off on this connection
    while it lasts: freed pages are then left as they are (still encrypted) instead of being
    overwritten with zeros. Only for data that stays elsewhere in the vault anyway: dropping
    the read models (derived from the event log, which keeps every event) zeroed ~1.5 GB at a
    million events, most of a rebuild's time.

    `durable=False`: commits do not wait for the disk (see write_transaction), for work that
    is redone after a power cut anyway (a rebuild: its checkpoint says REBUILDING until the
    last commit)."""
    with engine.connect() as conn:
        dbapi = dbapi_of(conn)
        (previous,) = dbapi.execute("PRAGMA cache_size").fetchone()
        (erasing,) = dbapi.execute("PRAGMA secure_delete").fetchone()
        dbapi.execute(f"PRAGMA cache_size = -{int(cache_mib) * 1024}")
        if not erase_freed:
            dbapi.execute("PRAGMA secure_delete = OFF")
        try:
            with _commits_waiting_for_disk(dbapi, durable):
                yield conn.execution_options(**{WRITE_OPTION: True})
        finally:
            dbapi.execute(f"PRAGMA secure_delete = {int(erasing)}")
            dbapi.execute(f"PRAGMA cache_size = {int(previous)}")
            dbapi.execute("PRAGMA shrink_memory")


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A consistent read snapshot."""
    with engine.connect() as conn, conn.begin():
        yield conn


def fetch_rows(
    conn: Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
) -> list[tuple[Any, ...]]:
    """Every row of one constant SQL query as plain tuples, straight from the DB-API cursor
    of `conn`'s transaction. For the hot reads (a chart of a thousand rows), where compiling
    a Core statement and building Row objects cost more than SQLite's own work."""
    rows: list[tuple[Any, ...]] = dbapi_of(conn).execute(sql, params).fetchall()
    return rows


# What services hold while they work inside one transaction; SQL itself stays in the store
# and projection modules.
Transaction = Connection
