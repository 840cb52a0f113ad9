"""A real FHIR R4 server for the sync tests: Medplum on PostgreSQL + Redis, or a clinic's own.

Where the server comes from, in this order:

1. ``FIELDCHART_FHIR_BASE`` names one (a clinic's HAPI or Medplum, before go-live), with
   ``FIELDCHART_FHIR_TOKEN_URL``, ``FIELDCHART_FHIR_CLIENT_ID`` and
   ``FIELDCHART_FHIR_CLIENT_SECRET`` for OAuth2 client credentials (all three, or none for a
   server without authentication). Nothing is started or reconfigured there.
2. Otherwise ``../shared/realfhir`` next to the repository (``FIELDCHART_REALFHIR_DIR``
   overrides the path): its ``setup.sh`` and then ``start.sh`` run once per test run. start.sh
   reuses a server that is already running (about 1 s) and boots one otherwise (about a minute
   the first time, migrating and seeding its database).
3. Neither: no real server; the tests that need one are skipped with ``availability()``'s reason.

``FIELDCHART_REALFHIR=0`` skips the real server even when one is available.

``FIELDCHART_REALFHIR_ATOMIC=1|0`` (default 1): whether transaction Bundles are atomic. On the
realfhir server the test project's ``transaction-bundles`` feature is set to match for the run,
and its FHIR quota is turned off (``RealFhirServer.configure``); both are put back at the end of
the run. For a server named by the environment it declares what that server does, since the suite
cannot change it.

Requests go through httpx; the test client authenticates as the product does
(``ClientCredentialsAuth``), the super-admin client with ``TokenAuth``.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sync.fhir.auth import ClientCredentialsAuth

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO.parent / "shared" / "realfhir"
ENV_BASE = "FIELDCHART_FHIR_BASE"
ENV_TOKEN_URL = "FIELDCHART_FHIR_TOKEN_URL"
ENV_CLIENT_ID = "FIELDCHART_FHIR_CLIENT_ID"
ENV_CLIENT_SECRET = "FIELDCHART_FHIR_CLIENT_SECRET"
ENV_DIR = "FIELDCHART_REALFHIR_DIR"
ENV_ATOMIC = "FIELDCHART_REALFHIR_ATOMIC"
ENV_ENABLED = "FIELDCHART_REALFHIR"
ATOMIC_FEATURE = "transaction-bundles"
#: The Project system setting that turns Medplum's FHIR quota on or off.
QUOTA_SWITCH = "enableFhirQuota"
#: Tokens last an hour on Medplum; a cached one is used for at most this long.
TOKEN_REUSE_S = 50 * 60
START_TIMEOUT_S = 1800
_HTTP_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class RealFhirError(RuntimeError):
    """The real server could not be started, reached or configured."""


def atomic_wanted() -> bool:
    value = os.environ.get(ENV_ATOMIC, "1").strip()
    if value not in ("0", "1"):
        raise RealFhirError(f"{ENV_ATOMIC} must be 1 or 0, not {value!r}")
    return value == "1"


def realfhir_dir() -> Path:
    return Path(os.environ.get(ENV_DIR) or DEFAULT_DIR)


@dataclass(frozen=True)
class Availability:
    """Whether a real server can be had, and from where (or why not)."""

    source: str | None  # "env" | "realfhir" | None
    detail: str

    @property
    def available(self) -> bool:
        return self.source is not None


def availability() -> Availability:
    """Decided from the environment and the file system only: cheap, nothing is started."""
    if os.environ.get(ENV_ENABLED, "").strip() == "0":
        return Availability(None, f"{ENV_ENABLED}=0")
    base = os.environ.get(ENV_BASE, "").strip()
    if base:
        return Availability("env", f"{base} (from {ENV_BASE})")
    directory = realfhir_dir()
    if (directory / "start.sh").is_file():
        return Availability("realfhir", f"Medplum started by {directory}/start.sh")
    return Availability(
        None,
        f"no {directory}/start.sh and {ENV_BASE} is not set "
        f"(set {ENV_BASE}, {ENV_TOKEN_URL}, {ENV_CLIENT_ID}, {ENV_CLIENT_SECRET} "
        "to run them against your own server)",
    )


class _Token:
    """One client's access token, fetched by client credentials (client_secret_post) and
    reused for TOKEN_REUSE_S (or until shortly before it expires)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self._url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        self._lock = threading.Lock()
        self._token: str | None = None
        self._until = 0.0

    def get(self, *, fresh: bool = False) -> str:
        with self._lock:
            if fresh or self._token is None or time.monotonic() >= self._until:
                asked = time.monotonic()
                for wait in (1, 3, None):  # a loaded server's token endpoint can answer 5xx
                    response = httpx.post(self._url, data=self._form, timeout=_HTTP_TIMEOUT)
                    if response.status_code < 500 or wait is None:
                        break
                    time.sleep(wait)
                if response.status_code != 200:
                    raise RealFhirError(
                        f"token request to {self._url} -> {response.status_code}: "
                        f"{response.text[:300]}"
                    )
                body = response.json()
                lifetime = float(body.get("expires_in", 3600))
                self._token = str(body["access_token"])
                self._until = asked + min(TOKEN_REUSE_S, lifetime - 120)
            return self._token


