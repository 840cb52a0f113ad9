"""Every cryptographic primitive the store uses, in one place.

The data key (32 random bytes) opens the SQLCipher file as a raw key. Separate subkeys are
derived from it with HKDF for sealing event payloads and for the event hash chain, so no key is
used by two primitives.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters, stored beside each key slot so they can be raised later."""

    iterations: int
    memory_kib: int
    lanes: int

    def to_json(self) -> dict[str, int | str]:
        return {
            "alg": "argon2id",
            "iterations": self.iterations,
            "memory_kib": self.memory_kib,
            "lanes": self.lanes,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> KdfParams:
        if data.get("alg") != "argon2id":
            raise ValueError("unsupported key derivation")
        return cls(
            iterations=int(data["iterations"]),  # type: ignore[call-overload]
            memory_kib=int(data["memory_kib"]),  # type: ignore[call-overload]
            lanes=int(data["lanes"]),  # type: ignore[call-overload]
        )


# RFC 9106 section 4, second recommended option: t=3, p=4, m=64 MiB.
RFC9106_SECOND = KdfParams(iterations=3, memory_kib=64 * 1024, lanes=4)
# Only for tests and benchmarks that create many throwaway vaults; never the default.
FAST_FOR_TESTS = KdfParams(iterations=1, memory_kib=8 * 1024, lanes=1)


class DecryptionError(Exception):
    """Authenticated decryption failed: wrong key or altered data."""


def random_key() -> bytearray:
    """A fresh 256-bit key in a mutable buffer, so it can be wiped on lock."""
    return bytearray(secrets.token_bytes(KEY_BYTES))


def wipe(buf: bytearray | None) -> None:
    """Overwrite a key buffer in place (best effort: Python may hold other copies)."""
    if buf is not None:
        for i in range(len(buf)):
            buf[i] = 0


def derive_slot_key(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id: turn a passphrase (or recovery secret) into a key-wrapping key."""
    kdf = Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(secret)


def seal(key: bytes | bytearray, plaintext: bytes, associated: bytes) -> bytes:
    """AES-256-GCM; returns nonce || ciphertext+tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(bytes(key)).encrypt(nonce, plaintext, associated)


def unseal(key: bytes | bytearray, sealed: bytes, associated: bytes) -> bytes:
    """Reverse of seal; raises DecryptionError if the key or any bound data differs."""
    if len(sealed) < NONCE_BYTES + 16:
        raise DecryptionError("sealed value is too short")
    try:
        return AESGCM(bytes(key)).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
    except InvalidTag as exc:
        raise DecryptionError("authentication failed") from exc


def subkey(data_key: bytes | bytearray, purpose: str) -> bytearray:
    """HKDF-SHA256 subkey for one purpose ("payload", "chain", ...)."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=f"fieldchart/{purpose}/v1".encode(),
    )
    return bytearray(hkdf.derive(bytes(data_key)))


def chain_mac(chain_key: bytes | bytearray, previous: bytes, record: bytes) -> bytes:
    """Keyed hash-chain link: HMAC-SHA256(previous link || record)."""
    return hmac.new(bytes(chain_key), previous + record, hashlib.sha256).digest()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
