"""Role grants: who may sign, with which key and which role, decided by signed records.

The `users` table is a convenience anyone holding the data key can edit. What counts is the
chain of grant records in the log's `vault-grants` stream, each signed (as every event is,
app/store/signatures.py) by its author:

    anchor     the first admin's own key, self-signed; it must be the key the key-slot file
               names as its trust anchor (bound into every signing slot's AAD) and the first
               grant of the log. Everything before it is unsigned legacy.
    add        a new user (or, in a baseline, an existing one) with a role, and a public key
               or none yet ("awaiting a key": introduced by its owner at their next unlock)
    introduce  a user's first key, self-signed, for a user awaiting one
    reset      a new key for a user (new passphrase), or none ("awaiting a key")
    disable / enable (with a new key) / role
Only an admin's key signs add, disable, enable and role; an admin's or the recovery secret's
key signs reset; so every valid grant leads back to the anchor. A grant signed by anyone else
(say a staff user's own key) is a forgery, and `verify` and unlock say so.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.domain.roles import Role
from app.store.event_log import EventMetadata, NewEvent
from app.store.signatures import load_public

RECOVERY_USER = "recovery"  # the recovery secret's principal (vault_credentials.RECOVERY_USER)
GRANTS_STREAM = "vault-grants"
GRANT_RECORD = "RoleGranted"  # a store record (like EventsPurged): projections skip it
RECOVERY_ROLE = "recovery"  # the recovery secret's principal: it may only reset passphrases
ANCHOR, ADD, INTRODUCE, RESET, DISABLE, ENABLE, ROLE = (
    "anchor",
    "add",
    "introduce",
    "reset",
    "disable",
    "enable",
    "role",
)
ROLES = {r.value for r in Role} | {RECOVERY_ROLE}


class GrantRefused(Exception):
    """A grant record that does not follow from the ones before it (the message says why)."""


@dataclass(frozen=True)
class Principal:
    role: str
    public: bytes | None  # None: awaiting its owner's key
    disabled: bool = False


@dataclass(frozen=True)
class Grant:
    action: str
    user: str
    role: str = ""
    public: bytes | None = None

    def to_payload(self) -> dict[str, str]:
        return {
            "action": self.action,
            "user": self.user,
            "role": self.role,
            "public_key": self.public.hex() if self.public else "",
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Grant:
        try:
            public = str(payload.get("public_key") or "")
            return cls(
                str(payload["action"]),
                str(payload["user"]),
                str(payload.get("role") or ""),
                bytes.fromhex(public) if public else None,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise GrantRefused("its content is not a grant") from exc

    def record(self, signer: str, signer_role: str, device_id: str, now: str) -> NewEvent:
        """The log record of this grant, written (and signed) by `signer`."""
        metadata = EventMetadata(
            command_id=str(uuid.uuid4()),
            user=signer,
            role=signer_role,
            device_id=device_id,
            recorded_at=now,
            occurred_at=now,
        )
        return NewEvent(GRANT_RECORD, self.to_payload(), metadata)


class GrantState:
    """The principals the grants so far establish, and the keys their signatures check with."""

    def __init__(
        self, anchor: bytes | None, first_admin: str, genesis_recovery: bytes | None = None
    ) -> None:
        self.anchor = anchor
        self.first_admin = first_admin
        self.principals: dict[str, Principal] = {}
        self._keys: dict[bytes, Ed25519PublicKey] = {}
        if anchor is not None and genesis_recovery is not None:
            # A vault created with signing keys: its implicit first grants (see keyslots).
            self.principals[first_admin] = Principal(Role.ADMIN.value, anchor)
            self.principals[RECOVERY_USER] = Principal(RECOVERY_ROLE, genesis_recovery)

    @property
    def started(self) -> bool:
        """Whether the anchor's grant was seen (events after it must be signed)."""
        return bool(self.principals)

    def key_of(self, signer: str) -> Ed25519PublicKey | None:
        """The key `signer` signs with now; None if they hold none or are disabled."""
        principal = self.principals.get(signer)
        if principal is None or principal.public is None or principal.disabled:
            return None
        return self.public_key(principal.public)

    def public_key(self, public: bytes) -> Ed25519PublicKey:
        if public not in self._keys:
            self._keys[public] = load_public(public)
        return self._keys[public]

    def signing_key_of(self, grant: Grant, signer: str) -> Ed25519PublicKey | None:
        """The key the grant's own signature must check with: the new key for a self-signed
        anchor or introduction, else the signer's current key."""
        if (
            grant.action in (ANCHOR, INTRODUCE)
            and grant.public is not None
            and signer == grant.user
        ):
            try:
                return self.public_key(grant.public)
            except ValueError:
                return None
        return self.key_of(signer)

    def apply(self, grant: Grant, signer: str) -> None:
        """Take a grant whose signature checked; GrantRefused if `signer` may not make it."""
        if grant.action == ANCHOR:
            self._anchor(grant, signer)
            return
        if not self.started:
            raise GrantRefused("it comes before the vault's anchor grant")
        if grant.role and grant.role not in ROLES:
            raise GrantRefused(f"it names an unknown role '{grant.role}'")
        current = self.principals.get(grant.user)
        signer_role = self.principals[signer].role if signer in self.principals else ""
        if grant.action == INTRODUCE:
            if signer != grant.user or current is None or current.public is not None:
                raise GrantRefused(f"'{grant.user}' was not awaiting a first key")
            if current.disabled or grant.public is None:
                raise GrantRefused(f"'{grant.user}' is disabled or the grant names no key")
            self.principals[grant.user] = replace(current, public=grant.public)
            return
        if grant.action == RESET and signer_role in (Role.ADMIN.value, RECOVERY_ROLE):
            if current is None or current.disabled:
                raise GrantRefused(f"'{grant.user}' is not an active user")
            self.principals[grant.user] = replace(current, public=grant.public)
            return
        if signer_role != Role.ADMIN.value:
            raise GrantRefused(f"it was signed by '{signer}', who is not an admin")
        self._admin_grant(grant, current)

    def _anchor(self, grant: Grant, signer: str) -> None:
        if self.started:
            raise GrantRefused("a second anchor grant (the anchor is the first grant only)")
        if self.anchor is None or grant.public != self.anchor:
            raise GrantRefused("its key is not the trust anchor the key-slot file names")
        if signer != grant.user or grant.user != self.first_admin or grant.role != "admin":
            raise GrantRefused("the anchor must be the first admin's own admin grant")
        self.principals[grant.user] = Principal(grant.role, grant.public)

    def _admin_grant(self, grant: Grant, current: Principal | None) -> None:
        if grant.action == ADD:
            if current is not None or not grant.role:
                raise GrantRefused(f"'{grant.user}' already exists or the grant names no role")
            self.principals[grant.user] = Principal(grant.role, grant.public)
        elif current is None:
            raise GrantRefused(f"there is no user '{grant.user}'")
        elif grant.action == DISABLE:
            self.principals[grant.user] = replace(current, disabled=True)
        elif grant.action == ENABLE:
            self.principals[grant.user] = replace(current, disabled=False, public=grant.public)
        elif grant.action == ROLE and grant.role:
            self.principals[grant.user] = replace(current, role=grant.role)
        else:
            raise GrantRefused(f"'{grant.action}' is not a grant an admin can make")


def metadata_of(text: str) -> dict[str, Any]:
    """An event's metadata column as a dict (an unreadable one as empty: the chain check
    already vouches for the column being what was written)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
