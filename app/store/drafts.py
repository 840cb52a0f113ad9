"""Unsaved task forms ("drafts") kept per user inside the encrypted vault.

A draft holds what a clinician typed into a form that was still open when the app locked or
quit. It is patient data, so it lives only in this table of the SQLCipher file (encrypted at
rest like everything else in it) -- never in QSettings, temp files or logs. Rows are keyed by
the form's id; saving the same form again replaces its row. Every read and delete names the
user, so one user's drafts are never handed to another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select

from app.store import schema
from app.store.database import read_transaction, write_transaction


@dataclass(frozen=True)
class DraftRow:
    draft_id: str
    user: str
    form: str  # which form (a name the UI's reopen registry knows)
    title: str  # the form's title, e.g. "Write note — Otieno, Juma"
    body: str  # JSON: what the form needs to reopen and the values of its fields
    saved_at: str  # ISO 8601 instant, from the clinic clock


def save(engine: Engine, user: str, rows: Sequence[DraftRow], drop: Iterable[str] = ()) -> None:
    """Save `rows` of `user` (replacing earlier saves of the same drafts) and delete the drafts
    `drop` of `user`, in one durable transaction: a lock is never left half recorded."""
    table = schema.drafts
    with write_transaction(engine) as conn:
        for row in rows:
            if row.user != user:
                raise ValueError("a draft can only be saved for its own user")
            # Only the owner's row is replaced: a draft id of another user's fails the insert.
            conn.execute(
                delete(table).where(table.c.draft_id == row.draft_id, table.c.user == user)
            )
            conn.execute(
                insert(table).values(
                    draft_id=row.draft_id,
                    user=user,
                    form=row.form,
                    title=row.title,
                    body=row.body,
                    saved_at=row.saved_at,
                )
            )
        ids = list(drop)
        if ids:
            conn.execute(delete(table).where(table.c.user == user, table.c.draft_id.in_(ids)))


def for_user(engine: Engine, user: str) -> list[DraftRow]:
    """The drafts of `user`, oldest first."""
    table = schema.drafts
    with read_transaction(engine) as conn:
        rows = conn.execute(
            select(table).where(table.c.user == user).order_by(table.c.saved_at, table.c.draft_id)
        ).all()
    return [DraftRow(r.draft_id, r.user, r.form, r.title, r.body, r.saved_at) for r in rows]


def remove(engine: Engine, user: str, draft_ids: Iterable[str]) -> int:
    """Delete drafts of `user` by id (ids of other users' drafts are ignored); returns how many."""
    ids = list(draft_ids)
    if not ids:
        return 0
    table = schema.drafts
    with write_transaction(engine) as conn:
        result = conn.execute(delete(table).where(table.c.user == user, table.c.draft_id.in_(ids)))
    return int(result.rowcount or 0)
