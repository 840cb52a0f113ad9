"""Users of a vault and their key slots: add, disable, enable, change or reset a passphrase.

A user exists twice: a row in the encrypted `users` table (name, role, whether disabled) and,
while they may sign in, a key slot wrapping the vault key with their passphrase. Every change
here keeps the two in step and records an admin action.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, select, update

from app.domain.roles import Actor, Role
from app.i18n import _
from app.store import crypto, schema
from app.store.crypto import KdfParams
from app.store.database import read_transaction, write_transaction
from app.store.errors import (
    PermissionDeniedError,
    UnknownUserError,
    UserDisabledError,
    UserExistsError,
)
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile, user_slot_id
from app.store.role_grants import ADD, DISABLE, ENABLE, RESET, Grant
from app.store.slot_lock import SlotsChangedError
from app.store.vault_audit import VaultAudit
from app.store.vault_credentials import RECOVERY_USER, check_passphrase, check_user_name

if TYPE_CHECKING:
    from app.store.vault import Vault


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role
    created_at: str
    disabled: bool


def require_admin(actor: Actor, what: str) -> None:
    """PermissionDeniedError unless `actor` is an admin."""
    if actor.role is not Role.ADMIN:
        raise PermissionDeniedError(
            _("only an admin may {what}; you are {role}").format(what=what, role=actor.role)
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class VaultUsers:
    """User administration of one vault. The vault passes in what only it holds: its key
    slots, its vault key and its throttled unlock check, and `update_slots`: the slots read
    again under the cross-process key-slot lock (app/store/slot_lock.py), which every change
    here holds from its checks until its slots are saved."""

    def __init__(
        self,
        vault: Vault,
        audit: VaultAudit,
        *,
        key_slots: Callable[[], KeySlotFile],
        vault_key: Callable[[], bytearray],
        unwrap_for: Callable[[str, str], bytearray],
        update_slots: Callable[[bytearray | None], AbstractContextManager[KeySlotFile]],
    ) -> None:
        self._vault = vault
        self._audit = audit
        self._key_slots = key_slots
        self._vault_key = vault_key
        self._unwrap_for = unwrap_for
        self._update_slots = update_slots

    def list_users(self) -> list[UserInfo]:
        """Every user, disabled ones too, by name."""
        with read_transaction(self._vault.engine) as conn:
            rows = conn.execute(select(schema.users).order_by(schema.users.c.name)).all()
        return [UserInfo(r.name, Role(r.role), r.created_at, bool(r.disabled)) for r in rows]

    def add_user(
        self, name: str, role: Role, passphrase: str, *, kdf: KdfParams | None = None
    ) -> UserInfo:
        """A new user with their own key slot (admin only)."""
        require_admin(self._vault.actor, "add users")
        check_user_name(name)
        check_passphrase(passphrase)
        with self._update_slots(None) as slots:
            taken = {u.name for u in self.list_users()}
            if user_slot_id(name) in slots.slots or name == RECOVERY_USER or name in taken:
                raise UserExistsError(
                    _(
                        "user '{name}' already exists (names of disabled users stay "
                        "taken, so the audit trail stays unambiguous)"
                    ).format(name=name)
                )
            info = UserInfo(name, role, _now(), False)
            with write_transaction(self._vault.engine) as conn:
                conn.execute(
                    insert(schema.users).values(
                        name=name, role=role.value, created_at=info.created_at, disabled=False
                    )
                )
                self._wrap_slot(
                    slots,
                    user_slot_id(name),
                    passphrase,
                    kdf,
                    (conn, lambda public: Grant(ADD, name, role.value, public)),
                )
                self._audit.record_admin_action("UserAdded", name, role.value, conn)
        return info

    def disable_user(self, name: str) -> None:
        """Stop `name` signing in: their slot goes at once (admin only, not oneself)."""
        require_admin(self._vault.actor, "disable users")
        if name == self._vault.actor.user:
            raise PermissionDeniedError(_("you cannot disable the user you are signed in as"))
        with self._update_slots(None) as slots:
            if user_slot_id(name) not in slots.slots and name not in slots.reset_required:
                raise UnknownUserError(
                    _("there is no user '{name}' in this vault").format(name=name)
                )
            with write_transaction(self._vault.engine) as conn:
                conn.execute(
                    update(schema.users).where(schema.users.c.name == name).values(disabled=True)
                )
                # Removing the slot makes the disabled user's passphrase useless at once.
                slots.slots.pop(user_slot_id(name), None)
                slots.reset_required.discard(name)
                slots.disabled.add(name)
                self._grant(conn, Grant(DISABLE, name))
                self._audit.record_admin_action("UserDisabled", name, "", conn)
                slots.save(self._vault.slots_path)

    def enable_user(self, name: str, passphrase: str, *, kdf: KdfParams | None = None) -> None:
        """Let a disabled user sign in again. Disabling removed their key slot, so they get a
        new passphrase (the admin tells it to them in person; they can change it later)."""
        require_admin(self._vault.actor, "enable users")
        check_passphrase(passphrase)
        with self._update_slots(None) as slots:
            if name not in slots.disabled:
                if name in {u.name for u in self.list_users()}:
                    raise UserExistsError(_("user '{name}' is not disabled").format(name=name))
                raise UnknownUserError(
                    _("there is no user '{name}' in this vault").format(name=name)
                )
            with write_transaction(self._vault.engine) as conn:
                conn.execute(
                    update(schema.users).where(schema.users.c.name == name).values(disabled=False)
                )
                self._audit.record_admin_action("UserEnabled", name, "", conn)
                slots.disabled.discard(name)
                self._wrap_slot(
                    slots,
                    user_slot_id(name),
                    passphrase,
                    kdf,
                    (conn, lambda public: Grant(ENABLE, name, "", public)),
                )

    def change_passphrase(self, user: str, old: str, new: str) -> None:
        """Rewrap one user's slot; proves the old passphrase first."""
        check_passphrase(new)
        slot_id = user_slot_id(user)
        proven = self._key_slots().slots.get(slot_id)  # the slot the old passphrase opens
        # Proved outside the lock: the throttle's wait and Argon2id hold up nobody else.
        key = self._unwrap_for(user, old)
        # The signing key the old passphrase opened, sealed again under the new one.
        signing_key = self._key_slots().take_signing_key(slot_id)
        try:
            with self._update_slots(key) as slots:
                if user in slots.disabled:
                    raise UserDisabledError(
                        _("user '{user}' was disabled meanwhile").format(user=user)
                    )
                if slots.slots.get(slot_id) != proven:
                    raise SlotsChangedError(
                        _(
                            "the key slot of '{user}' was changed meanwhile by another "
                            "FieldChart command (a passphrase change or reset, or a key "
                            "rotation); nothing was changed: try again with the current "
                            "passphrase"
                        ).format(user=user)
                    )
                slots.wrap(slot_id, new.encode(), key, slots.slots[slot_id].kdf, signing_key)
                slots.save(self._vault.slots_path)
        finally:
            crypto.wipe(key)
            crypto.wipe(signing_key)
        self._audit.record_or_keep("PassphraseChanged", user)

    def reset_passphrase(self, user: str, new: str) -> None:
        """An admin (or the recovery secret) sets a new passphrase for a user who forgot it."""
        require_admin(self._vault.actor, "reset passphrases")
        check_passphrase(new)
        with self._update_slots(None) as slots:
            if user in slots.disabled:
                raise UserDisabledError(
                    _("user '{user}' is disabled; an admin enables them first").format(user=user)
                )
            if user_slot_id(user) not in slots.slots and user not in slots.reset_required:
                raise UnknownUserError(
                    _("there is no user '{user}' in this vault").format(user=user)
                )
            slots.reset_required.discard(user)
            by = "recovery secret" if self._vault.actor.user == RECOVERY_USER else "admin"
            with write_transaction(self._vault.engine) as conn:
                self._audit.record_admin_action("PassphraseReset", user, by, conn)
                self._wrap_slot(
                    slots,
                    user_slot_id(user),
                    new,
                    None,
                    (conn, lambda public: Grant(RESET, user, "", public)),
                )

    def _wrap_slot(
        self,
        slots: KeySlotFile,
        slot_id: str,
        passphrase: str,
        kdf: KdfParams | None,
        grant: tuple[Connection, Callable[[bytes | None], Grant]],
    ) -> None:
        """Wrap the vault key with `passphrase` into `slot_id` of `slots` (read under the
        key-slot lock), with a new signing key once the vault signs, record the signed grant
        of that key (`grant`: the change's transaction, and the grant given the key's public
        half) and save the slots. Without `kdf`, the recovery slot's cost: the one set when
        the vault was created."""
        vault_key = self._vault_key()
        recovery = slots.slots[RECOVERY_SLOT]
        signing_key = self._vault.signing.new_key()
        try:
            slots.wrap(slot_id, passphrase.encode(), vault_key, kdf or recovery.kdf, signing_key)
        finally:
            crypto.wipe(signing_key)
        signing = slots.slots[slot_id].signing
        conn, grant_of = grant
        self._grant(conn, grant_of(None if signing is None else signing.public))
        slots.save(self._vault.slots_path)

    def _grant(self, conn: Connection, grant: Grant) -> None:
        """The signed grant of a user change, in the change's own transaction."""
        self._vault.signing.record_grant(grant, conn)
