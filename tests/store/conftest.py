"""Fixtures for the store tests: a freshly created vault in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from tests.store.helpers import ADMIN, PASSPHRASE


@dataclass
class CreatedVault:
    vault: Vault
    recovery_secret: str
    data_dir: Path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def created(data_dir: Path) -> Iterator[CreatedVault]:
    """A new vault (cheap test KDF) unlocked as its first admin; locked again afterwards."""
    vault, recovery = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    try:
        yield CreatedVault(vault, recovery, data_dir)
    finally:
        vault.lock()


@pytest.fixture
def vault(created: CreatedVault) -> Vault:
    return created.vault
