"""Experiment 1 on a real FHIR server (tests/realfhir): kill -9 during `fieldchart sync`.

The real server keeps every earlier trial's (and run's) data and assigns its own ids, so unlike
the peer trials (crash.sync_trials) nothing is reset or compared whole: each trial is a new vault
with new patients (the same command stream, new ids). Its sync goes through a loopback proxy
that, once the server has answered the trial's k-th transaction, kills the CLI with SIGKILL and
drops the answer: the server has created resources whose ids the device never learned (the
worst instant to die). Then the vault syncs again, and for its own patients only the server must
hold each patient once (``Patient?identifier=urn:fieldchart:fhir:id|<our id>``), each of our
resources once (grouped by that identifier), and as many resources of each type as an
uninterrupted sync of the same stream left: nothing twice, nothing missing.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from app.services.clinic import open_clinic
from app.store.vault import Vault
from sync.fhir.client import FhirClient
from sync.fhir.mapping import PULL_TYPES
from tests.realfhir.harness import RealFhirServer
from tests.realfhir.plugin import real_server
from tests.reliability.common import (
    ADMIN,
    ADMIN_PASS,
    DOC,
    DOC_PASS,
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
from tests.reliability.crash import SyncFigures, _fill
from tests.sync.devices import OUR_ID_SYSTEM, vault_pulled_up_to_now

SYNC = ["sync", "--json"]


@dataclass
class RealSyncFigures(SyncFigures):
    """The peer trials' figures (the vault checks are theirs: vaults_failing_* stay 0 here),
    plus what only a server that assigns ids can show."""

    patients_missing: int = 0
    without_our_identifier: int = 0  # our resources that lack urn:fieldchart:fhir:id


def _filled(
    template: Path, target: Path, seed: int, commands: int, base_url: str
) -> tuple[Path, list[str]]:
    """A copy of the enrolled template with the seed's command stream pending (new ids each
    time), already up to date with the server as of now (its sync pulls only what is new, not
    every earlier run's data); and its own patients, the ones registered by the stream (its
    sync also brings those others registered meanwhile)."""
    data_dir = copy_vault(template, target)
    _fill(data_dir, random.Random(seed), commands)
    vault_pulled_up_to_now(data_dir, DOC, DOC_PASS, base_url)
    vault = Vault.open(data_dir)
    vault.unlock(DOC, DOC_PASS)
    clinic = open_clinic(vault)
    try:
        return data_dir, [p.patient_id for p in clinic.queries.search_patients("", limit=1000)]
    finally:
        clinic.close()


def _ours(resource: dict[str, Any]) -> str | None:
    for identifier in resource.get("identifier") or []:
        if identifier.get("system") == OUR_ID_SYSTEM:
            return str(identifier.get("value"))
    return None


def _on_server(client: FhirClient, patients: list[str]) -> dict[str, Counter[str | None]]:
    """Per type, how often each of our ids occurs among these patients' resources."""
    found: dict[str, Counter[str | None]] = {t: Counter() for t in PULL_TYPES}
    for local_id in patients:
        copies = list(client.iter_search("Patient", {"identifier": f"{OUR_ID_SYSTEM}|{local_id}"}))
        found["Patient"].update(_ours(p) for p in copies)
        for patient in copies:
            for resource_type in PULL_TYPES:
                if resource_type != "Patient":
                    params = {"patient": f"Patient/{patient['id']}", "_count": "1000"}
                    found[resource_type].update(
                        _ours(r) for r in client.iter_search(resource_type, params)
                    )
    return found


class KillAfterCommit:
    """A loopback HTTP proxy in front of the server at `target_base`. Once the server has
    answered the `kill_at`-th transaction (a POST to the base) since `arm()`, it SIGKILLs the
    armed process and drops that answer. Absolute links to the server are rewritten to the
    proxy, as a reverse proxy does."""

    def __init__(self, target_base: str) -> None:
        target = httpx.URL(target_base)
        self._target_origin = f"{target.scheme}://{target.netloc.decode()}".encode()
        self._transaction_path = target.path.rstrip("/") + "/"
        self._http = httpx.Client(base_url=self._target_origin.decode(), timeout=120)
        self._lock = threading.Lock()
        self.transactions = 0
        self._kill_at: int | None = None
        self._victim: subprocess.Popen[bytes] | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.base_url = self._origin + target.path
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def arm(self, victim: subprocess.Popen[bytes] | None, kill_at: int | None) -> None:
        with self._lock:
            self.transactions, self._victim, self._kill_at = 0, victim, kill_at

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _answer(self, method: str, path: str, headers: Any, body: bytes) -> httpx.Response | None:
        """The server's answer, or None when the client was killed instead."""
        sent = {k: v for k, v in headers.items() if k.lower() not in _HOP}
        answer = self._http.request(method, path, content=body, headers=sent)
        if method == "POST" and path == self._transaction_path:
            with self._lock:
                self.transactions += 1
                if self.transactions == self._kill_at and self._victim is not None:
                    self._victim.kill()
                    return None
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = proxy._answer(self.command, self.path, self.headers, body)
                if answer is None:
                    self.close_connection = True
                    return
                ours = proxy._origin.encode()
                content = answer.content.replace(proxy._target_origin, ours)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in _HOP | {"content-length", "content-encoding"}:
                        self.send_header(
                            name, value.replace(proxy._target_origin.decode(), ours.decode())
                        )
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

        return Handler


