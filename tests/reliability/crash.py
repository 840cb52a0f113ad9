"""Experiment 1: kill -9 at random (seeded) instants, while commands are executed through
`fieldchart exec` and while `fieldchart sync` runs against the peer.

exec: a stream of JSON commands (each with a client-assigned command_id) is piped into one
process; every `{"ok": true, ...}` line printed before the kill is an acknowledgement. After the
kill the vault must open and verify, every acknowledged command must be in the log, the read
models must equal a rebuild from the log, and re-submitting the unacknowledged rest (same
command ids) must leave every command in the log exactly once.

sync: a vault with pending commands is synced and killed mid-cycle. It must still verify; the
next `fieldchart sync` must complete, leave nothing pending, and the server must hold exactly
the resources (ids and content) an uninterrupted sync leaves: nothing missing, nothing twice.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.services.clinic import open_clinic
from app.store.vault import Vault
from sync.fhir.client import FhirClient
from sync.fhir.mapping import PULL_TYPES
from tests.clinic_fixtures import prescription
from tests.peer.harness import PeerServer
from tests.reliability.common import (
    ADMIN,
    ADMIN_PASS,
    DOC,
    DOC_PASS,
    NAMES,
    PYTHON,
    REPO,
    STANDARD_USERS,
    cli,
    cli_env,
    copy_vault,
    has_traceback,
    make_vault,
    remember_output,
)

CLINICIAN = Actor(DOC, Role.CLINICIAN)
SERVER_TYPES = (*PULL_TYPES, "AuditEvent")


# -- the command stream -------------------------------------------------------------------------


def command_stream(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Valid commands in order (each carries its command_id), on patients the stream registers."""
    stream: list[dict[str, Any]] = []
    phones: dict[str, str] = {}

    def add(data: dict[str, Any]) -> None:
        stream.append({**data, "command_id": str(uuid.uuid4())})

    while len(stream) < count:
        if not phones or rng.random() < 0.12:
            pid = str(uuid.uuid4())
            phones[pid] = NAMES.phi(f"+255 7{rng.randint(10_000_000, 99_999_999)}")
            add(
                {
                    "type": "RegisterPatient",
                    "patient_id": pid,
                    "given": NAMES.make(rng, accented=rng.random() < 0.3),
                    "family": NAMES.make(rng),
                    "birth_date": f"{rng.randint(1950, 2015)}-0{rng.randint(1, 9)}-"
                    f"1{rng.randint(0, 9)}",
                    "sex": rng.choice(["female", "male"]),
                    "phone": phones[pid],
                }
            )
            continue
        pid = rng.choice(sorted(phones))
        roll = rng.random()
        if roll < 0.35:
            add({"type": "RecordVitals", "patient_id": pid, "heart_rate": rng.randint(50, 120)})
        elif roll < 0.55:
            add(
                {
                    "type": "AddNote",
                    "patient_id": pid,
                    "text": f"Reviewed, plan {rng.randint(1, 99)}",
                }
            )
        elif roll < 0.7:
            add(
                {
                    "type": "RecordDiagnosis",
                    "patient_id": pid,
                    "text": f"Complaint {rng.randint(1, 999)}",
                }
            )
        else:
            new = NAMES.phi(f"+255 6{rng.randint(10_000_000, 99_999_999)}")
            add(
                {
                    "type": "UpdateDemographics",
                    "patient_id": pid,
                    "changes": {"phone": {"new": new, "expected": phones[pid]}},
                }
            )
            phones[pid] = new
    return stream


def _lines(commands: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(cmd).encode() + b"\n" for cmd in commands)


# -- running a CLI process and killing it --------------------------------------------------------


@dataclass
class Killed:
    stdout_lines: list[str]
    stderr: str
    returncode: int
    ran_s: float
    finished_before_kill: bool


