"""pytest plugin: the FHIR R4 test peer as fixtures.

Register it from the root conftest (``pytest_plugins`` is only honoured there)::

    # tests/conftest.py
    pytest_plugins = ["tests.peer.plugin"]

Fixtures:

* ``fhir_peer_server`` (session): one running :class:`~tests.peer.harness.PeerServer`, started on
  first use and stopped at the end of the session. Starting node costs ~1 s, so it is shared.
* ``fhir_peer`` (function): the same server, emptied with ``reset()`` before the test, so every
  test starts from an empty store.

Use ``.base_url`` for requests and ``.log_text()`` to quote the peer's request log in failures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peer.harness import PeerServer


@pytest.fixture(scope="session")
def fhir_peer_server() -> Iterator[PeerServer]:
    server = PeerServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fhir_peer(fhir_peer_server: PeerServer) -> Iterator[PeerServer]:
    fhir_peer_server.reset()
    yield fhir_peer_server
