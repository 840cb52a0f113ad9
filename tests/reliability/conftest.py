"""Fixtures of the small (in-suite) size of the reliability experiments."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.common import SMALL, Size


@pytest.fixture(scope="session")
def size() -> Size:
    return SMALL


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the session: the plaintext scan reads what every test left there."""
    return tmp_path_factory.mktemp("reliability")
