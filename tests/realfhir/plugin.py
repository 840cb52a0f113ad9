"""pytest plugin: a real FHIR server (tests/realfhir/harness.py) and the peer-or-real fixture.

Registered from the root conftest (``pytest_plugins``). Fixtures:

* ``real_fhir_server`` (session): the :class:`RealFhirServer` of this run, started (or found)
  on first use. Tests that use it are marked ``realfhir``; without a real server they are
  deselected, and the run ends with one line that says so and why.
* ``fhir_server`` (function), parametrized ``peer`` / ``real``: a :class:`FhirServer`, the
  small interface the sync tests share. The peer is emptied before each test (``fhir_peer``);
  the real server is never restarted or wiped: each test makes new patients (new ids) and
  asserts only on its own (``isolated`` is False there). Data piles up over runs;
  ``../shared/realfhir/stop.sh --wipe`` deletes it.

The report header says in one line which real server the run uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.fhir.client import FhirClient
from tests.peer.harness import PeerServer
from tests.realfhir.harness import (
    ENV_ATOMIC,
    RealFhirError,
    RealFhirServer,
    atomic_wanted,
    availability,
    provide,
)

#: How a device enrolled on the real server authenticates: OAuth2 client credentials.
CLIENT_SECRET_MODE = "client-secret-basic"


@dataclass
class FhirServer:
    """A FHIR server a sync test runs against: the in-memory peer or the real one."""

    name: str  # "peer" | "real"
    base_url: str
    #: True when the server holds only this test's data (the peer, reset before each test);
    #: on a shared real server a test counts and searches only its own patients.
    isolated: bool
    _auth: Callable[[], httpx.Auth | None]
    _settings: Callable[[], dict[str, Any]]
    peer: PeerServer | None = None
    real: RealFhirServer | None = None

    def auth(self) -> httpx.Auth | None:
        """What a FhirClient authenticates with (None for the peer)."""
        return self._auth()

    def settings(self) -> dict[str, Any]:
        """The device settings that enrol a vault on this server (server_url, auth_mode, …)."""
        return self._settings()

    def client(self) -> FhirClient:
        return FhirClient(self.base_url, self.auth())

    def enroll_args(self, directory: Path) -> list[str]:
        """`fieldchart enroll` flags that connect a vault to this server (with a client secret,
        in a file written to `directory`, where it has credentials)."""
        settings = self.settings()
        args = ["--server", self.base_url, "--auth", settings["auth_mode"]]
        if "client_secret" in settings:
            secret_file = directory / "client-secret"
            secret_file.write_text(settings["client_secret"])
            args += ["--token-url", settings["token_url"], "--client-id", settings["client_id"]]
            args += ["--client-secret-file", str(secret_file)]
        return args


def peer_server(peer: PeerServer) -> FhirServer:
    return FhirServer(
        "peer",
        peer.base_url,
        True,
        lambda: None,
        lambda: {"server_url": peer.base_url, "auth_mode": "none"},
        peer=peer,
    )


def real_server(real: RealFhirServer) -> FhirServer:
    def settings() -> dict[str, Any]:
        if not real.has_credentials:
            return {"server_url": real.base_url, "auth_mode": "none"}
        return {
            "server_url": real.base_url,
            "auth_mode": CLIENT_SECRET_MODE,
            "token_url": real.token_url,
            "client_id": real.client_id,
            "client_secret": real.client_secret,
        }

    return FhirServer("real", real.base_url, False, real.auth, settings, real=real)


_NOT_RUN = pytest.StashKey[int]()


def pytest_report_header(config: pytest.Config) -> str | None:
    where = availability()
    if not where.available:
        return None  # said once, with the count, at the end (pytest_terminal_summary)
    atomic = "on" if atomic_wanted() else "off"
    return f"real FHIR server: {where.detail}; atomic transactions {atomic} ({ENV_ATOMIC})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a real server its tests are deselected (not skipped one by one) and the run
    says so once; a test that uses `real_fhir_server` counts as marked `realfhir`."""
    for item in items:
        if "real_fhir_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realfhir)
    if availability().available:
        return
    real = [item for item in items if item.get_closest_marker("realfhir")]
    if real:
        config.hook.pytest_deselected(items=real)
        items[:] = [item for item in items if not item.get_closest_marker("realfhir")]
    config.stash[_NOT_RUN] = len(real)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    not_run = config.stash.get(_NOT_RUN, 0)
    if not_run:
        terminalreporter.write_line(
            f"real FHIR server: none, so its {not_run} tests did not run: {availability().detail}"
        )


@pytest.fixture(scope="session")
def real_fhir_server() -> Iterator[RealFhirServer]:
    where = availability()
    if not where.available:
        pytest.skip(f"no real FHIR server: {where.detail}")
    server: RealFhirServer | None = None
    try:
        server = provide()
    except RealFhirError as exc:
        problem = str(exc)
    if server is None:  # failed outside the except block: one message, not a chain of two
        pytest.fail(f"the real FHIR server ({where.detail}) is not usable: {problem}", False)
    try:
        yield server
    finally:
        server.restore()


@pytest.fixture(
    params=[
        pytest.param("peer", marks=pytest.mark.peer),
        pytest.param("real", marks=pytest.mark.realfhir),
    ]
)
def fhir_server(request: pytest.FixtureRequest) -> FhirServer:
    if request.param == "peer":
        return peer_server(request.getfixturevalue("fhir_peer"))
    return real_server(request.getfixturevalue("real_fhir_server"))
