"""A session's signing key: opened at unlock, checked against the signed grants, used to sign
every event the session appends, and the grants its user changes make.

At unlock (`start`):
- a vault without a trust anchor (created before signing keys) stays unsigned until an admin
  unlocks it: that unlock is the migration. It gives the admin a key, makes it the anchor and
  writes the signed baseline: the anchor grant and one grant per user and for the recovery
  secret, with the roles the users table has at that moment, awaiting their keys;
- a user awaiting a key (baseline, or the recovery secret after a key rotation) gets one,
  sealed into their slot with their secret, and introduces it with a self-signed grant;
- the session's role is the one the signed grants give, never the users table's; a user no
  valid grant names, a disabled one, or one whose slot holds another key than the granted one
  is refused (TamperError / UserDisabledError), as a broken hash chain is.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from app.domain import events as ev
from app.domain.roles import Role
from app.i18n import _
from app.store import crypto, signatures
from app.store.database import read_transaction, write_transaction
from app.store.errors import TamperError, UserDisabledError
from app.store.event_log import ANY_VERSION, EventMetadata, NewEvent
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile, user_slot_id
from app.store.role_grants import (
    ADD,
    ANCHOR,
    DISABLE,
    GRANTS_STREAM,
    INTRODUCE,
    RECOVERY_ROLE,
    Grant,
    GrantState,
)
from app.store.signature_check import SignatureReport, check_signatures, users_table_mismatches
from app.store.slot_lock import SlotsChangedError
from app.store.vault_credentials import RECOVERY_USER

if TYPE_CHECKING:
    from app.store.vault import Vault

TAIL_SIGNATURES_AT_UNLOCK = 1000  # events whose signatures unlock checks (verify: all)
SlotsForUpdate = Callable[[], contextlib.AbstractContextManager[KeySlotFile]]


class SessionSigning:
    """The signing side of one vault handle's sessions. The vault passes in what only it
    holds: its key slots, its vault key, and its slots read again under the key-slot lock."""

    def __init__(
        self,
        vault: Vault,
        *,
        key_slots: Callable[[], KeySlotFile],
        vault_key: Callable[[], bytearray],
        slots_for_update: SlotsForUpdate,
        now: Callable[[], str],
    ) -> None:
        self._vault = vault
        self._key_slots = key_slots
        self._vault_key = vault_key
        self._slots_for_update = slots_for_update
        self._now = now
        self.signer: signatures.EventSigner | None = None

    # -- unlock ------------------------------------------------------------------------

    def start(self, user: str, secret: bytes, private: bytearray | None, table_role: str) -> str:
        """Sign this session's events as `user` (who opened their slot with `secret`, which
        held `private`); returns the role the signed grants give them."""
        try:
            return self._start(user, secret, private, table_role)
        finally:
            crypto.wipe(private)

    def _start(self, user: str, secret: bytes, private: bytearray | None, table_role: str) -> str:
        slots, vault = self._key_slots(), self._vault
        if slots.signing_anchor is None:
            if table_role != Role.ADMIN.value or user == RECOVERY_USER:
                return table_role  # unsigned until an admin's unlock migrates the vault
            private = self._seal_new_key(user, secret, private, anchor=True)
            self._write_baseline(user, private)
            return Role.ADMIN.value
        head = vault.events.head_position()
        report, state = self.check(max(0, head - TAIL_SIGNATURES_AT_UNLOCK), authors=False)
        if report.problems:
            raise TamperError(report.problems[0][1], report.problems[0][0])
        if not state.started:  # the anchor was set, its grant not written (a crash between)
            if (
                user == slots.first_admin
                and private is not None
                and signatures.public_of(private) == slots.signing_anchor
            ):
                self._write_baseline(user, private)
                return Role.ADMIN.value
            raise TamperError(
                _(
                    "this vault's signed baseline is missing: its first admin "
                    "('{first_admin}') unlocks it to write it"
                ).format(first_admin=slots.first_admin)
            )
        principal = state.principals.get(user)
        if principal is None:
            raise TamperError(
                _("no signed grant makes '{user}' a user of this vault").format(user=user)
            )
        if principal.disabled:
            raise UserDisabledError(
                _("user '{user}' is disabled (by a signed grant)").format(user=user)
            )
        have = None if private is None else signatures.public_of(private)
        if principal.public is not None and have != principal.public:
            raise TamperError(
                _(
                    "the signing key in the key slot of '{user}' is not the one "
                    "the signed grants give them: someone else may have claimed "
                    "it; tell IT (`fieldchart verify`)"
                ).format(user=user)
            )
        if principal.public is None:  # awaiting its first key: introduce it
            if private is None:
                private = self._seal_new_key(user, secret, None, anchor=False)
            self._install(user, private)
            self.record_grant(Grant(INTRODUCE, user, "", signatures.public_of(private)))
        else:
            assert private is not None
            self._install(user, private)
        return principal.role

    def check(
        self, from_position: int = 0, *, authors: bool = True
    ) -> tuple[SignatureReport, GrantState]:
        """Signatures (and, with `authors`, roles) of the log after `from_position`, and
        every grant."""
        slots = self._key_slots()
        with read_transaction(self._vault.engine) as conn:
            return check_signatures(
                conn,
                self._vault.events,
                slots.vault_id,
                slots.signing_anchor,
                slots.first_admin,
                from_position,
                slots.signing_genesis_recovery,
                authors=authors,
            )

    def verify(self) -> tuple[SignatureReport, list[str]]:
        """The whole log's signatures, and where the users table disagrees with the grants."""
        report, state = self.check(0)
        if self._key_slots().signing_anchor is not None and not state.started:
            report.problems.append(
                (0, "the key-slot file names a trust anchor, but the log has no anchor grant")
            )
        with read_transaction(self._vault.engine) as conn:
            return report, users_table_mismatches(conn, state)

    def forget(self) -> None:
        if self.signer is not None:
            self.signer.forget()
        self.signer = None

    # -- what user changes use ---------------------------------------------------------

    def new_key(self) -> bytearray | None:
        """A key for a user being added, enabled or reset; None while the vault is unsigned."""
        if self._key_slots().signing_anchor is None:
            return None
        return signatures.new_private_key()

    def record_grant(self, grant: Grant, conn: Connection | None = None) -> None:
        """Append `grant`, signed by this session's user (nothing in an unsigned session)."""
        if self.signer is None:
            return
        actor = self._vault.actor
        role = RECOVERY_ROLE if actor.user == RECOVERY_USER else actor.role.value
        record = grant.record(self.signer.name, role, self._vault.device_id, self._now())
        self._vault.events.append(GRANTS_STREAM, ANY_VERSION, [record], conn)

    def private_key(self) -> bytearray | None:
        """This session's private key (to seal again, e.g. by a key rotation); caller wipes."""
        return None if self.signer is None else self.signer.private_bytes()

    # -- internals ---------------------------------------------------------------------

    def _install(self, user: str, private: bytearray) -> None:
        self.signer = signatures.EventSigner(self._vault.vault_id, user, private)
        self._vault.events.row_hook = self.signer

    def _seal_new_key(
        self, user: str, secret: bytes, private: bytearray | None, *, anchor: bool
    ) -> bytearray:
        """Seal a new key (or the one the slot holds) into `user`'s slot with `secret`; with
        `anchor`, make it the vault's trust anchor first (it is bound into the slot)."""
        key = private if private is not None else signatures.new_private_key()
        slot_id = RECOVERY_SLOT if user == RECOVERY_USER else user_slot_id(user)
        before = self._key_slots().slots.get(slot_id)
        with self._slots_for_update() as slots:
            if slots.slots.get(slot_id) != before:
                raise SlotsChangedError(
                    _(
                        "the key slot of '{user}' was changed meanwhile by another "
                        "FieldChart command; nothing was changed: sign in again"
                    ).format(user=user)
                )
            if anchor:
                if slots.signing_anchor is not None:
                    raise SlotsChangedError(_("another admin migrated the vault: sign in again"))
                slots.signing_anchor = signatures.public_of(key)
            slot = slots.slots[slot_id]
            slots.wrap(slot_id, secret, self._vault_key(), slot.kdf, key)
            slots.save(self._vault.slots_path)
        return bytearray(key)

    def _write_baseline(self, admin: str, private: bytearray) -> None:
        """The anchor grant, then every other user's and the recovery secret's, as the users
        table and key slots have them now, in one transaction."""
        self._install(admin, private)
        grants = [Grant(ANCHOR, admin, Role.ADMIN.value, signatures.public_of(private))]
        slots = self._key_slots()
        with write_transaction(self._vault.engine) as conn:
            rows = conn.exec_driver_sql("SELECT name, role, disabled FROM users ORDER BY name")
            for name, role, disabled in rows.all():
                if name == admin:
                    continue
                slot = slots.slots.get(user_slot_id(name))
                held = slot.signing.public if slot and slot.signing else None
                grants.append(Grant(ADD, name, role, held))
                if disabled:
                    grants.append(Grant(DISABLE, name))
            recovery = slots.slots.get(RECOVERY_SLOT)
            key = recovery.signing.public if recovery and recovery.signing else None
            grants.append(Grant(ADD, RECOVERY_USER, RECOVERY_ROLE, key))
            now = self._now()
            device = self._vault.device_id
            records = [g.record(admin, Role.ADMIN.value, device, now) for g in grants]
            self._vault.events.append(GRANTS_STREAM, ANY_VERSION, records, conn)
            self._vault.events.append(
                ev.audit_stream_of(self._vault.device_id),
                ANY_VERSION,
                [self._audit(admin, len(grants), now)],
                conn,
            )

    def _audit(self, admin: str, count: int, now: str) -> NewEvent:
        metadata = EventMetadata(str(uuid.uuid4()), admin, "admin", self._vault.device_id, now, now)
        event = ev.AdminActionRecorded(
            action="SigningBaselineWritten", subject=admin, detail=f"{count} grants"
        )
        return NewEvent.of(event, metadata)
