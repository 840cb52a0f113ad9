"""The benchmark harness (tests/bench) works, and its bulk loader is the command path.

Not the performance targets (docs/performance.md has those): a small clinic built both ways
must record the same events, outbox and read models, and a small benchmark run must report
every figure.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.projections.runner import ProjectionRunner
from app.store.crypto import FAST_FOR_TESTS
from app.store.database import read_transaction
from app.store.vault import Vault
from tests.bench import __main__ as bench
from tests.bench import sync_run
from tests.bench.bulk import create_empty, populate
from tests.bench.generator import ADMIN, PASSPHRASE, Params, plan_clinic
from tests.realfhir.plugin import FhirServer

SMALL = Params(patients=12, heavy_patients=1, heavy_events=150, days=150)


def _contents(data_dir: Path) -> dict[str, Any]:
    """Every event (all but its random id and its sealed bytes), outbox row and the digest."""
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, PASSPHRASE)
    try:
        events = [
            (
                r.position,
                r.stream_id,
                r.stream_version,
                r.type,
                r.schema_version,
                r.metadata.to_json(),
                json.dumps(r.payload, sort_keys=True),
            )
            for r in vault.events.read_all()
        ]
        ids = [r.event_id for r in vault.events.read_all()]
        with read_transaction(vault.engine) as conn:
            outbox = [
                tuple(row) for row in conn.exec_driver_sql("SELECT * FROM outbox ORDER BY seq")
            ]
        runner = ProjectionRunner(vault.engine, vault.events)
        incremental = runner.digest()
        rebuilt = runner.rebuild()
        vault.events.verify()
    finally:
        vault.lock()
    return {
        "events": events,
        "event_ids": ids,
        "outbox": outbox,
        "digest": incremental,
        "rebuilt": rebuilt,
    }


def _event_ids(data_dir: Path) -> set[str]:
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, PASSPHRASE)
    try:
        return {r.event_id for r in vault.events.read_all()}
    finally:
        vault.lock()


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    root = tmp_path_factory.mktemp("bench-equality")
    template = root / "template"
    create_empty(template, FAST_FOR_TESTS)  # one vault id, device id and key for both
    shutil.copytree(template, root / "commands")
    shutil.copytree(template, root / "bulk")
    shared = _event_ids(template)  # the users' admin audit, copied to both
    real = populate(root / "commands", SMALL, mode="commands")
    bulk = populate(root / "bulk", SMALL, mode="bulk", batch=97)
    assert real["commands"] == bulk["commands"] > 300
    assert real["heavy_patient_ids"] == bulk["heavy_patient_ids"]
    made = _contents(root / "commands"), _contents(root / "bulk")
    for contents in made:
        assert set(contents["event_ids"][: len(shared)]) == shared
        contents["event_ids"] = contents["event_ids"][len(shared) :]
    return made


def test_the_bulk_loader_records_the_same_events(
    both_ways: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    real, bulk = both_ways
    assert len(real["events"]) > 300
    assert bulk["events"] == real["events"]
    # Event ids are random (uuid4) on either path; they only have to be unique.
    assert len(set(real["event_ids"] + bulk["event_ids"])) == 2 * len(real["event_ids"])
    assert all(uuid.UUID(i).version == 4 for i in bulk["event_ids"])


def test_the_bulk_loader_records_the_same_outbox(
    both_ways: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    real, bulk = both_ways
    assert bulk["outbox"] == real["outbox"]


def test_the_bulk_loader_builds_the_same_read_models(
    both_ways: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    real, bulk = both_ways
    assert bulk["digest"] == real["digest"] == real["rebuilt"] == bulk["rebuilt"]


def test_the_synthetic_clinic_is_varied_and_deterministic() -> None:
    plan = plan_clinic(SMALL)
    again = plan_clinic(SMALL)
    assert [(p.given, p.family, p.visits) for p in plan.patients] == [
        (p.given, p.family, p.visits) for p in again.patients
    ]
    assert sum(p.heavy for p in plan.patients) == 1
    bigger = plan_clinic(Params(patients=300))
    names = " ".join(f"{p.given} {p.family}" for p in bigger.patients)
    assert any(ord(ch) > 127 for ch in names), "names keep their accents"
    kinds = {v.booking.kind for p in bigger.patients for v in p.visits if v.booking}
    assert kinds == {"attend", "reschedule", "cancel", "noshow"}


def test_a_small_run_reports_every_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = bench.main(
        [
            "--patients", "30",
            "--heavy-events", "200",
            "--json",
            "--quick",
            "--fast-kdf",
            "--skip-sync",
            "--cache", str(tmp_path / "cache"),
            "--workdir", str(tmp_path),
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert set(bench.REPORT_KEYS) <= set(report)
    assert set(report["targets"]) == set(bench.TARGETS)
    for section in ("chart_open_ms", "search_ms", "duplicates_ms", "record_vitals_ms"):
        assert {"p50", "p99", "samples"} <= set(report[section])
    assert {"with_argon2id_ms", "without_argon2id_ms"} <= set(report["unlock"])
    assert {"events_per_s", "floor_events_per_s", "ratio_to_floor"} <= set(report["rebuild"])
    assert report["rebuild"]["digest_unchanged"] is True
    copy = report["rebuild"]["copy_floor"]
    assert copy["read_model_bytes_without_indexes"] > 0 and copy["seconds"] > 0
    assert 0 < report["rebuild"]["best_possible_ratio"] <= 1
    assert {"bench_process_peak", "bench_process_after_open"} <= set(report["rss_mb"])
    assert "status" in report["app_launch"] and "status" in report["sync"]
    assert report["vault"]["events"] >= 200


#: What each server's sync section reports (docs/performance.md, issue 13): every figure shown
#: side by side, and these.
SYNC_KEYS = set(sync_run.SIDE_BY_SIDE) | {
    "status",
    "server",
    "push_1000_s",
    "push_report",
    "seeded_resources",
    "pull_10000_s",
    "pull_requests",
    "pull_report",
}


def test_the_sync_section_measures_push_idle_and_pull_on_each_server(
    fhir_server: FhirServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench's sync figures at a tiny size ([peer] and [real]): two patients pushed, two
    seeded and pulled by a new device watermarked at the seeding start (on the real server,
    only this run's resources, whatever earlier runs left there)."""
    real = fhir_server.real
    server = sync_run.Server(
        fhir_server.name,
        fhir_server.name,
        fhir_server.base_url,
        real.token_url if real else None,
        real.client_id if real else None,
        real.client_secret if real else None,
    )
    monkeypatch.setattr(sync_run, "IDLE_RUNS", 2)
    out = sync_run.measure(server, tmp_path, pushes=20, pulls=32)
    assert set(out) >= SYNC_KEYS, out.get("status")
    assert out["status"] == "measured"
    assert out["push_commands"] == 20 and out["push_report"]["pending_after"] == 0
    assert out["push_requests"] >= 1 and out["push_bytes_sent"] > 0
    # Several commands per Bundle since issue 14's batching: at least one, fewer than commands.
    assert 1 <= out["push_requests_by_kind"].get("POST transaction 200", 0) < 20
    assert out["resources_per_patient"] > 0
    assert out["seeded_resources"] >= 32 and "seed_failed_cycles" in out
    assert out["pulled"] >= out["seeded_resources"]  # a shared server may have other writers
    assert out["patients_on_new_device"] >= 2
    assert len(out["idle_cycle_runs_s"]) == 2
    for name, (path, _op, _target) in bench.TARGETS.items():
        if path[0] == "sync":
            assert path[1] == "peer" and path[2] in out, name


