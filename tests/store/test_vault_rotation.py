"""Planning a key rotation, on key slots in memory: who keeps access and with which keys."""

from __future__ import annotations

import pytest

from app.store import crypto
from app.store.crypto import FAST_FOR_TESTS, DecryptionError
from app.store.errors import KeyRotationError, WrongPassphraseError
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile, user_slot_id
from app.store.vault_credentials import normalise_new_recovery
from app.store.vault_rotation import plan_rotation

USERS = ("admin", "doc", "desk")


def passphrase_of(user: str) -> bytes:
    return f"{user} passphrase".encode()


def clinic_slots(vault_key: bytearray) -> KeySlotFile:
    """An admin, a clinician and the desk, plus a recovery slot, at data key generation 3."""
    slots = KeySlotFile("vault-1", "admin", recovery_alphabet="crockford")
    slots.set_data_key(vault_key, crypto.random_key(), 3, "2026-12-01T09:00:00.000+00:00")
    for user in USERS:
        slots.wrap(user_slot_id(user), passphrase_of(user), vault_key, FAST_FOR_TESTS)
    slots.wrap(RECOVERY_SLOT, b"old secret", vault_key, FAST_FOR_TESTS)
    return slots


def test_a_new_data_key_leaves_every_slot_working() -> None:
    vault_key = crypto.random_key()
    slots = clinic_slots(vault_key)
    plan = plan_rotation(slots, "admin", vault_key, new_vault_key=False, passphrase="")
    assert plan.generation == 4 and plan.recovery_secret is None
    assert plan.vault_key == vault_key and plan.vault_key is not vault_key  # a copy to wipe
    for user in USERS:
        key = plan.next_slots.unwrap(user_slot_id(user), passphrase_of(user))
        assert key == plan.new_data_key
    assert plan.outcome(slots).need_new_passphrase == []
    assert slots.data_key is not None and slots.data_key.generation == 3  # planned, not done


def test_a_new_vault_key_keeps_only_the_admin_and_a_new_recovery_secret() -> None:
    vault_key = crypto.random_key()
    slots = clinic_slots(vault_key)
    plan = plan_rotation(
        slots, "admin", vault_key, new_vault_key=True, passphrase="admin passphrase"
    )
    assert plan.recovery_secret is not None
    assert set(plan.next_slots.slots) == {user_slot_id("admin"), RECOVERY_SLOT}
    assert plan.next_slots.unwrap(user_slot_id("admin"), passphrase_of("admin")) == (
        plan.new_data_key
    )
    recovery = normalise_new_recovery(plan.recovery_secret)
    assert plan.next_slots.unwrap(RECOVERY_SLOT, recovery) == plan.new_data_key
    assert plan.outcome(slots).need_new_passphrase == ["desk", "doc"]
    with pytest.raises(DecryptionError):  # the old vault key opens nothing any more
        plan.next_slots.open_data_key(vault_key)


def test_a_new_vault_key_needs_the_admins_own_passphrase() -> None:
    vault_key = crypto.random_key()
    with pytest.raises(WrongPassphraseError):
        plan_rotation(
            clinic_slots(vault_key), "admin", vault_key, new_vault_key=True, passphrase="wrong!!!"
        )


def test_the_recovery_secret_cannot_rotate() -> None:
    vault_key = crypto.random_key()
    with pytest.raises(KeyRotationError):
        plan_rotation(
            clinic_slots(vault_key), "recovery", vault_key, new_vault_key=False, passphrase=""
        )


def test_a_format_1_vault_needs_a_new_vault_key() -> None:
    data_key = crypto.random_key()
    legacy = KeySlotFile("vault-1", "admin")
    legacy.wrap(user_slot_id("admin"), passphrase_of("admin"), data_key, FAST_FOR_TESTS)
    with pytest.raises(KeyRotationError, match="--new-vault-key"):
        plan_rotation(legacy, "admin", data_key, new_vault_key=False, passphrase="")
