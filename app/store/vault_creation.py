"""Writing a new vault: the database with its first rows, then the key-slot file.

The key-slot file is written last: a vault "exists" once its slots do, so a crash before
leaves no vault behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from app.domain.roles import Role
from app.store import crypto, schema
from app.store.crypto import KdfParams
from app.store.database import open_engine, write_transaction
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile, user_slot_id
from app.store.migrations import migrate
from app.store.vault_credentials import new_recovery_secret, normalise_new_recovery

# meta row holding the key event seals and the hash chain derive from. It lives inside the
# encrypted file and never changes, so rotating the data key leaves every event valid. Vaults
# created before it existed use their first data key (stored here at their first rotation).
LOG_KEY_META = "log_key"


@dataclass(frozen=True)
class NewVault:
    """A vault just written: its slots, the keys its first session starts with, and the
    recovery secret to show once."""

    slots: KeySlotFile
    data_key: bytearray
    vault_key: bytearray
    recovery_secret: str


def write_new_vault(
    db_path: Path, slots_path: Path, admin_user: str, passphrase: str, kdf: KdfParams
) -> NewVault:
    """Create the encrypted database (first admin, fresh vault and device ids) and the key
    slots of `admin_user` and of a new recovery secret."""
    vault_key, data_key = crypto.random_key(), crypto.random_key()
    vault_id = str(uuid.uuid4())
    _write_database(db_path, data_key, vault_id, admin_user)
    recovery = new_recovery_secret()
    slots = KeySlotFile(vault_id=vault_id, first_admin=admin_user, recovery_alphabet="crockford")
    slots.set_data_key(vault_key, data_key, 1, _now())
    slots.wrap(user_slot_id(admin_user), passphrase.encode(), vault_key, kdf)
    slots.wrap(RECOVERY_SLOT, normalise_new_recovery(recovery), vault_key, kdf)
    slots.save(slots_path)
    db_path.chmod(0o600)
    slots_path.chmod(0o600)
    return NewVault(slots, data_key, vault_key, recovery)


def _write_database(db_path: Path, data_key: bytearray, vault_id: str, admin_user: str) -> None:
    log_key = crypto.random_key()
    engine = open_engine(db_path, data_key)
    try:
        migrate(engine)
        with write_transaction(engine) as conn:
            conn.execute(
                insert(schema.meta),
                [
                    {"key": "vault_id", "value": vault_id},
                    {"key": "device_id", "value": str(uuid.uuid4())},
                    {"key": "created_at", "value": _now()},
                    {"key": LOG_KEY_META, "value": bytes(log_key).hex()},
                ],
            )
            conn.execute(
                insert(schema.users).values(
                    name=admin_user, role=Role.ADMIN.value, created_at=_now(), disabled=False
                )
            )
    finally:
        engine.dispose()
        crypto.wipe(log_key)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
