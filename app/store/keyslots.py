"""Key slots: the data key wrapped once per user and once for recovery, like LUKS.

The slot file sits beside the encrypted database and holds no patient data: user names, salts,
Argon2id parameters and wrapped keys. It is rewritten atomically (temp file, fsync, rename).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from app.store import crypto
from app.store.crypto import DecryptionError, KdfParams
from app.store.errors import NotAVaultError

FORMAT = "fieldchart-keyslots/1"
SALT_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True)
class KeySlot:
    slot_id: str  # "user:<name>" or "recovery"
    kdf: KdfParams
    salt: bytes
    wrapped: bytes

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.slot_id,
            "kdf": self.kdf.to_json(),
            "salt": _b64(self.salt),
            "wrapped": _b64(self.wrapped),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> KeySlot:
        return cls(
            slot_id=str(data["id"]),
            kdf=KdfParams.from_json(data["kdf"]),  # type: ignore[arg-type]
            salt=_unb64(str(data["salt"])),
            wrapped=_unb64(str(data["wrapped"])),
        )


def user_slot_id(user: str) -> str:
    return f"user:{user}"


RECOVERY_SLOT = "recovery"


@dataclass
class KeySlotFile:
    vault_id: str
    first_admin: str = ""  # the default acting user for IT commands; not a secret
    slots: dict[str, KeySlot] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)  # names only, for a clear refusal

    def wrap(
        self, slot_id: str, secret: bytes, data_key: bytes | bytearray, kdf: KdfParams
    ) -> None:
        """Create or replace one slot so that `secret` unwraps `data_key`."""
        salt = secrets.token_bytes(SALT_BYTES)
        wrapping_key = crypto.derive_slot_key(secret, salt, kdf)
        wrapped = crypto.seal(wrapping_key, bytes(data_key), self._aad(slot_id))
        self.slots[slot_id] = KeySlot(slot_id, kdf, salt, wrapped)

    def unwrap(self, slot_id: str, secret: bytes) -> bytearray:
        """The data key, or DecryptionError if the secret is wrong (or the slot was altered)."""
        slot = self.slots[slot_id]
        wrapping_key = crypto.derive_slot_key(secret, slot.salt, slot.kdf)
        return bytearray(crypto.unseal(wrapping_key, slot.wrapped, self._aad(slot_id)))

    def _aad(self, slot_id: str) -> bytes:
        # Binding vault and slot id stops a slot being moved to another user or vault.
        return f"{FORMAT}|{self.vault_id}|{slot_id}".encode()

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "vault_id": self.vault_id,
            "first_admin": self.first_admin,
            "disabled": sorted(self.disabled),
            "slots": [s.to_json() for s in self.slots.values()],
        }

    def save(self, path: Path) -> None:
        write_atomically(path, json.dumps(self.to_json(), indent=2).encode())

    @classmethod
    def load(cls, path: Path) -> KeySlotFile:
        try:
            data = json.loads(path.read_bytes())
            if data.get("format") != FORMAT:
                raise ValueError("unknown format")
            slots = [KeySlot.from_json(s) for s in data["slots"]]
            return cls(
                vault_id=str(data["vault_id"]),
                first_admin=str(data.get("first_admin", "")),
                disabled={str(n) for n in data.get("disabled", [])},
                slots={s.slot_id: s for s in slots},
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NotAVaultError(f"{path.name} is not a readable FieldChart key-slot file") from exc


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` so that a crash leaves either the old or the new content, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


__all__ = ["RECOVERY_SLOT", "DecryptionError", "KeySlot", "KeySlotFile", "user_slot_id"]