def run_and_kill(
    args: list[str],
    stdin: bytes,
    kill_after_s: float | None,
    user: str,
    passphrase: str,
    tmpdir: Path,
    kill_after_lines: int | None = None,
) -> Killed:
    """Start `python -m app.cli ARGS`, feed stdin, SIGKILL it after `kill_after_s` seconds, or
    once it printed `kill_after_lines` lines (or let it finish when both are None). Lines it
    printed before dying are returned."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [PYTHON, "-m", "app.cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(user, passphrase, tmpdir),
        cwd=REPO,
    )
    out: list[bytes] = []
    err: list[bytes] = []

    def feed() -> None:
        try:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    enough = threading.Event()

    def drain(pipe: Any, into: list[bytes]) -> None:
        for chunk in iter(lambda: pipe.readline(), b""):
            into.append(chunk)
            if into is out and kill_after_lines is not None and len(out) >= kill_after_lines:
                enough.set()
        enough.set()

    threads = [
        threading.Thread(target=feed, daemon=True),
        threading.Thread(target=drain, args=(proc.stdout, out), daemon=True),
        threading.Thread(target=drain, args=(proc.stderr, err), daemon=True),
    ]
    for t in threads:
        t.start()
    finished = False
    if kill_after_lines is not None:
        enough.wait(timeout=300)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        else:
            finished = True
        proc.wait(timeout=30)
    elif kill_after_s is None:
        proc.wait(timeout=300)
        finished = True
    else:
        try:
            proc.wait(timeout=kill_after_s)
            finished = True
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    ran = time.monotonic() - started
    for t in threads:
        t.join(timeout=30)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    stderr = b"".join(err).decode("utf-8", "replace")
    remember_output(stderr)
    # A line cut by the kill has no newline: it was never a complete acknowledgement.
    lines = [b.decode("utf-8", "replace") for b in out if b.endswith(b"\n")]
    return Killed(lines, stderr, proc.returncode, ran, finished)


def _acks(lines: list[str]) -> dict[str, dict[str, Any]]:
    acked = {}
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if data.get("ok"):
            acked[data["command_id"]] = data
    return acked


# -- exec trials ------------------------------------------------------------------------------


def _killed_at_random(
    figures: ExecFigures | SyncFigures,
    rng: random.Random,
    whole: float,
    args: list[str],
    stdin: bytes,
    user: str,
    passphrase: str,
    work: Path,
) -> Killed:
    """`args` run as `user`, SIGKILLed at a random moment within `whole`, an uninterrupted
    run's length (at times a little after); a traceback on its stderr is counted."""
    killed = run_and_kill(
        args, stdin, rng.uniform(0.05, whole * 1.05), user, passphrase, work / "tmp"
    )
    if has_traceback(killed.stderr):
        figures.tracebacks += 1
    return killed


@dataclass
class ExecFigures:
    trials: int = 0
    killed_mid_stream: int = 0  # at least one command acknowledged and not all
    killed_before_first_ack: int = 0
    finished_before_kill: int = 0  # or killed after its last acknowledgement
    acknowledged: int = 0
    acknowledged_missing: int = 0
    committed_not_acknowledged: int = 0  # recognised as duplicates on re-submission
    duplicates_after_resubmit: int = 0
    vaults_failing_verify: int = 0
    vaults_failing_open: int = 0
    read_models_differing_from_rebuild: int = 0
    tracebacks: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _log_counts(vault: Vault) -> Counter[str]:
    return Counter(r.metadata.command_id for r in vault.events.read_all())