#: Hop-by-hop headers (and Host), which a proxy does not pass on.
_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "host",
}


def _sync(
    proxy: KillAfterCommit, data_dir: Path, tmp: Path, kill_at: int | None
) -> tuple[int, str]:
    """`fieldchart sync` of the vault through the proxy; its exit code (-9: killed) and stderr."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "app.cli", *SYNC, "--data-dir", str(data_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(ADMIN, ADMIN_PASS, tmp),
        cwd=REPO,
    )
    proxy.arm(proc, kill_at)
    _, err = proc.communicate(timeout=300)
    stderr = err.decode("utf-8", "replace")
    remember_output(stderr)
    return proc.returncode, stderr


def real_sync_trials(
    trials: int, commands: int, seed: int, server: RealFhirServer, work: Path
) -> RealSyncFigures:
    """`trials` syncs killed after the server answered their k-th transaction, k spread from
    the first to the last but one of the transactions an uninterrupted sync sends."""
    started = time.monotonic()
    figures = RealSyncFigures()
    tmp = work / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    proxy = KillAfterCommit(server.base_url)
    try:
        template = make_vault(work / "real-template", users=STANDARD_USERS)
        # The whole (test) server: these devices test sync itself, not a facility's scope.
        enroll = [
            "enroll",
            "--data-dir",
            str(template),
            *real_server(server).enroll_args(work),
            "--pull-everything",
        ]
        enrolled = cli([*enroll, "--server", proxy.base_url], tmpdir=tmp)  # the last --server
        if enrolled.returncode != 0:
            raise RuntimeError(f"enroll failed: {enrolled.stderr}")
        with FhirClient(server.base_url, server.auth()) as client:
            # Calibrate: an uninterrupted sync of the same stream; what it sends and leaves.
            calibration = work / "real-calibration"
            probe, own = _filled(template, calibration, seed, commands, server.base_url)
            code, stderr = _sync(proxy, probe, tmp, None)
            if code != 0:
                raise RuntimeError(f"calibration sync failed: {stderr.strip()[-500:]}")
            sent = proxy.transactions
            clean = {t: c.total() for t, c in _on_server(client, own).items()}
            for trial in range(trials):
                figures.trials += 1
                data_dir, own = _filled(
                    template, work / f"real-{trial}", seed, commands, server.base_url
                )
                kill_at = 1 + trial * max(sent - 1, 1) // trials
                code, stderr = _sync(proxy, data_dir, tmp, kill_at)
                figures.tracebacks += has_traceback(stderr)
                if code != -signal.SIGKILL:
                    figures.finished_before_kill += 1
                elif kill_at < sent:
                    figures.killed_mid_push += 1
                else:
                    figures.killed_after_push += 1
                proxy.arm(None, None)
                _check(figures, trial, data_dir, own, clean, client, tmp)
    finally:
        proxy.close()
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def _check(
    figures: RealSyncFigures,
    trial: int,
    data_dir: Path,
    patients: list[str],
    clean: dict[str, int],
    client: FhirClient,
    tmp: Path,
) -> None:
    after = cli([*SYNC, "--data-dir", str(data_dir)], tmpdir=tmp)
    if after.returncode != 0:
        figures.next_sync_failed += 1
        figures.problems.append(f"trial {trial}: next sync failed: {after.stderr.strip()}")
        return
    state = json.loads(cli(["status", "--data-dir", str(data_dir), "--json"], tmpdir=tmp).stdout)
    figures.pending_after_next_sync += state["pending"]
    figures.needs_attention_after_next_sync += state["needs_attention"]
    found = _on_server(client, patients)
    missing_patients = [p for p in patients if not found["Patient"][p]]
    figures.patients_missing += len(missing_patients)
    for resource_type, counts in found.items():
        twice = {k: n for k, n in counts.items() if k is not None and n > 1}
        figures.duplicates_on_server += sum(n - 1 for n in twice.values())
        figures.without_our_identifier += counts[None]
        short = max(0, clean[resource_type] - counts.total())
        figures.missing_on_server += short
        if twice or short or counts[None]:
            figures.problems.append(
                f"trial {trial}: {resource_type}: {len(twice)} of our ids more than once, "
                f"{short} fewer than an uninterrupted sync, {counts[None]} without our id"
            )
    if missing_patients:
        figures.problems.append(f"trial {trial}: patients not on the server: {missing_patients}")
