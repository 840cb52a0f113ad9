"""Fixtures for projection tests that need a real vault: a clinic with a hand-moved clock, the
same as the service tests' (tests/services/conftest.py)."""

from __future__ import annotations

from tests.services.conftest import clinic, clock

__all__ = ["clinic", "clock"]