class TokenAuth(httpx.Auth):
    """Sends a client's cached token (e.g. the super-admin's); on a 401 fetches a new one once."""

    def __init__(self, token: _Token) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self._token.get(fresh=True)}"
            yield request


@dataclass
class RealFhirServer:
    """A running real FHIR server and the credentials of a normal (not super-admin) client."""

    base_url: str
    token_url: str | None
    client_id: str | None
    client_secret: str | None
    atomic_tx: bool
    source: str
    project_id: str | None = None
    super_client_id: str | None = None
    super_client_secret: str | None = None
    _tokens: dict[str, _Token] = field(default_factory=dict, repr=False)
    _restore: dict[str, Any] | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never the secrets
        return f"RealFhirServer({self.base_url!r}, atomic_tx={self.atomic_tx}, {self.source})"

    @property
    def has_credentials(self) -> bool:
        return bool(self.token_url and self.client_id and self.client_secret)

    def _token_of(self, client_id: str | None, secret: str | None) -> _Token:
        if not (self.token_url and client_id and secret):
            raise RealFhirError(f"{self.base_url}: no client credentials for this server")
        if client_id not in self._tokens:
            self._tokens[client_id] = _Token(self.token_url, client_id, secret)
        return self._tokens[client_id]

    def token(self) -> str:
        """A client-credentials access token of the test client (cached about 50 minutes)."""
        return self._token_of(self.client_id, self.client_secret).get()

    def auth(self) -> httpx.Auth | None:
        """How the product's FhirClient authenticates to this server (None: no auth): OAuth2
        client credentials, the product's own ClientCredentialsAuth."""
        if not (self.token_url and self.client_id and self.client_secret):
            return None
        return ClientCredentialsAuth(self.token_url, self.client_id, self.client_secret)

    # -- admin (the realfhir server only) -------------------------------------------------------

    def _admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        token = self._token_of(self.super_client_id, self.super_client_secret).get()
        response = httpx.request(
            method,
            f"{self.base_url}/{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
            timeout=_HTTP_TIMEOUT,
        )
        if not response.is_success:
            raise RealFhirError(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
        result: dict[str, Any] = response.json()
        return result

    def configure(self, *, atomic: bool) -> None:
        """Set the test project's atomic transactions and turn its FHIR quota off, with the
        super-admin client. The quota (points per client a minute) is for a clinic, not for a
        test run's bursts; and Medplum 5.1's in-memory block renews itself on every refused
        request, so a client that many test runs share, once over it, stays refused for as long
        as any of them keeps sending. The first call remembers the project's settings for
        ``restore()``."""
        project = self._admin("GET", f"Project/{self.project_id}")
        if self._restore is None:
            self._restore = {k: project.get(k) for k in ("features", "systemSetting")}
        features = [f for f in project.get("features") or [] if f != ATOMIC_FEATURE]
        settings = [s for s in project.get("systemSetting") or [] if s["name"] != QUOTA_SWITCH]
        self._put_project(
            {
                "features": [*features, ATOMIC_FEATURE] if atomic else features,
                "systemSetting": [*settings, {"name": QUOTA_SWITCH, "valueBoolean": False}],
            }
        )
        self.atomic_tx = atomic

    def restore(self) -> None:
        """Put back the project settings ``configure()`` changed."""
        if self._restore is not None:
            self._put_project(self._restore)
            self._restore = None

    def _put_project(self, values: dict[str, Any]) -> None:
        project = self._admin("GET", f"Project/{self.project_id}")
        changed = {**project, **values}
        for key in [k for k, v in changed.items() if v in (None, [])]:
            del changed[key]
        if changed != project:
            self._admin("PUT", f"Project/{self.project_id}", changed)


def _parse_realfhir_line(stdout: str) -> dict[str, str]:
    for line in stdout.splitlines():
        if line.startswith("REALFHIR "):
            return dict(pair.split("=", 1) for pair in line.split()[1:] if "=" in pair)
    raise RealFhirError(f"start.sh printed no REALFHIR line; its stdout was:\n{stdout[-2000:]}")


def _run(script: Path) -> str:
    try:
        done = subprocess.run(
            [str(script)],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RealFhirError(f"{script} did not finish within {START_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise RealFhirError(
            f"{script} failed (exit {done.returncode}); the end of its output:\n"
            f"{(done.stdout + done.stderr)[-3000:]}"
        )
    return done.stdout


def start_realfhir(directory: Path | None = None) -> RealFhirServer:
    """setup.sh, then start.sh (setup first: on a fresh machine start.sh alone can read the
    PostgreSQL directory before setup has linked it), and the server it printed."""
    directory = directory or realfhir_dir()
    _run(directory / "setup.sh")
    values = _parse_realfhir_line(_run(directory / "start.sh"))
    return RealFhirServer(
        base_url=values["base"].rstrip("/"),
        token_url=values["token_url"],
        client_id=values["client_id"],
        client_secret=values["client_secret"],
        atomic_tx=values.get("atomic_tx") == "1",
        source=f"Medplum from {directory}",
        project_id=values["project_id"],
        super_client_id=values["super_client_id"],
        super_client_secret=values["super_client_secret"],
    )


def server_from_env() -> RealFhirServer:
    base = os.environ[ENV_BASE].strip().rstrip("/")
    named = {v: os.environ.get(v, "").strip() or None for v in (ENV_TOKEN_URL, ENV_CLIENT_ID)}
    secret = os.environ.get(ENV_CLIENT_SECRET, "").strip() or None
    given = [v for v, value in {**named, ENV_CLIENT_SECRET: secret}.items() if value]
    if given and len(given) != 3:
        raise RealFhirError(
            f"{ENV_BASE} is set with only {', '.join(given)}: give all of {ENV_TOKEN_URL}, "
            f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}, or none for a server without auth"
        )
    return RealFhirServer(
        base_url=base,
        token_url=named[ENV_TOKEN_URL],
        client_id=named[ENV_CLIENT_ID],
        client_secret=secret,
        atomic_tx=atomic_wanted(),
        source=f"from {ENV_BASE}",
    )


def provide() -> RealFhirServer:
    """The real server of this test run, ready: started, token checked, atomicity as asked."""
    where = availability()
    if where.source == "env":
        server = server_from_env()
    elif where.source == "realfhir":
        server = start_realfhir()
        server.configure(atomic=atomic_wanted())
    else:
        raise RealFhirError(f"no real FHIR server: {where.detail}")
    if server.has_credentials:
        server.token()  # wrong credentials fail here, once, with the token endpoint's answer
    try:
        httpx.get(f"{server.base_url}/metadata", timeout=_HTTP_TIMEOUT).raise_for_status()
    except httpx.HTTPError as exc:
        raise RealFhirError(f"{server.base_url}/metadata: {exc}") from None
    return server
