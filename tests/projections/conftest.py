"""Fixtures for projection tests that need a real vault: a clinic with a hand-moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.clinic import Clinic
from tests.clinic_fixtures import FakeClock, clinic_in


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clinic(tmp_path: Path, clock: FakeClock) -> Iterator[Clinic]:
    with clinic_in(tmp_path / "vault", clock) as opened:
        yield opened
