"""Ed25519 signing keys of users, and the signature every event carries.

Every user's passphrase opens the data key, so the data key proves nothing about who wrote
what. A signing key does: its private half is sealed in the user's own key slot under the key
their passphrase derives (app/store/keyslots.py), so only that passphrase opens it.

An event's signature covers the vault, the signer's name, the event's log position and its
chain link. The link is an HMAC (SHA-256) over the link before it and the whole row, so a
signature commits to the event and to every event before it: editing, removing or reordering
an earlier event breaks the signature of every event after it, even for someone who holds the
chain key. Signatures live in their own table (`event_signatures`, one row per position), so
the event rows, their chain and their seals stay exactly as they were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection

PRIVATE_BYTES = 32
PUBLIC_BYTES = 32
_INSERT = "INSERT INTO event_signatures (position, signer, signature) VALUES (?, ?, ?)"


def new_private_key() -> bytearray:
    """A fresh Ed25519 private key (its 32-byte seed), in a buffer that can be wiped."""
    return bytearray(Ed25519PrivateKey.generate().private_bytes_raw())


def public_of(private: bytes | bytearray) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(bytes(private)).public_key().public_bytes_raw()


def fingerprint(public: bytes) -> str:
    """A short, comparable name of a public key: what IT notes down and compares."""
    digest = hashlib.sha256(public).hexdigest()[:32]
    return "ed25519:" + ":".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def event_message(vault_id: str, signer: str, position: int, link: bytes) -> bytes:
    """What an event's signature covers (see the module docstring for why the link)."""
    return f"fieldchart-event-signature/1|{vault_id}|{signer}|{position}|".encode() + link


def is_valid(public: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        public.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def load_public(public: bytes) -> Ed25519PublicKey:
    """ValueError if these are not the bytes of an Ed25519 public key."""
    return Ed25519PublicKey.from_public_bytes(public)


class EventSigner:
    """Signs every event the session appends, with the signed-in user's key, in the append's
    own transaction (installed as EventLog.row_hook)."""

    def __init__(self, vault_id: str, name: str, private: bytes | bytearray) -> None:
        self.name = name
        self._vault_id = vault_id
        self._key: Ed25519PrivateKey | None = Ed25519PrivateKey.from_private_bytes(bytes(private))
        self.public = self._key.public_key().public_bytes_raw()

    def private_bytes(self) -> bytearray:
        """The private key, e.g. to seal it again under a new slot key (caller wipes it)."""
        if self._key is None:
            raise ValueError("the signing key was forgotten")
        return bytearray(self._key.private_bytes_raw())

    def sign(self, position: int, link: bytes) -> bytes:
        if self._key is None:
            raise ValueError("the signing key was forgotten")
        return self._key.sign(event_message(self._vault_id, self.name, position, link))

    def __call__(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows as EventLog.append inserts them: position first, chain link last."""
        signed = [(row[0], self.name, self.sign(row[0], bytes(row[-1]))) for row in rows]
        conn.exec_driver_sql(_INSERT, signed[0] if len(signed) == 1 else signed)

    def forget(self) -> None:
        self._key = None
