"""The measurements of `python -m tests.bench`, one function each, on an unlocked copy of a
generated vault. Times are wall-clock (`time.perf_counter_ns`), in milliseconds unless named
otherwise; percentiles are nearest-rank."""

from __future__ import annotations

import functools
import gc
import json
import random
import resource
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.projections import patient_index, timeline
from app.projections.base import Writes, metadata
from app.projections.runner import apply_event
from app.services.clinic import Clinic, open_clinic
from app.store.database import read_transaction
from app.store.event_log import _aad
from app.store.keyslots import KeySlotFile, user_slot_id
from app.store.reference_data import bundled_catalog
from app.store.vault import Vault
from tests.bench.generator import CLINICIANS, PASSPHRASE, ClinicPlan, SimClock


def ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def percentiles(samples_ns: list[int]) -> dict[str, Any]:
    ordered = sorted(samples_ns)

    def rank(p: float) -> float:
        return ms(ordered[max(1, round(p / 100 * len(ordered))) - 1])

    return {
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "max": ms(ordered[-1]),
        "mean": ms(statistics.fmean(ordered)),
        "samples": len(ordered),
    }


def rss_mb() -> float:
    """Resident set size now (Linux /proc), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return -1.0


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _timed(fn: Callable[[], Any]) -> int:
    start = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - start


_SECOND = timedelta(seconds=1)


# -- unlock --------------------------------------------------------------------------------


def unlock(data_dir: Path, user: str, runs: int = 5) -> dict[str, Any]:
    """Vault.open + unlock (Argon2id included); the same without the key derivation (the data
    key unwrapped once beforehand and handed to the session start, as vault_latency.py does);
    and open_clinic, which brings the read models up to date (nothing to catch up here)."""
    with_kdf, without_kdf, kdf_only, clinic_open = [], [], [], []
    for _ in range(runs):
        vault = Vault.open(data_dir)
        with_kdf.append(_timed(functools.partial(vault.unlock, user, PASSPHRASE)))
        clinic_open.append(_timed(functools.partial(open_clinic, vault, catalog=bundled_catalog())))
        vault.lock()
    slots = KeySlotFile.load(data_dir / "keyslots.json")
    for _ in range(runs):
        start = time.perf_counter_ns()
        key = slots.unwrap(user_slot_id(user), PASSPHRASE.encode())
        kdf_only.append(time.perf_counter_ns() - start)
        key[:] = bytes(len(key))
    data_key = slots.unwrap(user_slot_id(user), PASSPHRASE.encode())
    for _ in range(runs):
        vault = Vault.open(data_dir)
        copy = bytearray(data_key)  # the session keeps (and lock wipes) the buffer it gets
        without_kdf.append(_timed(lambda v=vault, k=copy: v._start_session(k, None, user)))  # type: ignore[misc]
        vault.lock()
    data_key[:] = bytes(len(data_key))

    def median(xs: list[int]) -> dict[str, Any]:
        return {"median": ms(statistics.median(xs)), "runs": [ms(x) for x in xs]}

    return {
        "with_argon2id_ms": median(with_kdf),
        "without_argon2id_ms": median(without_kdf),
        "argon2id_unwrap_ms": median(kdf_only),
        "open_clinic_after_unlock_ms": median(clinic_open),
    }


# -- reads ---------------------------------------------------------------------------------


def search_queries(plan: ClinicPlan, count: int, seed: int = 1) -> list[str]:
    """What a receptionist types: a prefix of a family or given name (2-5 letters), sometimes
    'given-prefix family-prefix', in the spelling the patient gave (accents and all)."""
    rng = random.Random(seed)
    queries = []
    for _ in range(count):
        p = rng.choice(plan.patients)
        family, given = p.family, p.given.split()[0]
        roll = rng.random()
        if roll < 0.55:
            q = family[: rng.randint(2, 5)]
        elif roll < 0.8:
            q = given[: rng.randint(2, 5)]
        else:
            q = f"{given[: rng.randint(2, 4)]} {family[: rng.randint(2, 4)]}"
        queries.append(q)
    return queries


def search(clinic: Clinic, queries: list[str], warmup: int = 20) -> dict[str, Any]:
    for q in queries[:warmup]:
        clinic.queries.search_patients(q)
    samples, found = [], []
    for q in queries:
        start = time.perf_counter_ns()
        result = clinic.queries.search_patients(q)
        samples.append(time.perf_counter_ns() - start)
        found.append(len(result))
    return {
        **percentiles(samples),
        "mean_results": round(statistics.fmean(found), 1),
        "empty_results": sum(1 for n in found if n == 0),
        "limit": 50,
    }


def patient_events(clinic: Clinic, patient_id: str) -> int:
    with read_transaction(clinic.vault.engine) as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(timeline.entries)
                .where(timeline.entries.c.patient_id == patient_id)
            ).scalar_one()
        )


def chart_open(
    clinic: Clinic, patient_ids: list[str], viewer: Actor, samples: int, record_view: bool
) -> dict[str, Any]:
    """queries.chart(): summary, items, timeline and vitals series of one patient."""
    for pid in patient_ids:
        clinic.queries.chart(pid, viewer, record_view=False)  # warm-up
    times = []
    sizes = {}
    for i in range(samples):
        pid = patient_ids[i % len(patient_ids)]
        start = time.perf_counter_ns()
        view = clinic.queries.chart(pid, viewer, record_view=record_view)
        times.append(time.perf_counter_ns() - start)
        sizes[pid] = (len(view.timeline), sum(len(s) for s in view.vitals_series.values()))
    return {
        **percentiles(times),
        "record_view": record_view,
        "patients": len(patient_ids),
        "timeline_entries": sorted({t for t, _ in sizes.values()}),
        "vitals_points": sorted({v for _, v in sizes.values()}),
    }


def all_patient_ids(clinic: Clinic) -> list[str]:
    with read_transaction(clinic.vault.engine) as conn:
        return list(
            conn.execute(
                select(patient_index.patients.c.patient_id).order_by(
                    patient_index.patients.c.patient_id
                )
            ).scalars()
        )


# -- writes --------------------------------------------------------------------------------


def record_vitals(
    clinic: Clinic, clock: SimClock, patient_ids: list[str], samples: int, seed: int = 2
) -> dict[str, Any]:
    """ClinicCommands.execute(RecordVitals) on random patients: one durable transaction each
    (synchronous=FULL: the WAL is fsync'd before execute returns)."""
    rng = random.Random(seed)
    doc = Actor(CLINICIANS[0], Role.CLINICIAN)
    times = []
    for _ in range(samples):
        pid = rng.choice(patient_ids)
        systolic = rng.randint(100, 160)
        cmd = c.RecordVitals(
            patient_id=pid,
            systolic=systolic,
            diastolic=rng.randint(60, min(95, systolic - 10)),  # a plausible pair
            heart_rate=rng.randint(55, 110),
            temperature=round(rng.uniform(36.0, 38.5), 1),
        )
        clock.now = clock.now.replace(microsecond=0) + _SECOND
        start = time.perf_counter_ns()
        clinic.commands.execute(cmd, doc)
        times.append(time.perf_counter_ns() - start)
    return percentiles(times)


# -- rebuild ---------------------------------------------------------------------------------


def read_floor(clinic: Clinic) -> tuple[float, int]:
    """The least any rebuild must do: read every event row from the encrypted file (plain
    DB-API cursor, no SQLAlchemy), open its AES-GCM seal and decode the payload and metadata
    JSON. No projection work, no objects built. Returns (seconds, rows)."""
    log = clinic.vault.events
    aead = log._aead
    rows_read = 0
    start = time.perf_counter()
    with read_transaction(clinic.vault.engine) as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        cur = raw.execute(
            "SELECT position, event_id, stream_id, stream_version, type, schema_version, "
            "metadata, payload FROM events ORDER BY position"
        )
        while rows := cur.fetchmany(2000):
            for _pos, event_id, stream, version, _type, _sv, meta, sealed in rows:
                plain = aead.decrypt(sealed[:12], sealed[12:], _aad(event_id, stream, version))
                json.loads(plain)
                json.loads(meta)
            rows_read += len(rows)
        cur.close()
    return time.perf_counter() - start, rows_read


def copy_floor(clinic: Clinic) -> dict[str, Any]:
    """What SQLite/SQLCipher alone pay to store the finished read models once: every
    read-model table copied as it is (`CREATE TABLE AS SELECT`: rows in key order, no
    indexes, no Python) into a scratch database attached with the vault's own key (SQLCipher's
    default for ATTACH without KEY), journal and fsync off. It reads them back too, so it is
    an upper bound of the write floor; with the raw read floor it bounds what any rebuild
    that stores these read models can reach."""
    tables = [t.name for t in metadata.sorted_tables if t.name != "projection_checkpoint"]
    scratch = clinic.vault.db_path.with_name("copy-floor.db")
    engine = clinic.vault.engine
    with engine.connect() as conn:
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        dbapi.execute("ATTACH DATABASE ? AS floor", (str(scratch),))
        try:
            dbapi.execute("PRAGMA floor.journal_mode = OFF")
            dbapi.execute("PRAGMA floor.synchronous = OFF")
            start = time.perf_counter()
            for name in tables:
                dbapi.execute(f"CREATE TABLE floor.{name} AS SELECT * FROM main.{name}")
            seconds = time.perf_counter() - start
            (pages,) = dbapi.execute("PRAGMA floor.page_count").fetchone()
            (page_size,) = dbapi.execute("PRAGMA floor.page_size").fetchone()
            (log_pages,) = dbapi.execute("PRAGMA main.page_count").fetchone()
        finally:
            dbapi.execute("DETACH DATABASE floor")
            scratch.unlink(missing_ok=True)
    return {
        "seconds": round(seconds, 2),
        "read_model_bytes_without_indexes": int(pages) * int(page_size),
        "vault_file_bytes": int(log_pages) * int(page_size),
    }


class _DryWrites(Writes):
    """Writes that send nothing (lookups find nothing): the handlers' own Python work."""

    def insert(self, table: Any, row: Any, key: Any = None) -> None:
        pass

    def execute(self, table: Any, sql: str, params: Any = ()) -> None:
        pass

    def sent_execute(self, table: Any, sql: str, params: Any = ()) -> None:
        pass

    def first(self, table: Any, sql: str, params: Any = ()) -> None:
        return None

    def sent_first(self, table: Any, sql: str, params: Any = ()) -> None:
        return None

    def flush(self) -> None:
        pass


def rebuild_breakdown(clinic: Clinic) -> dict[str, float]:
    """Where a rebuild's time goes, measured apart: reading the log as the runner does
    (EventLog.read_all: rows, seals, JSON, RecordedEvent objects), and the projection handlers'
    Python work with SQL switched off (their lookups find nothing, so updates of existing rows
    are skipped: a lower bound). What the rebuild takes beyond the two is SQLite and SQLCipher
    writing the read models (B-trees, page encryption, WAL, commits)."""
    log = clinic.vault.events
    with read_transaction(clinic.vault.engine) as conn:
        start = time.perf_counter()
        for _ in log.read_all(0, conn, batch=10_000):
            pass
        read_s = time.perf_counter() - start
        dry = _DryWrites(conn)
        start = time.perf_counter()
        for record in log.read_all(0, conn, batch=10_000):
            apply_event(dry, record)
        handlers_s = time.perf_counter() - start - read_s
    return {"log_read_s": round(read_s, 2), "handlers_python_s": round(max(handlers_s, 0.0), 2)}


def rebuild(clinic: Clinic) -> dict[str, Any]:
    """Full rebuild of every read model (ProjectionRunner.rebuild_read_models: drop, replay
    the whole log, indexes) vs the raw floor, in the same process and state: floor, rebuild,
    floor again (the floor figure is the faster of the two). The digest that
    ProjectionRunner.rebuild() adds (reading every read-model row back) is timed apart."""
    before = clinic.runner.digest()
    gc.collect()
    floor1, rows = read_floor(clinic)
    start = time.perf_counter()
    applied = clinic.runner.rebuild_read_models()
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    after = clinic.runner.digest()
    digest_s = time.perf_counter() - start
    floor2, _ = read_floor(clinic)
    floor = min(floor1, floor2)
    copy = copy_floor(clinic)
    parts = rebuild_breakdown(clinic)
    parts["sqlite_writes_s"] = round(seconds - parts["log_read_s"] - parts["handlers_python_s"], 2)
    return {
        "breakdown": parts,
        "events": rows,
        "applied": applied,
        "seconds": round(seconds, 2),
        "digest_seconds": round(digest_s, 2),
        "events_per_s": round(rows / seconds),
        "floor_seconds": round(floor, 2),
        "floor_events_per_s": round(rows / floor),
        "floor_runs_s": [round(floor1, 2), round(floor2, 2)],
        "ratio_to_floor": round(floor / seconds, 3),
        # The best ratio any rebuild storing these read models could reach: the raw read floor
        # over (read floor + copying the finished tables once), before any Python at all.
        "copy_floor": copy,
        "best_possible_ratio": round(floor / (floor + copy["seconds"]), 3),
        "digest_unchanged": before == after,
    }
