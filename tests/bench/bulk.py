"""Building (and caching) the synthetic clinic's vault.

Two ways to write the same plan, through the same `ClinicCommands.execute`:

* ``mode="commands"``: the real path, one durable (fsync'd) transaction per command, exactly as
  the UI and the CLI record them. About 100-300 commands/s, so only for small clinics.
* ``mode="bulk"``: `BulkCommands`, a ClinicCommands whose commands share one write transaction
  until `commit()` (every `batch` commands). Each command still runs the whole of `execute`:
  outbox duplicate check, chart load from the cache/log, `decide`, `EventLog.append`, the outbox
  row, and `ProjectionRunner.catch_up` of every read model. Only the commit (and its fsync) is
  shared, so the events, outbox rows and read models are the same. tests/test_bench_harness.py
  proves it: it builds one small clinic both ways from copies of one empty vault and compares
  every event (all fields but the random event id and the sealed bytes), every outbox row and
  the projection digest.

A refused command inside a batch would leave the batch half-applied, so the bulk builder
stops at the first refusal (the generator only writes valid commands; a refusal is a bug).

Vaults are cached under ``$FIELDCHART_BENCH_CACHE`` (default ``~/.cache/fieldchart-bench``), one
directory per parameter hash; benchmarks work on a copy, so the cached one stays pristine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.projections.runner import PROJECTIONS_VERSION
from app.services.clinic import open_clinic
from app.services.clinic_commands import ClinicCommands
from app.services.dto import Changes
from app.store.crypto import RFC9106_SECOND, KdfParams
from app.store.database import bulk_write_connection
from app.store.reference_data import bundled_catalog
from app.store.vault import Vault
from tests.bench.generator import (
    ADMIN,
    CLINICIANS,
    DESK,
    PASSPHRASE,
    START,
    Params,
    SimClock,
    Stats,
    drive,
    id_sequence,
    plan_clinic,
)

DEFAULT_BATCH = 2000


class BulkCommands(ClinicCommands):
    """ClinicCommands whose commands share one write transaction between `begin` and `commit`."""

    _batch: contextlib.ExitStack | None = None
    _conn: Connection | None = None
    _bulk: contextlib.ExitStack | None = None
    _bulk_conn: Connection

    def begin(self) -> None:
        """Start a shared transaction, on one connection with a big page cache (kept until
        `close`) like a rebuild's: B-trees of a large clinic outgrow the default cache."""
        assert self._batch is None
        if self._bulk is None:
            self._bulk = contextlib.ExitStack()
            self._bulk_conn = self._bulk.enter_context(bulk_write_connection(self._vault.engine))
        stack = contextlib.ExitStack()
        stack.enter_context(self._bulk_conn.begin())
        self._conn = self._bulk_conn
        self._batch = stack

    def close(self) -> None:
        if self._bulk is not None:
            self._bulk.close()
            self._bulk = None

    def commit(self) -> None:
        batch, self._batch, self._conn = self._batch, None, None
        if batch is not None:
            batch.close()  # leaves write_transaction normally: COMMIT

    def abort(self, exc: BaseException) -> None:
        batch, self._batch, self._conn = self._batch, None, None
        self.forget()  # charts cached in the batch were evolved by events now rolled back
        if batch is not None:
            batch.__exit__(type(exc), exc, exc.__traceback__)  # ROLLBACK

    def _transaction(self) -> AbstractContextManager[Connection]:
        if self._conn is None:
            return super()._transaction()
        return nullcontext(self._conn)


def create_empty(data_dir: Path, kdf: KdfParams = RFC9106_SECOND) -> None:
    """The vault every synthetic clinic starts from: an admin, the clinicians and the desk."""
    vault, _ = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=kdf)
    try:
        for name in CLINICIANS:
            vault.add_user(name, Role.CLINICIAN, PASSPHRASE, kdf=kdf)
        for name in DESK:
            vault.add_user(name, Role.STAFF, PASSPHRASE, kdf=kdf)
    finally:
        vault.lock()


