"""Start and stop the FHIR R4 test peer (``server.mjs``) from Python.

The peer is a real FHIR server that this project did not write: Medplum's request router over
its in-memory repository, behind a small ``node:http`` front (see README.md here). This module
only runs it; installing its node dependencies is a separate step (``npm ci --prefix tests/peer``).

    with PeerServer() as peer:
        httpx.get(f"{peer.base_url}/metadata")
        peer.reset()          # empty the store between tests

Only the standard library and httpx are used.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

import httpx

PEER_DIR = Path(__file__).resolve().parent
SERVER_SCRIPT = PEER_DIR / "server.mjs"
# Present once `npm ci` has run; checked so that a missing install gives a clear message rather
# than a node stack trace about an unresolvable package.
_INSTALL_MARKER = PEER_DIR / "node_modules" / "@medplum" / "fhir-router" / "package.json"

_READY_PREFIX = "LISTENING "


class PeerServerError(RuntimeError):
    """The peer could not be started or stopped responding."""


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Stop the node process group: SIGTERM, then SIGKILL if it lingers. Idempotent."""
    if proc.poll() is None:
        # The peer runs in its own session, so its pid is also its process-group id. Signal the
        # group so nothing it might spawn is orphaned. poll() above guards against signalling a
        # group id that was already reaped and could have been reused.
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, None)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _cleanup(proc: subprocess.Popen[bytes], log_file, log_path: str) -> None:
    """Finaliser: runs on stop()-less garbage collection and at interpreter exit."""
    _terminate(proc)
    log_file.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(log_path)


class PeerServer:
    """One ``node server.mjs`` process on a free loopback port.

    Construct, then ``start()`` (or use as a context manager). ``stop()`` ends the process; so does
    garbage collection or interpreter exit. Node's stderr (one line per request, plus errors) goes
    to a temporary log file readable with ``log_text()``; it is deleted when the object is
    collected, so failure messages can still quote it after ``stop()``.
    """

    def __init__(self, *, startup_timeout: float = 30.0, node: str | None = None) -> None:
        self.startup_timeout = startup_timeout
        self.node = node or os.environ.get("FHIR_PEER_NODE") or shutil.which("node")
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: str | None = None
        self._finalizer: weakref.finalize[..., Any] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> PeerServer:
        if self._proc is not None:
            raise PeerServerError("PeerServer already started")
        if not _INSTALL_MARKER.exists():
            raise RuntimeError(
                "The FHIR test peer's node dependencies are not installed "
                f"({PEER_DIR / 'node_modules'} is missing). "
                "Run `npm ci --prefix tests/peer` from the repository root."
            )
        if not self.node:
            raise RuntimeError(
                "`node` (Node.js 20+) was not found on PATH; the FHIR test peer needs it."
            )

        # Not a `with` block: the file must outlive this method (node writes to it until stopped);
        # the finalizer below closes and deletes it.
        log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="fhir-peer-", suffix=".log", delete=False
        )
        self._log_path = log_file.name
        self._proc = subprocess.Popen(
            [self.node, str(SERVER_SCRIPT), "--port", "0", "--exit-on-stdin-close"],
            cwd=PEER_DIR,
            # The peer exits when this pipe closes, i.e. when this Python process goes away for
            # any reason (even SIGKILL), so no node process outlives the test run.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            start_new_session=True,  # own process group, signalled as a whole on stop
        )
        self._finalizer = weakref.finalize(self, _cleanup, self._proc, log_file, self._log_path)

        try:
            self.port = self._wait_until_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_listening(self) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = self._proc.stdout
        # readline() blocks, so read the one ready line on a daemon thread and wait with a timeout.
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=self.startup_timeout).decode("utf-8", "replace").strip()
        except queue.Empty:
            raise PeerServerError(
                f"FHIR test peer did not report LISTENING within {self.startup_timeout}s.\n"
                f"{self._log_tail()}"
            ) from None
        if not line.startswith(_READY_PREFIX):
            exit_code = self._proc.poll()
            raise PeerServerError(
                f"FHIR test peer failed to start (exit code {exit_code}, "
                f"first stdout line {line!r}).\n{self._log_tail()}"
            )
        return int(line[len(_READY_PREFIX) :])

    def stop(self) -> None:
        """Stop node (SIGTERM to its process group, SIGKILL after 5 s). Safe to call twice."""
        if self._proc is not None:
            _terminate(self._proc)

    def __enter__(self) -> PeerServer:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- use -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """FHIR base, e.g. ``http://127.0.0.1:43817`` (resources at ``{base_url}/Patient/...``)."""
        if self.port is None:
            raise PeerServerError("PeerServer is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def reset(self) -> None:
        """Empty the store (all resources and history) via the test-only ``POST /$reset``."""
        if not self.running:
            raise PeerServerError(f"FHIR test peer is not running.\n{self._log_tail()}")
        try:
            response = httpx.post(f"{self.base_url}/$reset", timeout=10.0)
        except httpx.HTTPError as err:
            raise PeerServerError(
                f"FHIR test peer reset failed: {err!r}\n{self._log_tail()}"
            ) from err
        if response.status_code != 200:
            raise PeerServerError(
                f"FHIR test peer reset returned {response.status_code}: {response.text}\n"
                f"{self._log_tail()}"
            )

    def log_text(self) -> str:
        """Everything node wrote to stderr so far (request log and errors)."""
        if not self._log_path:
            return ""
        try:
            return Path(self._log_path).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _log_tail(self, lines: int = 40) -> str:
        tail = "\n".join(self.log_text().splitlines()[-lines:])
        return f"--- FHIR test peer log ({self._log_path}) ---\n{tail}"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<PeerServer {self.base_url if self.port else 'unstarted'} {state}>"