def exec_trials(trials: int, commands: int, seed: int, work: Path) -> ExecFigures:
    started = time.monotonic()
    rng = random.Random(seed)
    figures = ExecFigures()
    template = make_vault(work / "exec-template", users=STANDARD_USERS)
    # Calibrate: how long an uninterrupted run of the stream takes.
    stream = command_stream(random.Random(seed), commands)
    probe = copy_vault(template, work / "exec-calibration")
    timing = run_and_kill(
        ["exec", "--data-dir", str(probe)], _lines(stream), None, DOC, DOC_PASS, work / "tmp"
    )
    whole = timing.ran_s
    if len(_acks(timing.stdout_lines)) != commands:
        figures.problems.append(f"calibration run acknowledged {len(_acks(timing.stdout_lines))}")
    for trial in range(trials):
        figures.trials += 1
        stream = command_stream(random.Random(seed * 1000 + trial), commands)
        data_dir = copy_vault(template, work / f"exec-{trial}")
        killed = _killed_at_random(
            figures,
            rng,
            whole,
            ["exec", "--data-dir", str(data_dir)],
            _lines(stream),
            DOC,
            DOC_PASS,
            work,
        )
        acked = _acks(killed.stdout_lines)
        figures.acknowledged += len(acked)
        if killed.finished_before_kill or len(acked) == len(stream):
            figures.finished_before_kill += 1  # after the last acknowledgement
        elif not acked:
            figures.killed_before_first_ack += 1
        else:
            figures.killed_mid_stream += 1
        _check_exec_trial(figures, trial, data_dir, stream, acked, work)
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def _check_exec_trial(
    figures: ExecFigures,
    trial: int,
    data_dir: Path,
    stream: list[dict[str, Any]],
    acked: dict[str, dict[str, Any]],
    work: Path,
) -> None:
    verified = cli(
        ["verify", "--data-dir", str(data_dir), "--json"],
        user=DOC,
        passphrase=DOC_PASS,
        tmpdir=work / "tmp",
    )
    if verified.returncode != 0:
        figures.vaults_failing_verify += 1
        figures.problems.append(f"exec trial {trial}: verify said {verified.stderr.strip()}")
    try:
        vault = Vault.open(data_dir)
        vault.unlock(DOC, DOC_PASS)
        clinic = open_clinic(vault)
    except Exception as exc:
        figures.vaults_failing_open += 1
        figures.problems.append(f"exec trial {trial}: cannot open: {type(exc).__name__}: {exc}")
        return
    try:
        in_log = _log_counts(vault)
        missing = [cid for cid in acked if in_log[cid] == 0]
        figures.acknowledged_missing += len(missing)
        if missing:
            figures.problems.append(f"exec trial {trial}: acknowledged but missing {missing[:3]}")
        live = clinic.queries.digest()
        if clinic.runner.rebuild() != live:
            figures.read_models_differing_from_rebuild += 1
            figures.problems.append(f"exec trial {trial}: read models differ from a rebuild")
    finally:
        clinic.close()
    # Re-submit what was not acknowledged, as a person or script would.
    rest = [cmd for cmd in stream if cmd["command_id"] not in acked]
    if rest:
        again = run_and_kill(
            ["exec", "--data-dir", str(data_dir)], _lines(rest), None, DOC, DOC_PASS, work / "tmp"
        )
        results = _acks(again.stdout_lines)
        if len(results) != len(rest):
            figures.problems.append(
                f"exec trial {trial}: re-submission acknowledged {len(results)} of {len(rest)}: "
                f"{again.stderr.strip()[:200]} {again.stdout_lines[:2]}"
            )
        figures.committed_not_acknowledged += sum(1 for r in results.values() if r["duplicate"])
        acked = {**acked, **results}
    vault = Vault.open(data_dir)
    vault.unlock(DOC, DOC_PASS)
    try:
        in_log = _log_counts(vault)
    finally:
        vault.lock()
    for cmd in stream:
        cid = cmd["command_id"]
        expected = len(acked[cid]["events"]) if cid in acked else 0
        if in_log[cid] != expected:
            figures.duplicates_after_resubmit += abs(in_log[cid] - expected)
            figures.problems.append(
                f"exec trial {trial}: {cmd['type']} {cid} has {in_log[cid]} events, "
                f"expected {expected}"
            )


# -- sync trials ------------------------------------------------------------------------------


