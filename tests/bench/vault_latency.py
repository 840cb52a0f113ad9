"""Benchmark: how long one durable append and one unlock take. Not a test; prints JSON.

    .venv/bin/python -m tests.bench.vault_latency [--dir DIR] [--samples 2000] [--runs 10]

Measures, on a fresh vault created with the default Argon2id parameters (RFC 9106 second
recommendation: t=3, m=64 MiB, p=4):

* ``append_ms``: one ~1 KB event appended with ``EventLog.append`` and no caller connection, so
  each sample is its own ``BEGIN IMMEDIATE ... COMMIT`` with ``synchronous=FULL`` (an fsync of
  the WAL per commit). Samples go round-robin over 10 streams with the correct expected
  version. p50/p90/p99/max over ``--samples`` appends.
* ``unlock_with_argon2id_ms``: ``Vault.open(dir)`` + ``unlock(user, passphrase)``, the median
  of ``--runs``; this is what a person waits for at the unlock screen.
* ``unlock_without_argon2id_ms``: the same minus the key derivation. The data key is unwrapped
  once beforehand with ``KeySlotFile.unwrap`` (which runs Argon2id) and a fresh copy is handed
  to the private ``Vault._start_session`` each run, which opens the SQLCipher engine, runs the
  readability and ``PRAGMA quick_check`` check, the (no-op) migrations, reads the user row, and
  verifies the last 1000 events of the log, exactly as ``unlock`` does after unwrapping.
* ``argon2id_unwrap_ms``: ``KeySlotFile.unwrap`` alone (the key derivation plus AES-GCM).

fsync cost depends on the disk and file system under ``--dir`` (default: a new temporary
directory), so the JSON names the file system type; tmpfs makes fsync free and the append
figures meaningless.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.store.crypto import RFC9106_SECOND
from app.store.event_log import EventMetadata, NewEvent
from app.store.keyslots import KeySlotFile, user_slot_id
from app.store.vault import TAIL_VERIFY_AT_UNLOCK, Vault

USER = "admin"
PASSPHRASE = "benchmark passphrase, not a secret"
STREAMS = 10
TARGET_PAYLOAD_BYTES = 1024


def _payload(i: int) -> dict[str, Any]:
    """A note whose JSON encoding is ~1 KB, like a short clinical note with vitals."""
    base: dict[str, Any] = {"pulse": 72, "systolic": 120, "diastolic": 80, "seq": i, "text": ""}
    overhead = len(json.dumps(base, sort_keys=True, separators=(",", ":")).encode())
    base["text"] = "Patient reports mild headache; advised fluids. " * 30
    base["text"] = base["text"][: TARGET_PAYLOAD_BYTES - overhead]
    return base


def _metadata() -> EventMetadata:
    return EventMetadata(
        command_id="bench",
        user=USER,
        role="admin",
        device_id="bench-device",
        recorded_at="2025-01-01T00:00:00.000+00:00",
        occurred_at="2025-01-01T00:00:00.000+00:00",
    )


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def _percentile(sorted_ns: list[int], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    rank = max(1, round(p / 100 * len(sorted_ns)))
    return _ms(sorted_ns[rank - 1])


def _median_ms(runs: int, once: Callable[[], int]) -> tuple[float, list[float]]:
    samples = [once() for _ in range(runs)]
    return _ms(statistics.median(samples)), [_ms(s) for s in samples]


def _filesystem_of(path: Path) -> str:
    """Best effort (Linux): the type of the mount holding `path`."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    real = str(path.resolve())
    best = ("", "unknown")
    for fields in mounts:
        mount_point, fs_type = fields[1], fields[2]
        inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best[0]):
            best = (mount_point, fs_type)
    return best[1]


def bench_appends(vault: Vault, samples: int) -> dict[str, Any]:
    versions = [0] * STREAMS
    meta = _metadata()
    payload_bytes = len(json.dumps(_payload(0), sort_keys=True, separators=(",", ":")).encode())
    timings: list[int] = []
    for i in range(samples):
        stream = i % STREAMS
        event = NewEvent("NoteWritten", _payload(i), meta)
        start = time.perf_counter_ns()
        vault.events.append(f"patient-{stream}", versions[stream], [event])
        timings.append(time.perf_counter_ns() - start)
        versions[stream] += 1
    timings.sort()
    return {
        "samples": samples,
        "payload_json_bytes": payload_bytes,
        "p50": _percentile(timings, 50),
        "p90": _percentile(timings, 90),
        "p99": _percentile(timings, 99),
        "max": _ms(timings[-1]),
        "mean": _ms(statistics.fmean(timings)),
    }


def bench_unlock(data_dir: Path, runs: int) -> dict[str, Any]:
    def with_argon2() -> int:
        vault = Vault.open(data_dir)
        start = time.perf_counter_ns()
        vault.unlock(USER, PASSPHRASE)
        elapsed = time.perf_counter_ns() - start
        vault.lock()
        return elapsed

    slots = KeySlotFile.load(data_dir / "keyslots.json")

    def argon2_only() -> int:
        start = time.perf_counter_ns()
        key = slots.unwrap(user_slot_id(USER), PASSPHRASE.encode())
        elapsed = time.perf_counter_ns() - start
        key[:] = bytes(len(key))
        return elapsed

    data_key = slots.unwrap(user_slot_id(USER), PASSPHRASE.encode())

    def without_argon2() -> int:
        vault = Vault.open(data_dir)
        key = bytearray(data_key)  # _start_session keeps (and lock wipes) the buffer it gets
        start = time.perf_counter_ns()
        vault._start_session(key, None, USER)
        elapsed = time.perf_counter_ns() - start
        vault.lock()
        return elapsed

    with_median, with_samples = _median_ms(runs, with_argon2)
    without_median, without_samples = _median_ms(runs, without_argon2)
    argon2_median, _ = _median_ms(runs, argon2_only)
    data_key[:] = bytes(len(data_key))
    return {
        "unlock_with_argon2id_ms": {"median": with_median, "runs": with_samples},
        "unlock_without_argon2id_ms": {"median": without_median, "runs": without_samples},
        "argon2id_unwrap_ms": {"median": argon2_median},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to create the vault")
    parser.add_argument("--samples", type=int, default=2000, help="appends to time")
    parser.add_argument("--runs", type=int, default=10, help="unlocks to time (median)")
    args = parser.parse_args(argv)

    parent = Path(tempfile.mkdtemp(prefix="fieldchart-bench-", dir=args.dir))
    try:
        data_dir = parent / "vault"
        created = time.perf_counter_ns()
        vault, _ = Vault.create(data_dir, USER, PASSPHRASE, kdf=RFC9106_SECOND)
        created = time.perf_counter_ns() - created
        with vault.engine.connect() as conn:
            cipher_version = conn.exec_driver_sql("PRAGMA cipher_version").scalar()
            sqlite_version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
        appends = bench_appends(vault, args.samples)
        events_in_vault = vault.events.head_position()
        vault.lock()
        unlock = bench_unlock(data_dir, args.runs)
        report = {
            "benchmark": "fieldchart vault latency",
            "append_commit_ms": appends,
            **unlock,
            "create_vault_ms": _ms(created),
            "events_in_vault_at_unlock": events_in_vault,
            "tail_verified_at_unlock": min(events_in_vault, TAIL_VERIFY_AT_UNLOCK),
            "kdf": RFC9106_SECOND.to_json(),
            "environment": {
                "data_dir": str(data_dir),
                "filesystem": _filesystem_of(parent),
                "python": platform.python_version(),
                "sqlcipher": cipher_version,
                "sqlite": sqlite_version,
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
        }
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
