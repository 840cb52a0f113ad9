"""Opening a key slot: with a user's passphrase or with the recovery secret.

Each attempt checks the slot first (disabled, needs a new passphrase, unknown), waits out a
delay that grows with failures (counted per user across processes), and leaves every refusal
in the audit.
"""

from __future__ import annotations

from collections.abc import Callable

from app.i18n import _
from app.store.crypto import DecryptionError
from app.store.errors import (
    PassphraseResetRequiredError,
    UnknownUserError,
    UserDisabledError,
    WrongPassphraseError,
    WrongRecoverySecretError,
)
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile, normalise_recovery, user_slot_id
from app.store.throttle import Throttle
from app.store.vault_audit import VaultAudit
from app.store.vault_credentials import RECOVERY_USER

# How a refused slot is named in the audit.
REFUSAL_REASONS: dict[type[Exception], str] = {
    UserDisabledError: "disabled-user",
    PassphraseResetRequiredError: "passphrase-reset-required",
    UnknownUserError: "unknown-user",
}


class SlotOpener:
    """Unwraps the vault key from one slot of the vault's key-slot file."""

    def __init__(
        self, key_slots: Callable[[], KeySlotFile], throttle: Throttle, audit: VaultAudit
    ) -> None:
        self._key_slots = key_slots
        self._throttle = throttle
        self._audit = audit

    def with_passphrase(self, user: str, passphrase: str) -> bytearray:
        """The vault key from `user`'s slot: the slot checked, then a throttled attempt."""
        try:
            self._check_slot(user)
        except (UserDisabledError, PassphraseResetRequiredError, UnknownUserError) as exc:
            self._note_failure(user, REFUSAL_REASONS[type(exc)])
            raise
        return self._throttled_unwrap(
            user,
            user_slot_id(user),
            passphrase.encode(),
            WrongPassphraseError(_("wrong passphrase for user '{user}'").format(user=user)),
        )

    def with_recovery_secret(self, secret: str) -> bytearray:
        """The vault key from the recovery slot, in a throttled attempt."""
        slots = self._key_slots()
        return self._throttled_unwrap(
            RECOVERY_USER,
            RECOVERY_SLOT,
            normalise_recovery(secret, slots.recovery_alphabet),
            WrongRecoverySecretError(_("wrong recovery secret")),
        )

    def _note_failure(self, who: str, reason: str) -> None:
        """Keep a refused unlock for the audit. A name is kept only if this vault knows it:
        what was typed may be a passphrase."""
        slots = self._key_slots()
        known = (
            who == RECOVERY_USER
            or user_slot_id(who) in slots.slots
            or who in slots.disabled
            or who in slots.reset_required
        )
        self._audit.record_refused_unlock(who if known else "", reason)

    def _throttled_unwrap(
        self, who: str, slot_id: str, secret: bytes, wrong: Exception
    ) -> bytearray:
        slots = self._key_slots()
        self._throttle.wait_before_attempt(who)
        try:
            vault_key = slots.unwrap_vault_key(slot_id, secret)
        except DecryptionError:
            # False: a full or read-only disk kept the count from being written (the throttle
            # waited instead); the attempt is refused all the same.
            counted = self._throttle.record_failure(who)
            reason = "wrong-recovery-secret" if slot_id == RECOVERY_SLOT else "wrong-passphrase"
            self._note_failure(who, reason)
            if not counted:
                raise type(wrong)(
                    f"{wrong} (this failure could not be recorded: the disk is full or read-only)"
                ) from None
            raise wrong from None
        self._throttle.record_success(who)
        return vault_key

    def _check_slot(self, user: str) -> None:
        slots = self._key_slots()
        if user in slots.disabled:
            raise UserDisabledError(_("user '{user}' is disabled").format(user=user))
        if user in slots.reset_required:
            raise PassphraseResetRequiredError(
                _(
                    "user '{user}' needs a new passphrase: a key rotation "
                    "replaced the vault key; an admin sets one (`fieldchart "
                    "recover --user {user}`)"
                ).format(user=user)
            )
        if user_slot_id(user) not in slots.slots:
            raise UnknownUserError(_("there is no user '{user}' in this vault").format(user=user))
