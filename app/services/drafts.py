"""Drafts: a user's unsaved task forms, kept in the vault across a lock (or quit).

Rules (docs/ui.md, "Drafts and locking"):
- A draft belongs to the user who typed it. Only that user is ever shown it; another user
  unlocking the same device sees nothing of it, and cannot discard it.
- A draft is dropped only when its user decides: the form is saved, its changes are
  discarded (answering "Discard"), or the user discards the offered drafts. Nothing expires
  silently: a draft older than STALE_AFTER_DAYS is still offered, with its date, and is
  never reopened without asking.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.domain.roles import Actor
from app.services.clock import Clock
from app.store import drafts as store
from app.store.vault import Vault

# Older drafts are offered with their age instead of being reopened without asking: the
# chart may have moved on meanwhile, so the user should decide whether the draft still holds.
STALE_AFTER_DAYS = 14
BODY_VERSION = 1


@dataclass(frozen=True)
class DraftForm:
    """An open form as the UI captures it: which form, for what, and its field values."""

    draft_id: str  # the form's id (its command id), stable across save/restore
    form: str  # the name of the form in the UI's reopen registry
    title: str
    context: dict[str, Any] = field(default_factory=dict)  # what reopening the form needs
    fields: dict[str, Any] = field(default_factory=dict)  # field name -> captured value


@dataclass(frozen=True)
class Draft(DraftForm):
    saved_at: str = ""  # ISO 8601 instant of the last save

    def saved(self) -> datetime:
        return datetime.fromisoformat(self.saved_at)

    def is_stale(self, now: datetime) -> bool:
        return now - self.saved() > timedelta(days=STALE_AFTER_DAYS)


class DraftsService:
    def __init__(self, vault: Vault, clock: Clock) -> None:
        self._vault = vault
        self._clock = clock

    def keep(
        self, actor: Actor, forms: Sequence[DraftForm], drop: Iterable[str] = ()
    ) -> list[Draft]:
        """Save the open forms of `actor` (replacing earlier saves of the same forms) and drop
        `drop` (forms reopened from a draft that no longer hold changes), in one transaction."""
        now = self._clock().isoformat(timespec="milliseconds")
        rows = [
            store.DraftRow(
                draft_id=f.draft_id,
                user=actor.user,
                form=f.form,
                title=f.title,
                body=json.dumps(
                    {"version": BODY_VERSION, "context": f.context, "fields": f.fields},
                    ensure_ascii=False,
                ),
                saved_at=now,
            )
            for f in forms
        ]
        store.save(self._vault.engine, actor.user, rows, drop)
        return [Draft(f.draft_id, f.form, f.title, f.context, f.fields, now) for f in forms]

    def pending(self, actor: Actor) -> list[Draft]:
        """The drafts of `actor` (no one else's), oldest first."""
        found = []
        for row in store.for_user(self._vault.engine, actor.user):
            body = json.loads(row.body)
            found.append(
                Draft(
                    row.draft_id,
                    row.form,
                    row.title,
                    dict(body.get("context", {})),
                    dict(body.get("fields", {})),
                    row.saved_at,
                )
            )
        return found

    def discard(self, actor: Actor, draft_ids: Iterable[str]) -> int:
        """Drop drafts of `actor` (the user decided); ids of other users' drafts do nothing."""
        return store.remove(self._vault.engine, actor.user, draft_ids)

    def now(self) -> datetime:
        return self._clock()