def test_the_sync_section_says_in_one_line_why_the_real_server_was_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sync_run._on_real(tmp_path, 10, 10, skip_real=True) == {"status": "skipped: --skip-real"}
    monkeypatch.setenv("FIELDCHART_REALFHIR", "0")
    skipped = sync_run._on_real(tmp_path, 10, 10, skip_real=False)
    assert skipped == {"status": "skipped: no real FHIR server: FIELDCHART_REALFHIR=0"}
    both = sync_run.side_by_side({"peer": {"push_s": 1.5, "pulled": 7}, "real": skipped})
    assert set(both) == set(sync_run.SIDE_BY_SIDE)
    assert both["push_s"] == {"peer": 1.5, "real": None}


def test_skip_real_is_an_option_of_the_bench(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    assert "--skip-real" in capsys.readouterr().out


def test_the_link_section_measures_push_idle_first_sync_resume_and_storage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--only link` at a tiny size on the loopback profile (the same proxies, no delay): every
    part reported, the facility's device received nothing of the other facility."""
    code = bench.main(
        [
            "--only", "link", "--json",
            "--link-profiles", "loopback",
            "--link-facilities", "2",
            "--link-patients", "3",
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    link = report["link"]
    assert link["status"] == "measured", link
    assert set(report["targets"]) == {k for k in bench.TARGETS if k.startswith("link_")}
    day = link["day"]["loopback"]
    assert day["push"]["commands"] == 140
    assert day["push"]["cycle"]["pending_after"] == 0
    assert day["push"]["requests"] >= 1 and day["push"]["bytes_up"] > 0
    assert day["idle"]["requests"] >= 1 and len(day["idle"]["runs_s"]) == 3
    assert set(link["storage"]) == {"1", "2"}
    first = link["first_sync"]["loopback"]
    assert first["cycle"]["pending_after"] == 0
    assert first["resources_received"] >= 3 * 4  # the facility's 3 patients, 4 resources each
    assert first["vault_bytes"] > 0 and first["bytes_down"] > 0
    if link["scoped"]:
        assert first["foreign_resources_received"] == 0
    resume = link["resume"]["loopback"]
    assert resume["before_cut"]["link_cut"] is True
    assert resume["resumed"]["cycle"]["pending_after"] == 0
    assert "pages_received_twice" in resume
    assert set(link["storage_growth"]) == {"vault_bytes", "bytes_down", "requests", "seconds"}
