"""Engines that stop opening the vault file once their vault is locked.

Vault.lock() disposes its engine, but objects built on the vault may keep the engine itself
(the read models' ProjectionRunner does), and a disposed SQLAlchemy engine still opens new
connections on demand: with the key in its URL it could read and write a locked vault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

from app.store.errors import VaultLockedError


def refuse_connections_unless(engine: Engine, allowed: Callable[[], bool]) -> None:
    """Every new connection of `engine` first asks `allowed()`; False raises VaultLockedError."""

    @event.listens_for(engine, "do_connect")
    def _only_while_allowed(*_: Any) -> None:
        if not allowed():
            raise VaultLockedError()
