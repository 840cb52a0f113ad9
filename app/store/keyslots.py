"""Key slots: a vault key wrapped once per user and once for recovery, like LUKS.

Format 2 (vaults created since key rotation exists) has two levels:

    passphrase --Argon2id--> slot key --AES-GCM--> vault key --AES-GCM--> data key
                                                                  (opens the SQLCipher file)

so `rotate-key` can replace the data key and re-wrap it under the vault key without knowing
anybody's passphrase: every slot opens the new data key at once, and the old data key opens
nothing any more. Format 1 (older vaults) wraps the data key directly in every slot; it is
read as if vault key and data key were the same key.

The slot file sits beside the encrypted database and holds no patient data: user names, salts,
Argon2id parameters and wrapped keys. It is rewritten atomically (temp file, fsync, rename).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from app.i18n import _
from app.store import crypto, fileops, signatures
from app.store.crypto import DecryptionError, KdfParams
from app.store.errors import NotAVaultError

FORMAT = "fieldchart-keyslots/1"  # slots wrap the data key itself
FORMAT_V2 = "fieldchart-keyslots/2"  # slots wrap the vault key, which wraps the data key
SALT_BYTES = 16
# Recovery secrets: Crockford's base32 since this alphabet was introduced; RFC 4648 base32
# (A-Z, 2-7) before. The slot file says which (no key: "rfc4648").
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECOVERY_ALPHABETS = ("rfc4648", "crockford")
# Typed look-alikes, mapped to the alphabet's own symbol. Crockford's alphabet has no I, L or
# O, so O -> 0 and I, L -> 1 are unambiguous. RFC 4648's has no 0 or 1, but both I and L: a
# typed 0 can only be O, a typed 1 could be either, so it is left alone (and fails).
_LOOKALIKES = {
    "crockford": str.maketrans({"O": "0", "I": "1", "L": "1"}),
    "rfc4648": str.maketrans({"0": "O"}),
}


def normalise_recovery(secret: str, alphabet: str) -> bytes:
    """A recovery secret as typed -> the exact bytes its slot was wrapped with: spaces and
    hyphens dropped, upper case, look-alikes canonicalised for the secret's alphabet."""
    text = re.sub(r"[\s-]", "", secret).upper().translate(_LOOKALIKES[alphabet])
    return text.encode("ascii", "ignore")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class SealedSigningKey:
    """The slot owner's Ed25519 key (app/store/signatures.py): the public half in the clear,
    the private half sealed under the slot's wrapping key, which only the owner's passphrase
    (or, for the recovery slot, the recovery secret) derives; the vault and data keys do not
    open it."""

    public: bytes
    sealed_private: bytes


@dataclass(frozen=True)
class KeySlot:
    slot_id: str  # "user:<name>" or "recovery"
    kdf: KdfParams
    salt: bytes
    wrapped: bytes
    signing: SealedSigningKey | None = None  # None: a slot written before signing keys

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.slot_id,
            "kdf": self.kdf.to_json(),
            "salt": _b64(self.salt),
            "wrapped": _b64(self.wrapped),
        }
        if self.signing is not None:
            data["signing"] = {
                "public": _b64(self.signing.public),
                "sealed": _b64(self.signing.sealed_private),
            }
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> KeySlot:
        signing = data.get("signing")
        return cls(
            slot_id=str(data["id"]),
            kdf=KdfParams.from_json(data["kdf"]),  # type: ignore[arg-type]
            salt=_unb64(str(data["salt"])),
            wrapped=_unb64(str(data["wrapped"])),
            signing=None
            if signing is None
            else SealedSigningKey(
                _unb64(str(signing["public"])),  # type: ignore[index]
                _unb64(str(signing["sealed"])),  # type: ignore[index]
            ),
        )


def user_slot_id(user: str) -> str:
    return f"user:{user}"


RECOVERY_SLOT = "recovery"