def populate(
    data_dir: Path,
    params: Params,
    *,
    mode: str = "bulk",
    batch: int = DEFAULT_BATCH,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the plan's commands into the (empty) vault in `data_dir`; return build facts."""
    if mode not in ("bulk", "commands"):
        raise ValueError(f"unknown mode {mode!r}")
    started = time.perf_counter()
    plan = plan_clinic(params)
    planned = time.perf_counter()
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, PASSPHRASE)
    clock = SimClock(START)
    catalog = bundled_catalog()
    clinic = open_clinic(vault, clock=clock, catalog=catalog)
    cls = BulkCommands if mode == "bulk" else ClinicCommands
    commands = cls(vault, clinic.runner, catalog, clock, new_id=id_sequence(params.seed))
    done = 0

    def execute(at: datetime, actor: Actor, command: c.Command) -> Changes:
        nonlocal done
        clock.now = at
        if isinstance(commands, BulkCommands):
            if commands._conn is None:
                commands.begin()
            changes = commands.execute(command, actor)
            done += 1
            if done % batch == 0:
                commands.commit()
            return changes
        return commands.execute(command, actor)

    def report(stats: Stats) -> None:
        rate = stats.commands / (time.perf_counter() - planned)
        print(
            f"  {stats.commands:,} commands, {stats.events:,} events ({rate:,.0f} commands/s)",
            file=sys.stderr,
            flush=True,
        )

    try:
        stats = drive(plan, catalog, execute, report if progress else None, every=50_000)
        if isinstance(commands, BulkCommands):
            commands.commit()
    except BaseException as exc:
        if isinstance(commands, BulkCommands):
            commands.abort(exc)
        raise
    finally:
        written = time.perf_counter()
        if isinstance(commands, BulkCommands):
            commands.close()
        head = vault.events.head_position() if vault.is_unlocked else 0
        if vault.is_unlocked:
            with vault.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        commands.forget()
        clinic.close()
    return {
        "params": {**params.__dict__, "heavy_patients": params.heavy},
        "mode": mode,
        "batch": batch if mode == "bulk" else 1,
        "commands": stats.commands,
        "events": stats.events,
        "log_head": head,
        "by_command": dict(sorted(stats.by_command.items())),
        "allergy_overrides": stats.overrides,
        "heavy_patient_ids": stats.heavy_patient_ids,
        "plan_s": round(planned - started, 2),
        "write_s": round(written - planned, 2),
        "commands_per_s": round(stats.commands / max(written - planned, 1e-9), 1),
        "projections_version": PROJECTIONS_VERSION,
    }


def cache_root() -> Path:
    env = os.environ.get("FIELDCHART_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "fieldchart-bench"


def cached_vault(
    params: Params,
    *,
    mode: str = "bulk",
    batch: int = DEFAULT_BATCH,
    kdf: KdfParams = RFC9106_SECOND,
    progress: bool = False,
    root: Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """The generated vault for `params` (built once, then reused); returns (dir, build facts)."""
    kdf_tag = "rfc9106" if kdf == RFC9106_SECOND else f"kdf{kdf.iterations}-{kdf.memory_kib}"
    home = (root or cache_root()) / f"{params.key()}-{kdf_tag}"
    facts_path = home / "build.json"
    if facts_path.exists():
        facts = json.loads(facts_path.read_text())
        if facts.get("projections_version") != PROJECTIONS_VERSION:
            # Same events, read models of an older FieldChart: rebuild them once, in place.
            if progress:
                print(f"rebuilding the read models of {home} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            vault = Vault.open(home / "vault")
            vault.unlock(ADMIN, PASSPHRASE)
            try:
                open_clinic(vault).runner.ensure_ready()
                with vault.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                vault.lock()
            facts["projections_version"] = PROJECTIONS_VERSION
            facts["projections_refreshed_s"] = round(time.perf_counter() - started, 1)
            facts_path.write_text(json.dumps(facts, indent=2))
        return home / "vault", facts
    home.mkdir(parents=True, exist_ok=True)
    work = home / "building"
    shutil.rmtree(work, ignore_errors=True)
    if progress:
        print(f"generating {params} into {home} ...", file=sys.stderr, flush=True)
    create_empty(work, kdf)
    facts = populate(work, params, mode=mode, batch=batch, progress=progress)
    shutil.rmtree(home / "vault", ignore_errors=True)
    work.rename(home / "vault")
    facts_path.write_text(json.dumps(facts, indent=2))
    return home / "vault", facts


@contextlib.contextmanager
def working_copy(vault_dir: Path, parent: Path | None = None) -> Iterator[Path]:
    """A throw-away copy of a cached vault (benchmarks write to it)."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="fieldchart-bench-", dir=parent))
    try:
        target = tmp / "vault"
        shutil.copytree(vault_dir, target)
        # Flush the copy to disk now: otherwise the first fsync of the database file (the
        # first WAL checkpoint) writes back gigabytes and stalls a measured commit.
        os.sync()
        yield target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
