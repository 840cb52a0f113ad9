"""What the UI and CLI see of sync: status DTOs and the small control surface.

The sync package implements SyncControl; the UI only ever sees these types (and a Qt bridge
re-emits the callbacks as signals on the GUI thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from app.i18n import N_, _, ngettext
from app.i18n.formatting import count, number

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


#: A held server change's resolution for the same button (Edit is not offered for them).
HELD_RESOLUTION = {Resolution.KEEP_MINE: "keep-ours", Resolution.TAKE_SERVERS: "accept-server"}


@dataclass(frozen=True)
class SyncProgress:
    """How far a phase is: ``total`` 0 when unknown (the server did not say); ``seconds_left``
    estimated from the pace so far (None until there is one)."""

    phase: str  # "push", "pull", "rebase"
    done: int
    total: int
    bytes: int = 0
    seconds_left: float | None = None

    def text(self) -> str:
        """One line for a person: "Downloading records: 1,200 of 8,000 — about 2 min left"."""
        english = _PHASE_TEXT.get(self.phase)
        # english: one of the N_-marked _PHASE_TEXT
        label = _(english) if english else self.phase.capitalize()
        if self.total:
            done = _("{done} of {total}").format(done=count(self.done), total=count(self.total))
        else:
            done = count(self.done)
        if self.seconds_left is None:
            # Translators: sync progress, e.g. "Downloading records: 1,200 of 8,000"
            return _("{phase}: {done}").format(phase=label, done=done)
        # Translators: sync progress, e.g. "Downloading records: 1,200 of 8,000 — about 2 min left"
        return _("{phase}: {done} — {time_left}").format(
            phase=label, done=done, time_left=_about(self.seconds_left)
        )


_PHASE_TEXT = {
    "push": N_("Sending changes"),
    "pull": N_("Downloading records"),
    "rebase": N_("Re-applying changes"),
}


def _about(seconds: float) -> str:
    """A rough time left, as a person says it."""
    if seconds < 60:
        return _("less than a minute left")
    minutes = round(seconds / 60)
    if minutes < 90:
        return ngettext("about {count} min left", "about {count} min left", minutes).format(
            count=minutes
        )
    return _("about {hours} h left").format(hours=number(round(seconds / 3600, 1)))


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
    # "conflict": a pending command (resolved by ResolveSyncConflict); "identity-change" and
    # "moved-between-patients": a held server change (resolved by sync/held_changes.py).
    kind: str = "conflict"


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
    # Why an OFFLINE device waits when the server was reached: "rate-limited" (the server
    # asked us to wait, Retry-After) or "busy" (another sync of this vault runs); "" otherwise.
    waiting_for: str = ""


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