@dataclass(frozen=True)
class WrappedDataKey:
    """The data key sealed under the vault key (format 2), with its generation number."""

    generation: int  # 1 at creation, +1 per rotation
    wrapped: bytes
    created_at: str

    def to_json(self) -> dict[str, object]:
        return {
            "generation": self.generation,
            "wrapped": _b64(self.wrapped),
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> WrappedDataKey:
        return cls(
            generation=int(data["generation"]),  # type: ignore[call-overload]
            wrapped=_unb64(str(data["wrapped"])),
            created_at=str(data["created_at"]),
        )


@dataclass
class KeySlotFile:
    vault_id: str
    first_admin: str = ""  # the default acting user for IT commands; not a secret
    slots: dict[str, KeySlot] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)  # names only, for a clear refusal
    # Format 2: the data key under the vault key. None: format 1, slots hold the data key.
    data_key: WrappedDataKey | None = None
    # Users whose slot a full key rotation removed: they need a new passphrase from an admin.
    reset_required: set[str] = field(default_factory=set)
    recovery_alphabet: str = "rfc4648"  # of the recovery secret (see normalise_recovery)
    # The first admin's public signing key: the root every role grant leads back to
    # (app/store/role_grants.py). Every slot holding a signing key binds it into its AAD, so
    # replacing it makes every slot its replacer cannot re-wrap (everyone else's) fail to open.
    signing_anchor: bytes | None = None
    # A vault created with signing keys: the recovery secret's first public key. Such a vault
    # starts with two implicit grants (the anchor as admin, this key as the recovery secret)
    # and signs from its first event; None for a vault migrated later (its log holds an
    # explicit anchor grant, and the events before it are unsigned legacy). Bound like the
    # anchor, so switching a vault between the two cases breaks every slot.
    signing_genesis_recovery: bytes | None = None
    # Private signing keys opened by unwrap_vault_key, by slot id, until the caller takes them
    # (take_signing_key): the slot's wrapping key is derived once per unlock (Argon2id).
    opened_signing_keys: dict[str, bytearray] = field(default_factory=dict, repr=False)

    @property
    def legacy(self) -> bool:
        """Format 1: every slot wraps the data key itself (no separate vault key)."""
        return self.data_key is None

    def wrap(
        self,
        slot_id: str,
        secret: bytes,
        key: bytes | bytearray,
        kdf: KdfParams,
        signing_key: bytes | bytearray | None = None,
    ) -> None:
        """Create or replace one slot so that `secret` unwraps `key` (the vault key; in a
        format-1 file, the data key) and, if given, the owner's private `signing_key`."""
        salt = secrets.token_bytes(SALT_BYTES)
        wrapping_key = crypto.derive_slot_key(secret, salt, kdf)
        signing: SealedSigningKey | None = None
        if signing_key is not None:
            public = signatures.public_of(signing_key)
            sealed = crypto.seal(
                wrapping_key, bytes(signing_key), self._signing_aad(slot_id, public)
            )
            signing = SealedSigningKey(public, sealed)
        wrapped = crypto.seal(wrapping_key, bytes(key), self._aad(slot_id, signing))
        self.slots[slot_id] = KeySlot(slot_id, kdf, salt, wrapped, signing)

    def unwrap_vault_key(self, slot_id: str, secret: bytes) -> bytearray:
        """The key this slot wraps, or DecryptionError if the secret is wrong (or the slot was
        altered). A signing key in the slot is opened too, for take_signing_key."""
        slot = self.slots[slot_id]
        wrapping_key = crypto.derive_slot_key(secret, slot.salt, slot.kdf)
        key = bytearray(crypto.unseal(wrapping_key, slot.wrapped, self._aad(slot_id, slot.signing)))
        if slot.signing is not None:
            private = crypto.unseal(
                wrapping_key,
                slot.signing.sealed_private,
                self._signing_aad(slot_id, slot.signing.public),
            )
            crypto.wipe(self.opened_signing_keys.pop(slot_id, None))
            self.opened_signing_keys[slot_id] = bytearray(private)
        return key

    def take_signing_key(self, slot_id: str) -> bytearray | None:
        """The private signing key the last unwrap of `slot_id` opened (None if its slot has
        none); the caller owns and wipes it."""
        return self.opened_signing_keys.pop(slot_id, None)

    def unwrap(self, slot_id: str, secret: bytes) -> bytearray:
        """The data key (which opens the database), or DecryptionError if the secret is wrong."""
        vault_key = self.unwrap_vault_key(slot_id, secret)
        try:
            return self.open_data_key(vault_key)
        finally:
            crypto.wipe(vault_key)

    def open_data_key(self, vault_key: bytes | bytearray) -> bytearray:
        """The data key sealed under `vault_key` (format 1: the vault key is the data key)."""
        if self.data_key is None:
            return bytearray(vault_key)
        return bytearray(
            crypto.unseal(vault_key, self.data_key.wrapped, self._data_key_aad(self.data_key))
        )

    def set_data_key(
        self,
        vault_key: bytes | bytearray,
        data_key: bytes | bytearray,
        generation: int,
        created_at: str,
    ) -> None:
        """Seal `data_key` under `vault_key` (this makes the file format 2)."""
        entry = WrappedDataKey(generation, b"", created_at)
        sealed = crypto.seal(vault_key, bytes(data_key), self._data_key_aad(entry))
        self.data_key = WrappedDataKey(generation, sealed, created_at)

    def _aad(self, slot_id: str, signing: SealedSigningKey | None = None) -> bytes:
        # Binding vault and slot id stops a slot being moved to another user or vault. A slot
        # with a signing key also binds its public half and the trust anchor: swapping either
        # in the file makes the slot fail to open with its owner's passphrase.
        base = f"{FORMAT}|{self.vault_id}|{slot_id}"
        if signing is None:
            return base.encode()
        anchor = self.signing_anchor.hex() if self.signing_anchor else ""
        genesis = self.signing_genesis_recovery.hex() if self.signing_genesis_recovery else ""
        return f"{base}|signing:{signing.public.hex()}|anchor:{anchor}|genesis:{genesis}".encode()

    def _signing_aad(self, slot_id: str, public: bytes) -> bytes:
        return f"fieldchart-signing-key/1|{self.vault_id}|{slot_id}|{public.hex()}".encode()

    def _data_key_aad(self, entry: WrappedDataKey) -> bytes:
        return (
            f"{FORMAT_V2}|{self.vault_id}|data-key|{entry.generation}|{entry.created_at}".encode()
        )

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "format": FORMAT if self.data_key is None else FORMAT_V2,
            "vault_id": self.vault_id,
            "first_admin": self.first_admin,
            "disabled": sorted(self.disabled),
        }
        if self.data_key is not None:
            data["data_key"] = self.data_key.to_json()
            data["reset_required"] = sorted(self.reset_required)
        if self.recovery_alphabet != "rfc4648":
            data["recovery_alphabet"] = self.recovery_alphabet
        if self.signing_anchor is not None:
            data["signing_anchor"] = _b64(self.signing_anchor)
        if self.signing_genesis_recovery is not None:
            data["signing_genesis_recovery"] = _b64(self.signing_genesis_recovery)
        data["slots"] = [s.to_json() for s in self.slots.values()]
        return data

    def save(self, path: Path) -> None:
        write_atomically(path, json.dumps(self.to_json(), indent=2).encode())

    @classmethod
    def load(cls, path: Path) -> KeySlotFile:
        try:
            data = json.loads(path.read_bytes())
            if data.get("format") not in (FORMAT, FORMAT_V2):
                raise ValueError(_("unknown format"))
            slots = [KeySlot.from_json(s) for s in data["slots"]]
            wrapped = data.get("data_key") if data["format"] == FORMAT_V2 else None
            if data["format"] == FORMAT_V2 and not isinstance(wrapped, dict):
                raise ValueError(_("format 2 without its data key"))
            return cls(
                vault_id=str(data["vault_id"]),
                first_admin=str(data.get("first_admin", "")),
                disabled={str(n) for n in data.get("disabled", [])},
                slots={s.slot_id: s for s in slots},
                data_key=WrappedDataKey.from_json(wrapped) if wrapped is not None else None,
                reset_required={str(n) for n in data.get("reset_required", [])},
                recovery_alphabet=_alphabet(data.get("recovery_alphabet", "rfc4648")),
                signing_anchor=_optional_b64(data.get("signing_anchor")),
                signing_genesis_recovery=_optional_b64(data.get("signing_genesis_recovery")),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NotAVaultError(
                _("{name} is not a readable FieldChart key-slot file").format(name=path.name)
            ) from exc


def _optional_b64(value: object) -> bytes | None:
    return None if value is None else _unb64(str(value))


def _alphabet(value: object) -> str:
    if value not in RECOVERY_ALPHABETS:
        raise ValueError(_("unknown recovery-secret alphabet"))
    return str(value)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` so that a crash leaves either the old or the new content, never a mix."""
    fileops.write_atomically(path, data)  # every file operation there is a crash point


__all__ = [
    "CROCKFORD",
    "RECOVERY_SLOT",
    "DecryptionError",
    "KeySlot",
    "KeySlotFile",
    "SealedSigningKey",
    "WrappedDataKey",
    "user_slot_id",
]
