"""What the UI and CLI see of sync: status DTOs and the small control surface.

The sync package implements SyncControl; the UI only ever sees these types (and a Qt bridge
re-emits the callbacks as signals on the GUI thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

# Sync and the UI read outbox states, and the error a locked vault raises, from here.
from app.store.errors import VaultLockedError as VaultLockedError
from app.store.outbox import OutboxStatus as OutboxStatus


class SyncState(StrEnum):
    NOT_CONFIGURED = "not-configured"
    IDLE = "idle"
    SYNCING = "syncing"
    OFFLINE = "offline"  # network unreachable; retrying at `next_attempt_at`
    ERROR = "error"  # needs a person (auth failure, server rejects, ...)


class Resolution(StrEnum):
    KEEP_MINE = "keep-mine"
    TAKE_SERVERS = "take-servers"
    EDIT = "edit"


@dataclass(frozen=True)
class SyncProgress:
    phase: str  # "push", "pull", "rebase"
    done: int
    total: int
    bytes: int = 0


@dataclass(frozen=True)
class AttentionItem:
    """A pending command that could not be applied automatically: both values shown."""

    command_id: str
    command_type: str
    patient_id: str | None
    field: str | None
    mine: str | None
    servers: str | None
    message: str


@dataclass(frozen=True)
class SyncStatus:
    state: SyncState
    server_url: str | None = None
    progress: SyncProgress | None = None
    last_success_at: str | None = None
    next_attempt_at: str | None = None
    pending: int = 0
    needs_attention: int = 0
    last_error: str | None = None
    attention: list[AttentionItem] = field(default_factory=list)


NOT_CONFIGURED = SyncStatus(SyncState.NOT_CONFIGURED)


class SyncControl(Protocol):
    def status(self) -> SyncStatus: ...

    def sync_now(self) -> None: ...

    def subscribe(self, callback: Callable[[SyncStatus], None]) -> None: ...

    def resolve(
        self, command_id: str, resolution: Resolution, edited_value: str | None = None
    ) -> None: ...

    def reconfigure(self) -> None:
        """The device settings changed (server, auth, interval): restart from them."""
        ...

    def stop(self) -> None:
        """Stop background work (the running cycle finishes): the vault is about to lock."""
        ...


class UnconfiguredSync:
    """Stands in until a server is enrolled: always reports NOT_CONFIGURED."""

    def status(self) -> SyncStatus:
        return NOT_CONFIGURED

    def sync_now(self) -> None:
        return None

    def subscribe(self, callback: Callable[[SyncStatus], None]) -> None:
        callback(NOT_CONFIGURED)

    def resolve(
        self, command_id: str, resolution: Resolution, edited_value: str | None = None
    ) -> None:
        return None

    def reconfigure(self) -> None:
        return None

    def stop(self) -> None:
        return None
