"""Issue 12 (IT): re-enabling a user, recovery secrets typed with look-alikes, and the audit
of admin actions and refused unlocks (kept beside the locked vault, written into the log at
the next unlock)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.domain import events as ev
from app.domain.roles import Actor, Role
from app.store.crypto import FAST_FOR_TESTS
from app.store.errors import (
    NotAVaultError,
    PermissionDeniedError,
    UnknownUserError,
    UserDisabledError,
    UserExistsError,
    WrongPassphraseError,
    WrongRecoverySecretError,
)
from app.store.keyslots import (
    CROCKFORD,
    RECOVERY_SLOT,
    KeySlotFile,
    normalise_recovery,
    user_slot_id,
)
from app.store.vault import PENDING_AUDIT_FILE, SLOTS_FILE, Vault
from tests.store.conftest import CreatedVault
from tests.store.helpers import ADMIN, PASSPHRASE

AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
BOB, BOB_PASS = "bob", "bobs passphrase"


def clock() -> datetime:
    return AT


def reopen(data_dir: Path) -> Vault:
    return Vault.open(data_dir, sleep=lambda _s: None, clock=clock)


def audit_events(vault: Vault) -> list[tuple[str, Mapping[str, Any], str]]:
    stream = ev.audit_stream_of(vault.device_id)
    return [(r.type, r.payload, r.metadata.user) for r in vault.events.read_stream(stream)]


# -- the recovery secret --------------------------------------------------------------------


def test_a_new_recovery_secret_is_crockford_base32_and_its_lookalikes_are_accepted(
    created: CreatedVault,
) -> None:
    secret = created.recovery_secret
    groups = secret.split("-")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)
    assert set(secret.replace("-", "")) <= set(CROCKFORD)  # no I, L, O or U
    assert KeySlotFile.load(created.data_dir / SLOTS_FILE).recovery_alphabet == "crockford"
    created.vault.lock()
    # Typed from paper: every 0 as O, every 1 as I or l, lower case, spaces for hyphens.
    typed = secret.replace("0", "o").replace("1", "I").replace("-", " ").lower()
    typed = typed.replace("i", "l", 1)
    vault = reopen(created.data_dir)
    assert vault.unlock_with_recovery(typed) == Actor("recovery", Role.ADMIN)
    vault.lock()


def test_lookalikes_map_only_where_the_alphabet_leaves_no_doubt() -> None:
    assert normalise_recovery("o1lI-0", "crockford") == b"01110"
    # RFC 4648 (older vaults): 0 can only be O; 1 could be I or L, so it is left as typed.
    assert normalise_recovery("0ab1-l", "rfc4648") == b"OAB1L"


def test_an_older_vaults_recovery_secret_still_opens_it(created: CreatedVault) -> None:
    """A vault made before Crockford secrets: RFC 4648 base32, no alphabet in the slot file."""
    created.vault.lock()
    path = created.data_dir / SLOTS_FILE
    slots = KeySlotFile.load(path)
    vault_key = slots.unwrap_vault_key(user_slot_id(ADMIN), PASSPHRASE.encode())
    old_secret = "OBOE-IL27-ABCD-EFGH-IJKL-MNOP-QRST-UVWX"
    # Older vaults had no signing keys either (docs/security/roles-and-signatures.md).
    slots.signing_anchor = slots.signing_genesis_recovery = None
    slots.wrap(RECOVERY_SLOT, old_secret.replace("-", "").encode(), vault_key, FAST_FOR_TESTS)
    slots.recovery_alphabet = "rfc4648"
    slots.save(path)
    assert "recovery_alphabet" not in json.loads(path.read_bytes())
    assert KeySlotFile.load(path).recovery_alphabet == "rfc4648"

    vault = reopen(created.data_dir)
    assert vault.unlock_with_recovery(old_secret.lower()).user == "recovery"
    vault.lock()
    # A typed 0 can only be O there; a typed 1 could be I or L, so it is not guessed.
    assert vault.unlock_with_recovery(old_secret.replace("O", "0")).user == "recovery"
    vault.lock()
    with pytest.raises(WrongRecoverySecretError):
        vault.unlock_with_recovery(old_secret.replace("I", "1"))

    data = json.loads(path.read_bytes())
    path.write_text(json.dumps({**data, "recovery_alphabet": "klingon"}))
    with pytest.raises(NotAVaultError):
        KeySlotFile.load(path)


def test_a_wrong_recovery_secret_is_refused_and_audited(created: CreatedVault) -> None:
    created.vault.lock()
    vault = reopen(created.data_dir)
    with pytest.raises(WrongRecoverySecretError):
        vault.unlock_with_recovery("0000-0000-0000-0000-0000-0000-0000-0000")
    vault.unlock(ADMIN, PASSPHRASE)
    assert vault.fold_pending_audit() == 1
    assert ("UnlockFailed", "recovery", "wrong-recovery-secret") in [
        (t, p["user"], p["reason"]) for t, p, _u in audit_events(vault)
    ]
    vault.lock()


# -- users ----------------------------------------------------------------------------------


def test_an_admin_enables_a_disabled_user_with_a_new_passphrase(created: CreatedVault) -> None:
    vault = created.vault
    vault.add_user(BOB, Role.CLINICIAN, BOB_PASS, kdf=FAST_FOR_TESTS)
    vault.disable_user(BOB)
    with pytest.raises(UserExistsError, match="not disabled"):
        vault.enable_user(ADMIN, "a new passphrase")
    with pytest.raises(UnknownUserError):
        vault.enable_user("nobody", "a new passphrase")
    with pytest.raises(ValueError, match="at least 8"):
        vault.enable_user(BOB, "short")
    vault.enable_user(BOB, "bobs second passphrase")
    assert [u.disabled for u in vault.list_users() if u.name == BOB] == [False]
    vault.lock()

    again = reopen(created.data_dir)
    with pytest.raises(WrongPassphraseError):
        again.unlock(BOB, BOB_PASS)  # the old slot is gone for good
    assert again.unlock(BOB, "bobs second passphrase") == Actor(BOB, Role.CLINICIAN)
    with pytest.raises(PermissionDeniedError):
        again.enable_user(BOB, "whatever passphrase")
    again.lock()


def test_a_disabled_user_cannot_be_reset_before_being_enabled(created: CreatedVault) -> None:
    created.vault.add_user(BOB, Role.STAFF, BOB_PASS, kdf=FAST_FOR_TESTS)
    created.vault.disable_user(BOB)
    with pytest.raises(UserDisabledError, match="enables them first"):
        created.vault.reset_passphrase(BOB, "a new passphrase")


# -- the audit ------------------------------------------------------------------------------


def test_admin_actions_are_events_in_the_devices_audit_stream(created: CreatedVault) -> None:
    vault = created.vault
    vault.add_user(BOB, Role.CLINICIAN, BOB_PASS, kdf=FAST_FOR_TESTS)
    vault.disable_user(BOB)
    vault.enable_user(BOB, "bobs second passphrase")
    vault.reset_passphrase(BOB, "bobs third passphrase")
    vault.change_passphrase(ADMIN, PASSPHRASE, "the admins new passphrase")
    vault.lock()
    again = reopen(created.data_dir)
    again.unlock_with_recovery(created.recovery_secret)
    again.reset_passphrase(BOB, "bobs fourth passphrase")
    seen = [(p["action"], p["subject"], p["detail"], u) for _t, p, u in audit_events(again)]
    assert seen == [
        ("UserAdded", BOB, "clinician", ADMIN),
        ("UserDisabled", BOB, "", ADMIN),
        ("UserEnabled", BOB, "", ADMIN),
        ("PassphraseReset", BOB, "admin", ADMIN),
        ("PassphraseChanged", ADMIN, "", ADMIN),
        ("PassphraseReset", BOB, "recovery secret", "recovery"),
    ]
    again.lock()
    raw = (created.data_dir / "vault.db").read_bytes()
    assert b"bobs fourth" not in raw and b"PassphraseReset" not in raw  # all inside the seal


def test_refused_unlocks_wait_beside_the_vault_and_join_the_log_when_it_next_opens(
    created: CreatedVault,
) -> None:
    created.vault.add_user(BOB, Role.STAFF, BOB_PASS, kdf=FAST_FOR_TESTS)
    created.vault.disable_user(BOB)
    created.vault.lock()
    vault = reopen(created.data_dir)
    with pytest.raises(WrongPassphraseError):
        vault.unlock(ADMIN, "not the passphrase")
    with pytest.raises(UnknownUserError):
        vault.unlock("my secret passphrase", "x")  # typed into the wrong field
    with pytest.raises(UserDisabledError):
        vault.unlock(BOB, BOB_PASS)
    pending = created.data_dir / PENDING_AUDIT_FILE
    text = pending.read_text()
    assert "my secret" not in text and "not the passphrase" not in text
    assert "x" not in json.loads(text)[1].values()
    assert [(r["user"], r["reason"], r["at"]) for r in json.loads(text)] == [
        (ADMIN, "wrong-passphrase", "2026-11-21T09:30:00.000+00:00"),
        ("", "unknown-user", "2026-11-21T09:30:00.000+00:00"),
        (BOB, "disabled-user", "2026-11-21T09:30:00.000+00:00"),
    ]

    vault.unlock(ADMIN, PASSPHRASE)
    assert pending.exists()  # until the clinic opens (open_clinic folds them in)
    assert vault.fold_pending_audit() == 3
    assert not pending.exists()
    failed = [
        (p["user"], p["reason"], p["failed_at"])
        for t, p, _u in audit_events(vault)
        if t == "UnlockFailed"
    ]
    assert failed[-3:] == [
        (ADMIN, "wrong-passphrase", "2026-11-21T09:30:00.000+00:00"),
        ("", "unknown-user", "2026-11-21T09:30:00.000+00:00"),
        (BOB, "disabled-user", "2026-11-21T09:30:00.000+00:00"),
    ]
    vault.lock()
    again = reopen(created.data_dir)
    again.unlock(ADMIN, PASSPHRASE)
    assert again.fold_pending_audit() == 0  # written once, not again
    assert len([1 for t, _p, _u in audit_events(again) if t == "UnlockFailed"]) == 3
    again.lock()


def test_a_passphrase_changed_without_unlocking_is_audited_at_the_next_unlock(
    created: CreatedVault,
) -> None:
    created.vault.lock()
    vault = reopen(created.data_dir)  # as `fieldchart passwd` does
    vault.change_passphrase(ADMIN, PASSPHRASE, "a brand new passphrase")
    assert not vault.is_unlocked
    vault.unlock(ADMIN, "a brand new passphrase")
    vault.fold_pending_audit()
    changed = [(t, p["action"], p["subject"], p["occurred_at"]) for t, p, _u in audit_events(vault)]
    assert changed[-1] == (
        "AdminActionRecorded",
        "PassphraseChanged",
        ADMIN,
        "2026-11-21T09:30:00.000+00:00",
    )
    vault.lock()


def test_the_pending_records_keep_at_most_a_thousand(tmp_path: Path) -> None:
    from app.store.pending_audit import MAX_RECORDS, PendingAudit

    pending = PendingAudit(tmp_path / "p.json")
    for i in range(MAX_RECORDS + 5):
        pending.add("UnlockFailed", "", "unknown-user", f"t{i}")
    records = pending.records()
    assert len(records) == MAX_RECORDS
    assert records[0] == {"kind": "Dropped", "dropped": "6"}
    assert records[-1]["at"] == f"t{MAX_RECORDS + 4}"


def test_a_wrong_passphrase_while_signed_in_goes_straight_into_the_log(
    created: CreatedVault,
) -> None:
    vault = created.vault
    with pytest.raises(WrongPassphraseError):
        vault.change_passphrase(ADMIN, "not the current one", "a brand new passphrase")
    assert not (created.data_dir / PENDING_AUDIT_FILE).exists()
    assert [(t, p["user"], p["reason"]) for t, p, _u in audit_events(vault)] == [
        ("UnlockFailed", ADMIN, "wrong-passphrase")
    ]
