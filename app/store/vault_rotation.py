"""Planning a key rotation: the key slots a vault will have after it, and who loses access.

The plan is worked out while the vault is unlocked and changes nothing on disk; the vault then
locks itself and `rekey.rotate_file` re-encrypts the file and installs the planned slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.i18n import _
from app.store import crypto
from app.store.crypto import DecryptionError
from app.store.errors import KeyRotationError, WrongPassphraseError
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile, user_slot_id
from app.store.vault_credentials import (
    RECOVERY_USER,
    new_recovery_secret,
    normalise_new_recovery,
)


@dataclass(frozen=True)
class KeyRotation:
    generation: int  # of the new data key
    recovery_secret: str | None  # new recovery secret (only with a new vault key), shown once
    need_new_passphrase: list[str]  # users whose slot a new vault key removed


@dataclass(frozen=True)
class RotationPlan:
    """The slots after a rotation, and the keys the caller wipes once it is done."""

    next_slots: KeySlotFile  # already wrapping `new_data_key` with `vault_key`
    vault_key: bytearray  # a new one, or a copy of the current one
    new_data_key: bytearray
    generation: int
    recovery_secret: str | None

    def outcome(self, before: KeySlotFile) -> KeyRotation:
        """What the admin is told: the new generation, a new secret, who needs a passphrase."""
        lost = sorted(self.next_slots.reset_required - before.reset_required)
        return KeyRotation(self.generation, self.recovery_secret, lost)


def plan_rotation(
    slots: KeySlotFile,
    admin: str,
    vault_key: bytearray,
    *,
    new_vault_key: bool,
    passphrase: str,
    signing_key: bytearray | None = None,
) -> RotationPlan:
    """The slots after giving the vault a new data key, wrapped by the current `vault_key`
    or, with `new_vault_key`, by a new one that only `admin` (re-wrapped with `passphrase`)
    and a new recovery secret open. The admin's slot keeps their `signing_key`; the new
    recovery slot has none until its first use introduces one (app/store/vault_signing.py)."""
    if admin == RECOVERY_USER:
        raise KeyRotationError(_("sign in as an admin user (not the recovery secret) to rotate"))
    if slots.legacy and not new_vault_key:
        raise KeyRotationError(
            _(
                "this vault's key slots hold the data key itself (it was created by an older "
                "FieldChart), so a new data key needs a new vault key: use --new-vault-key"
            )
        )
    next_slots = KeySlotFile(
        vault_id=slots.vault_id,
        first_admin=slots.first_admin,
        slots=dict(slots.slots),
        disabled=set(slots.disabled),
        reset_required=set(slots.reset_required),
        recovery_alphabet=slots.recovery_alphabet,
        signing_anchor=slots.signing_anchor,
        signing_genesis_recovery=slots.signing_genesis_recovery,
    )
    generation = 1 if slots.data_key is None else slots.data_key.generation + 1
    recovery: str | None = None
    if new_vault_key:
        _prove_passphrase(slots, admin, passphrase)
        wrapping_key = crypto.random_key()
        recovery = _keep_only_admin_and_new_recovery(
            slots, next_slots, admin, passphrase, wrapping_key, signing_key
        )
    else:
        wrapping_key = bytearray(vault_key)
    new_data_key = crypto.random_key()
    next_slots.set_data_key(wrapping_key, new_data_key, generation, _now())
    return RotationPlan(next_slots, wrapping_key, new_data_key, generation, recovery)


def _prove_passphrase(slots: KeySlotFile, admin: str, passphrase: str) -> None:
    """The passphrase will re-wrap the admin's slot: it must be theirs."""
    try:
        crypto.wipe(slots.unwrap_vault_key(user_slot_id(admin), passphrase.encode()))
        crypto.wipe(slots.take_signing_key(user_slot_id(admin)))  # opened too; not needed
    except DecryptionError:
        raise WrongPassphraseError(
            _("wrong passphrase for user '{admin}'").format(admin=admin)
        ) from None


def _keep_only_admin_and_new_recovery(
    slots: KeySlotFile,
    next_slots: KeySlotFile,
    admin: str,
    passphrase: str,
    new_vault_key: bytearray,
    signing_key: bytearray | None,
) -> str:
    """Empty `next_slots` but for `admin` and a new recovery slot, both wrapping
    `new_vault_key`; every other user is marked as needing a new passphrase. Returns the new
    recovery secret."""
    mine = user_slot_id(admin)
    next_slots.slots = {}
    next_slots.reset_required |= {
        sid.removeprefix("user:") for sid in slots.slots if sid.startswith("user:")
    } - {admin}
    kdf = slots.slots[mine].kdf
    next_slots.wrap(mine, passphrase.encode(), new_vault_key, kdf, signing_key)
    recovery = new_recovery_secret()
    next_slots.recovery_alphabet = "crockford"
    next_slots.wrap(
        RECOVERY_SLOT,
        normalise_new_recovery(recovery),
        new_vault_key,
        slots.slots[RECOVERY_SLOT].kdf,
    )
    return recovery


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
