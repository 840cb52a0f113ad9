"""Benchmark a synthetic clinic: `python -m tests.bench --patients N --json`.

    .venv/bin/python -m tests.bench --patients 20000 --json          # the issue's size
    .venv/bin/python -m tests.bench --patients 200 --json --quick    # a smoke run
    .venv/bin/python -m tests.bench --only link --json               # sync over slow links

The first run for a size generates the clinic (tests/bench/generator.py, written through
ClinicCommands.execute in shared transactions, see tests/bench/bulk.py) and caches it under
~/.cache/fieldchart-bench/ (or $FIELDCHART_BENCH_CACHE); later runs copy the cached vault and
measure the copy. Progress goes to stderr, the JSON report to stdout. docs/performance.md
explains every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from app import heap
from app.domain.roles import Actor, Role
from app.services.clinic import open_clinic
from app.store.crypto import FAST_FOR_TESTS, RFC9106_SECOND
from app.store.reference_data import bundled_catalog
from app.store.vault import Vault
from tests.bench import duplicates_probe, measure, probes, report_probe
from tests.bench.bulk import DEFAULT_BATCH, cached_vault, working_copy
from tests.bench.generator import CLINICIANS, PASSPHRASE, Params, SimClock, plan_clinic

TARGETS = {
    # figure: (path in the report, comparison, target)
    "unlock_without_argon2id_s": (("unlock", "without_argon2id_ms", "median"), "<=", 500.0),
    "chart_open_p99_ms": (("chart_open_ms", "p99"), "<=", 30.0),
    "patient_search_p99_ms": (("search_ms", "p99"), "<=", 20.0),
    "duplicate_check_median_ms": (("duplicates_ms", "p50"), "<=", 150.0),  # issue 17
    "report_facility_month_s": (("report", "month_s", "max"), "<=", 5.0),  # issue 17
    "record_vitals_durable_p99_ms": (("record_vitals_ms", "p99"), "<=", 10.0),
    "rebuild_ratio_to_floor": (("rebuild", "ratio_to_floor"), ">=", 0.5),
    # The sync targets are the in-memory peer's (loopback); the real server's figures are
    # reported beside them (report["sync"]["side_by_side"]), without a target.
    "push_1000_commands_s": (("sync", "peer", "push_1000_s"), "<=", 3.0),
    "pull_10000_resources_s": (("sync", "peer", "pull_10000_s"), "<=", 10.0),
    "pull_rss_growth_mb": (("sync", "peer", "pull_rss_growth_mb"), "<=", 100.0),
    "idle_rss_app_open_mb": (("app_launch", "idle_rss_mb"), "<=", 350.0),
    "launch_to_usable_window_ms": (("app_launch", "launch_to_usable_ms"), "<=", 2000.0),
    # Issue 14, through the link simulator (tests/bench/link_run.py; --link or --only link).
    "link_day_push_600ms_256kbit_s": (
        ("link", "day", "600ms-256kbit", "push", "seconds"),
        "<=",
        15.0,
    ),
    "link_day_push_300ms_1mbit_s": (("link", "day", "300ms-1mbit", "push", "seconds"), "<=", 5.0),
    "link_idle_cycle_600ms_256kbit_s": (
        ("link", "day", "600ms-256kbit", "idle", "seconds"),
        "<=",
        2.5,
    ),
    "link_first_sync_foreign_resources": (
        ("link", "first_sync", "100ms-10mbit", "foreign_resources_received"),
        "<=",
        0,
    ),
    "link_first_sync_10mbit_ratio_to_floor": (
        ("link", "first_sync", "100ms-10mbit", "ratio_to_floor"),
        "<=",
        2.0,
    ),
    "link_resume_pages_received_twice": (
        ("link", "resume", "600ms-256kbit", "pages_received_twice"),
        "<=",
        1.0,
    ),
    "link_storage_10_vs_1_facilities": (("link", "storage_growth", "vault_bytes"), "<=", 1.5),
}

REPORT_KEYS = (
    "benchmark",
    "command",
    "params",
    "vault",
    "machine",
    "unlock",
    "chart_open_ms",
    "chart_open_with_view_audit_ms",
    "chart_open_gc_defaults_ms",
    "search_ms",
    "duplicates_ms",
    "report",
    "record_vitals_ms",
    "rebuild",
    "rss_mb",
    "app_launch",
    "sync",
    "link",
    "targets",
    "total_s",
)


def _dig(report: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = report
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def check_targets(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for name, (path, op, target) in TARGETS.items():
        value = _dig(report, path)
        if not isinstance(value, int | float):
            out[name] = {"target": f"{op} {target}", "value": None, "met": None}
            continue
        met = value <= target if op == "<=" else value >= target
        out[name] = {"target": f"{op} {target}", "value": value, "met": met}
    return out


def _machine(data_dir: Path) -> dict[str, Any]:
    from tests.bench.vault_latency import _filesystem_of

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import sqlcipher3

    conn = sqlcipher3.connect(":memory:")
    cipher = conn.execute("PRAGMA cipher_version").fetchone()
    sqlite = conn.execute("SELECT sqlite_version()").fetchone()[0]
    conn.close()
    return {
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite,
        "sqlcipher": cipher[0] if cipher else None,
        "filesystem": _filesystem_of(data_dir),
    }


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def link_section(args: argparse.Namespace) -> dict[str, Any]:
    """Sync through the link simulator, in a child process (tests/bench/link_probe.py)."""
    log("link (sync through a simulated rural link; minutes)")
    return probes._child(
        "tests.bench.link_probe",
        [
            "--profiles", args.link_profiles,
            "--facilities", str(args.link_facilities),
            "--patients", str(args.link_patients),
            "--parts", args.link_parts,
        ],
        {},
        timeout=4 * 3600,
    )  # fmt: skip


def run_link_only(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    report: dict[str, Any] = {
        "benchmark": "fieldchart sync through a simulated link",
        "command": " ".join(["python -m tests.bench", *sys.argv[1:]]),
        "machine": {"load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "link": link_section(args),
    }
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["targets"] = {k: v for k, v in check_targets(report).items() if k.startswith("link_")}
    report["total_s"] = round(time.perf_counter() - started, 1)
    return report


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.only == "link":
        return run_link_only(args)
    started = time.perf_counter()
    params = Params(patients=args.patients, seed=args.seed, heavy_events=args.heavy_events)
    kdf = FAST_FOR_TESTS if args.fast_kdf else RFC9106_SECOND
    vault_dir, facts = cached_vault(
        params, batch=args.batch, kdf=kdf, progress=True, root=args.cache
    )
    log(f"vault: {vault_dir} ({facts['events']:,} events)")
    quick = args.quick
    plan = plan_clinic(params)
    queries = measure.search_queries(plan, 100 if quick else 1000)
    duplicate_drafts = duplicates_probe.drafts(
        duplicates_probe.plan_people(plan), 100 if quick else 500
    )
    del plan
    gc.collect()  # the plan is garbage now: measure with an app-sized heap
    report: dict[str, Any] = {
        "benchmark": "fieldchart synthetic clinic",
        "command": " ".join(["python -m tests.bench", *sys.argv[1:]]),
        "params": facts["params"],
    }
    user = CLINICIANS[0]
    with working_copy(vault_dir, args.workdir) as data_dir:
        db_bytes = sum(f.stat().st_size for f in data_dir.iterdir() if f.is_file())
        report["vault"] = {
            "events": facts["log_head"],
            "commands": facts["commands"],
            "patients": params.patients,
            "heavy_patients": len(facts["heavy_patient_ids"]),
            "allergy_overrides": facts["allergy_overrides"],
            "by_command": facts["by_command"],
            "file_bytes": db_bytes,
            "generated_with": facts["mode"],
            "generation_s": facts["write_s"],
            "generation_commands_per_s": facts["commands_per_s"],
            "kdf": kdf.to_json(),
        }
        report["machine"] = _machine(data_dir)
        log("unlock")
        report["unlock"] = measure.unlock(data_dir, user, runs=3 if quick else 5)

        vault = Vault.open(data_dir)
        vault.unlock(user, PASSPHRASE)
        clock = SimClock(params.end)
        clinic = open_clinic(vault, clock=clock, catalog=bundled_catalog())
        doc = Actor(user, Role.CLINICIAN)
        gc.collect()
        idle_open = measure.rss_mb()

        log("monthly report")
        report["report"] = report_probe.measure(clinic, doc, params.end, 2 if quick else 3)
        if args.only == "report":
            clinic.close()
            report["targets"] = {
                k: v for k, v in check_targets(report).items() if k.startswith("report_")
            }
            report["total_s"] = round(time.perf_counter() - started, 1)
            return report

        log("search")
        report["search_ms"] = measure.search(clinic, queries)

        log("duplicate check")
        report["duplicates_ms"] = duplicates_probe.duplicates(clinic, duplicate_drafts)

        log("chart open")
        heavy = facts["heavy_patient_ids"]
        # Python's collector defaults first; then as the app runs once its window is up
        # (app/heap.py: startup's objects frozen out of full collections).
        report["chart_open_gc_defaults_ms"] = measure.chart_open(
            clinic, heavy, doc, 50 if quick else 300, record_view=False
        )
        heap.settle()
        report["chart_open_ms"] = measure.chart_open(
            clinic, heavy, doc, 50 if quick else 300, record_view=False
        )
        report["chart_open_ms"]["heap"] = "settled as the app does (app/heap.py)"
        report["chart_open_ms"]["events_per_chart"] = [
            measure.patient_events(clinic, pid) for pid in heavy
        ]
        report["chart_open_with_view_audit_ms"] = measure.chart_open(
            clinic, heavy, doc, 20 if quick else 100, record_view=True
        )

        log("record vitals")
        patients = measure.all_patient_ids(clinic)
        report["record_vitals_ms"] = measure.record_vitals(
            clinic, clock, patients, 50 if quick else 500
        )

        heap.release()
        log("rebuild")
        report["rebuild"] = measure.rebuild(clinic)
        gc.collect()
        report["rss_mb"] = {
            "bench_process_after_open": idle_open,
            "bench_process_now": measure.rss_mb(),
            "bench_process_peak": measure.peak_rss_mb(),
        }
        clinic.close()

        log("app launch")
        report["app_launch"] = probes.app_launch(data_dir, user, heavy[:1])
        log("sync")
        report["sync"] = (
            probes.sync(data_dir, user, pushes=args.push, pulls=args.pull, skip_real=args.skip_real)
            if not args.skip_sync
            else {"status": "skipped (--skip-sync)"}
        )
    report["link"] = link_section(args) if args.link else {"status": "skipped (no --link)"}
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["targets"] = check_targets(report)
    report["total_s"] = round(time.perf_counter() - started, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=Params.seed)
    parser.add_argument("--heavy-events", type=int, default=Params.heavy_events)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke runs)")
    parser.add_argument("--fast-kdf", action="store_true", help="cheap Argon2id (tests only)")
    parser.add_argument(
        "--batch", type=int, default=DEFAULT_BATCH, help="commands per bulk transaction"
    )
    parser.add_argument("--cache", type=Path, default=None, help="where generated vaults are kept")
    parser.add_argument("--workdir", type=Path, default=None, help="where the working copy goes")
    parser.add_argument("--push", type=int, default=1000, help="commands to push")
    parser.add_argument("--pull", type=int, default=10000, help="resources to pull")
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument(
        "--skip-real",
        action="store_true",
        help="sync against the in-memory peer only, not the real FHIR server",
    )
    link = parser.add_argument_group("link", "sync through a simulated rural link (issue 14)")
    link.add_argument("--link", action="store_true", help="add the link section to the run")
    link.add_argument(
        "--only", choices=("link", "report"), help="run this section alone (report: indicators)"
    )
    link.add_argument(
        "--link-profiles",
        default="600ms-256kbit,300ms-1mbit,100ms-10mbit,loopback",
        help="RTT-bandwidth profiles, comma-separated (tests/bench/link_probe.py)",
    )
    link.add_argument("--link-facilities", type=int, default=10, help="facilities on the server")
    link.add_argument("--link-patients", type=int, default=2000, help="patients per facility")
    link.add_argument(
        "--link-parts",
        default="day,district,resume,storage",
        help="of day (push and idle), district (first sync), resume, storage",
    )
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for name, t in report["targets"].items():
            state = {True: "ok  ", False: "MISS", None: "n/a "}[t["met"]]
            print(f"{state} {name}: {t['value']} (target {t['target']})")
        sync = report.get("sync") or {}
        for key, values in (sync.get("side_by_side") or {}).items():
            print(f"sync {key}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
        for name in ("peer", "real"):
            status = (sync.get(name) or {}).get("status")
            if status and status != "measured":
                print(f"sync {name}: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