@dataclass
class SyncFigures:
    trials: int = 0
    killed_before_any_write: int = 0
    killed_mid_push: int = 0
    killed_after_push: int = 0
    finished_before_kill: int = 0
    vaults_failing_verify: int = 0
    vaults_failing_open: int = 0
    next_sync_failed: int = 0
    pending_after_next_sync: int = 0
    needs_attention_after_next_sync: int = 0
    missing_on_server: int = 0
    duplicates_on_server: int = 0
    content_differs_from_clean_sync: int = 0
    tracebacks: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _fill(data_dir: Path, rng: random.Random, count: int) -> None:
    """Pending commands of every kind sync writes, plus chart views (AuditEvents)."""
    vault = Vault.open(data_dir)
    vault.unlock(DOC, DOC_PASS)
    clinic = open_clinic(vault)
    try:
        run = clinic.commands.execute
        patients: list[str] = []
        done = 0
        while done < count:
            if not patients or rng.random() < 0.15:
                patients.append(
                    run(
                        c.RegisterPatient(
                            given=NAMES.make(rng, accented=rng.random() < 0.3),
                            family=NAMES.make(rng),
                            birth_date="1990-05-17",
                            sex="female",
                            phone=NAMES.phi(f"+255 7{rng.randint(10_000_000, 99_999_999)}"),
                        ),
                        CLINICIAN,
                    ).patient_id
                )
                done += 1
                continue
            pid = rng.choice(patients)
            kind = rng.randrange(7)
            if kind == 0:
                run(c.RecordVitals(patient_id=pid, heart_rate=72.0, temperature=37.1), CLINICIAN)
            elif kind == 1:
                run(c.RecordDiagnosis(patient_id=pid, text=f"Complaint {done}"), CLINICIAN)
            elif kind == 2:
                run(c.AddNote(patient_id=pid, text=f"Note {done}"), CLINICIAN)
            elif kind == 3:
                run(
                    prescription(pid, "paracetamol", dose=500.0, duration_days=5),
                    CLINICIAN,
                )
            elif kind == 4:
                start = f"2031-0{1 + done % 9}-1{done % 10}T0{done % 9}:00:00+00:00"
                try:
                    run(c.ScheduleFollowUp(patient_id=pid, clinician=DOC, start=start), CLINICIAN)
                except Exception:
                    continue
            elif kind == 5:
                current = clinic.queries.patient(pid)
                assert current is not None
                run(
                    c.UpdateDemographics(
                        patient_id=pid,
                        changes={
                            "address": c.FieldChange(
                                new=NAMES.phi(f"Plot {done} {NAMES.make(rng)} Road"),
                                expected=current.address,
                            )
                        },
                    ),
                    CLINICIAN,
                )
            else:
                clinic.queries.chart(pid, CLINICIAN)  # a chart view: an AuditEvent to push
            done += 1
    finally:
        clinic.close()


def _server_state(base_url: str) -> dict[tuple[str, str], list[str]]:
    """Every resource on the server: (type, id) -> its contents without meta (one per copy)."""
    found: dict[tuple[str, str], list[str]] = {}
    with FhirClient(base_url) as client:
        for resource_type in SERVER_TYPES:
            for resource in client.iter_search(resource_type, {"_count": "1000"}):
                body = {k: v for k, v in resource.items() if k != "meta"}
                found.setdefault((resource_type, resource["id"]), []).append(
                    json.dumps(body, sort_keys=True)
                )
    return found


def enrolled_template(peer: PeerServer, work: Path, commands: int, seed: int) -> Path:
    """A vault enrolled on `peer` (pulling everything) with `commands` unsent commands."""
    template = make_vault(work / "sync-template", users=STANDARD_USERS)
    enrolled = cli(
        [
            "enroll",
            "--data-dir",
            str(template),
            "--server",
            peer.base_url,
            "--auth",
            "none",
            "--pull-everything",
            "--json",
        ],
        tmpdir=work / "tmp",
    )
    if enrolled.returncode != 0:
        raise RuntimeError(f"enroll failed: {enrolled.stderr}")
    _fill(template, random.Random(seed), commands)
    return template


