"""Drafts in the store: a round trip per user, replace-on-save, and no plaintext on disk."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from app.store import drafts
from app.store.drafts import DraftRow
from app.store.vault import Vault
from tests.store.conftest import CreatedVault
from tests.store.helpers import ADMIN, PASSPHRASE
from tests.store.test_no_plaintext import MARKER, hits

AT = "2026-11-21T09:00:00.000+00:00"


def row(draft_id: str, user: str = ADMIN, text: str = "a note", at: str = AT) -> DraftRow:
    return DraftRow(draft_id, user, "NoteDialog", "Write note", f'{{"text": "{text}"}}', at)


def test_a_draft_round_trips_and_a_second_save_replaces_it(vault: Vault) -> None:
    drafts.save(vault.engine, ADMIN, [row("d1", text="first")])
    drafts.save(vault.engine, ADMIN, [row("d1", text="second"), row("d2", at="2026-11-20")])
    found = drafts.for_user(vault.engine, ADMIN)
    assert [(d.draft_id, d.body) for d in found] == [
        ("d2", '{"text": "a note"}'),  # oldest first
        ("d1", '{"text": "second"}'),
    ]


def test_drafts_are_kept_per_user(vault: Vault) -> None:
    drafts.save(vault.engine, ADMIN, [row("mine")])
    drafts.save(vault.engine, "bob", [row("his", user="bob")])
    assert [d.draft_id for d in drafts.for_user(vault.engine, ADMIN)] == ["mine"]
    assert [d.draft_id for d in drafts.for_user(vault.engine, "bob")] == ["his"]
    # Another user can neither delete nor overwrite them.
    assert drafts.remove(vault.engine, ADMIN, ["his"]) == 0
    with pytest.raises(IntegrityError):
        drafts.save(vault.engine, ADMIN, [row("his")])
    with pytest.raises(ValueError):
        drafts.save(vault.engine, ADMIN, [row("x", user="bob")])
    assert [d.body for d in drafts.for_user(vault.engine, "bob")] == ['{"text": "a note"}']
    assert drafts.remove(vault.engine, "bob", ["his"]) == 1
    assert drafts.for_user(vault.engine, "bob") == []


def test_saving_and_dropping_happen_together(vault: Vault) -> None:
    drafts.save(vault.engine, ADMIN, [row("old"), row("kept")])
    drafts.save(vault.engine, ADMIN, [row("new")], drop=["old"])
    assert sorted(d.draft_id for d in drafts.for_user(vault.engine, ADMIN)) == ["kept", "new"]


def test_drafts_survive_a_lock_and_are_encrypted_on_disk(created: CreatedVault) -> None:
    vault = created.vault
    drafts.save(vault.engine, ADMIN, [row(f"d{i}", text=f"{MARKER} {i}") for i in range(40)])
    assert hits(created.data_dir) == []  # the WAL holds them, encrypted
    vault.lock()
    assert hits(created.data_dir) == []
    again = Vault.open(created.data_dir)
    again.unlock(ADMIN, PASSPHRASE)
    try:
        found = drafts.for_user(again.engine, ADMIN)
        assert len(found) == 40 and MARKER in found[0].body
    finally:
        again.lock()
