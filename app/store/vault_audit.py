"""The vault's own audit on this device: admin actions and refused unlocks.

A refused unlock or a passphrase changed without unlocking happens while the log is closed, so
it is kept in a small pending file and folded into the audit stream at the next unlock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.domain import events as ev
from app.domain.roles import Actor
from app.store.database import write_transaction
from app.store.event_log import ANY_VERSION, EventMetadata, NewEvent
from app.store.pending_audit import PendingAudit

if TYPE_CHECKING:
    from app.store.vault import Vault


class VaultAudit:
    """Appends to the audit stream of the vault's device, or keeps records for later."""

    def __init__(self, vault: Vault, pending: PendingAudit, clock: Callable[[], datetime]) -> None:
        self._vault = vault
        self._pending = pending
        # The time of audit records (refused unlocks, admin actions): the app's clock.
        self._clock = clock

    def now(self) -> str:
        """The audit clock's time, as records carry it."""
        return self._clock().isoformat(timespec="milliseconds")

    def record_admin_action(
        self,
        action: str,
        subject: str = "",
        detail: str = "",
        conn: Connection | None = None,
        *,
        actor: Actor | None = None,
    ) -> None:
        """Append an admin action (by `actor`, default the signed-in user) to this device's
        audit stream. Only names go in: never a passphrase, secret or setting's value."""
        actor = actor or self._vault.actor
        event = ev.AdminActionRecorded(action=action, subject=subject, detail=detail)
        self._append([self._audit_event(event, actor.user, actor.role.value)], conn)

    def record_or_keep(self, action: str, subject: str) -> None:
        """Record an admin action now, or keep it for the next unlock if the vault is locked
        (e.g. `fieldchart passwd` changes a passphrase without unlocking)."""
        if self._vault.is_unlocked:
            self.record_admin_action(action, subject)
        else:
            self._pending.add(action, subject, "", self.now())

    def record_refused_unlock(self, name: str, reason: str) -> None:
        """A refused unlock by `name` ("" if the name may be a mistyped passphrase)."""
        at = self.now()
        if self._vault.is_unlocked:  # e.g. a wrong current passphrase while changing it
            event = ev.UnlockFailed(user=name, reason=reason, failed_at=at)
            self._append([self._audit_event(event, name or "?", "")])
        else:
            self._pending.add("UnlockFailed", name, reason, at)

    def fold_pending(self) -> int:
        """Write the records kept while the vault was locked into the audit stream; returns
        how many. A failure keeps them for the next unlock: the audit must not stop a clinic
        from working."""
        records = self._pending.records()
        if not records:
            return 0
        new = [self._pending_event(r) for r in records]
        try:
            with write_transaction(self._vault.engine) as conn:
                self._append(new, conn)
        except (SQLAlchemyError, OSError):
            return 0
        self._pending.clear()
        return len(new)

    def _pending_event(self, record: dict[str, str]) -> NewEvent:
        at = record.get("at", "")
        if record["kind"] == "UnlockFailed":
            event: ev.DomainEvent = ev.UnlockFailed(
                user=record.get("user", ""), reason=record.get("reason", ""), failed_at=at
            )
            who = record.get("user", "") or "?"
        elif record["kind"] == "Dropped":
            event = ev.UnlockFailed(
                user="", reason=f"{record.get('dropped', '?')} older records not kept", failed_at=""
            )
            who = "?"
        else:
            event = ev.AdminActionRecorded(
                action=record["kind"], subject=record.get("user", ""), occurred_at=at
            )
            who = record.get("user", "") or "?"
        return self._audit_event(event, who, "", at)

    def _append(self, new: list[NewEvent], conn: Connection | None = None) -> None:
        stream = ev.audit_stream_of(self._vault.device_id)
        self._vault.events.append(stream, ANY_VERSION, new, conn)

    def _audit_event(self, event: ev.DomainEvent, user: str, role: str, at: str = "") -> NewEvent:
        now = self.now()
        metadata = EventMetadata(
            command_id=str(uuid.uuid4()),
            user=user,
            role=role,
            device_id=self._vault.device_id,
            recorded_at=now,
            occurred_at=at or now,
        )
        return NewEvent.of(event, metadata)