def sync_trials(trials: int, commands: int, seed: int, peer: PeerServer, work: Path) -> SyncFigures:
    started = time.monotonic()
    rng = random.Random(seed)
    figures = SyncFigures()
    template = enrolled_template(peer, work, commands, seed)
    # Calibrate: an uninterrupted sync, and the server state it leaves.
    peer.reset()
    probe = copy_vault(template, work / "sync-calibration")
    timing = run_and_kill(
        ["sync", "--data-dir", str(probe), "--json"], b"", None, ADMIN, ADMIN_PASS, work / "tmp"
    )
    if timing.returncode != 0:
        raise RuntimeError(f"calibration sync failed: {timing.stderr}")
    whole = timing.ran_s
    clean = _server_state(peer.base_url)
    for trial in range(trials):
        figures.trials += 1
        peer.reset()
        data_dir = copy_vault(template, work / f"sync-{trial}")
        killed = _killed_at_random(
            figures,
            rng,
            whole,
            ["sync", "--data-dir", str(data_dir), "--json"],
            b"",
            ADMIN,
            ADMIN_PASS,
            work,
        )
        at_kill = _server_state(peer.base_url)
        wrote_all = set(at_kill) >= {k for k in clean if k[0] != "AuditEvent"}
        count_kill(figures, killed, wrote_any=bool(at_kill), wrote_all=wrote_all)
        _check_sync_trial(figures, trial, data_dir, clean, peer, work)
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def count_kill(figures: SyncFigures, killed: Killed, *, wrote_any: bool, wrote_all: bool) -> None:
    """When the kill came: after the sync finished, before its first write, after its last
    write (the push done), or in the middle of the push."""
    if killed.finished_before_kill:
        figures.finished_before_kill += 1
    elif not wrote_any:
        figures.killed_before_any_write += 1
    elif wrote_all:
        figures.killed_after_push += 1
    else:
        figures.killed_mid_push += 1


def _check_sync_trial(
    figures: SyncFigures,
    trial: int,
    data_dir: Path,
    clean: dict[tuple[str, str], list[str]],
    peer: PeerServer,
    work: Path,
) -> None:
    try:
        vault = Vault.open(data_dir)
        vault.unlock(ADMIN, ADMIN_PASS)
    except Exception as exc:
        figures.vaults_failing_open += 1
        figures.problems.append(f"sync trial {trial}: cannot open: {type(exc).__name__}: {exc}")
        return
    try:
        vault.events.verify()
    except Exception as exc:
        figures.vaults_failing_verify += 1
        figures.problems.append(f"sync trial {trial}: verify: {exc}")
    finally:
        vault.lock()
    after = cli(["sync", "--data-dir", str(data_dir), "--json"], tmpdir=work / "tmp")
    if after.returncode != 0:
        figures.next_sync_failed += 1
        figures.problems.append(f"sync trial {trial}: next sync failed: {after.stderr.strip()}")
        return
    status = cli(["status", "--data-dir", str(data_dir), "--json"], tmpdir=work / "tmp")
    state = json.loads(status.stdout)
    figures.pending_after_next_sync += state["pending"]
    figures.needs_attention_after_next_sync += state["needs_attention"]
    server = _server_state(peer.base_url)
    missing = set(clean) - set(server)
    extra = set(server) - set(clean)
    twice = sum(len(v) - 1 for v in server.values())
    figures.missing_on_server += len(missing)
    figures.duplicates_on_server += len(extra) + twice
    differs = [k for k in set(clean) & set(server) if sorted(clean[k]) != sorted(server[k])]
    figures.content_differs_from_clean_sync += len(differs)
    if missing or extra or twice or differs:
        figures.problems.append(
            f"sync trial {trial}: missing {sorted(missing)[:3]}, extra {sorted(extra)[:3]}, "
            f"differs {sorted(differs)[:3]}"
        )
