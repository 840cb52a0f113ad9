"""Writing a new vault: the database with its first rows, then the key-slot file.

A crash at any point must leave either no vault or a finished one, and `init` must be able to
run again. So creation

1. writes the marker ``init-incomplete.json`` (the vault is unfinished while it exists: it does
   not open, and the next `init` removes the unfinished vault),
2. writes database and key slots in a hidden scratch directory ``.init-<random>``,
3. moves the database, then the key slots into the data directory, and
4. removes the marker -- only once the recovery secret was shown (`confirm_created`), so a
   crash before the secret reached the admin never leaves a working vault nobody can recover.

Nothing can be written into an unfinished vault (it does not open), so removing one never
loses an event. See docs/security/crash-safety.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from app.domain.roles import Role
from app.i18n import _
from app.store import crypto, fileops, schema
from app.store.crypto import KdfParams
from app.store.database import open_engine, write_transaction
from app.store.errors import VaultExistsError
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile, user_slot_id
from app.store.migrations import migrate
from app.store.signatures import new_private_key, public_of
from app.store.vault_credentials import new_recovery_secret, normalise_new_recovery

# meta row holding the key event seals and the hash chain derive from. It lives inside the
# encrypted file and never changes, so rotating the data key leaves every event valid. Vaults
# created before it existed use their first data key (stored here at their first rotation).
LOG_KEY_META = "log_key"
DB_FILE = "vault.db"
SLOTS_FILE = "keyslots.json"
INIT_MARKER = "init-incomplete.json"
SCRATCH = "init"
# What an unfinished creation may have left in the data directory (the key slots first: a
# crash while removing them leaves no vault that seems whole).
_UNFINISHED = (SLOTS_FILE, DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}-journal")


@dataclass(frozen=True)
class NewVault:
    """A vault just written: its slots, the keys its first session starts with, and the
    recovery secret to show once."""

    slots: KeySlotFile
    data_key: bytearray
    vault_key: bytearray
    recovery_secret: str
    admin_signing_key: bytearray  # the first admin's private signing key (the anchor's)


def write_new_vault(
    data_dir: Path, admin_user: str, passphrase: str, kdf: KdfParams, *, confirmed: bool = True
) -> NewVault:
    """Create the encrypted database (first admin, fresh vault and device ids) and the key
    slots of `admin_user` and of a new recovery secret in `data_dir`. Unless `confirmed`, the
    vault stays unfinished until `confirm_created` (call it once the secret was shown)."""
    if (data_dir / INIT_MARKER).exists():
        remove_unfinished(data_dir)
    if (data_dir / SLOTS_FILE).exists():
        raise VaultExistsError(_("a vault already exists in {data_dir}").format(data_dir=data_dir))
    if (data_dir / DB_FILE).exists():
        raise VaultExistsError(
            _(
                "{value} exists without its key slots (a damaged vault, or "
                "one created by an older FieldChart); it is left untouched: "
                "move it away to create a new vault"
            ).format(value=data_dir / DB_FILE)
        )
    vault_key, data_key = crypto.random_key(), crypto.random_key()
    vault_id = str(uuid.uuid4())
    fileops.mkdir(data_dir)
    fileops.write_atomically(data_dir / INIT_MARKER, b'{"format": "fieldchart-init/1"}')
    with fileops.scratch_dir(data_dir, SCRATCH) as staging:
        _write_database(staging / DB_FILE, data_key, vault_id, admin_user)
        recovery = new_recovery_secret()
        slots = KeySlotFile(
            vault_id=vault_id, first_admin=admin_user, recovery_alphabet="crockford"
        )
        slots.set_data_key(vault_key, data_key, 1, _now())
        # Signing keys (app/store/vault_signing.py): the first admin's is the trust anchor;
        # the recovery secret's lets a reset it makes be signed and audited.
        admin_signing, recovery_signing = new_private_key(), new_private_key()
        slots.signing_anchor = public_of(admin_signing)
        slots.signing_genesis_recovery = public_of(recovery_signing)
        slots.wrap(user_slot_id(admin_user), passphrase.encode(), vault_key, kdf, admin_signing)
        slots.wrap(
            RECOVERY_SLOT, normalise_new_recovery(recovery), vault_key, kdf, recovery_signing
        )
        crypto.wipe(recovery_signing)
        slots.save(staging / SLOTS_FILE)
        for name in (f"{DB_FILE}-wal", DB_FILE, SLOTS_FILE):  # the slots last
            if (staging / name).exists():
                fileops.replace(staging / name, data_dir / name)
        fileops.fsync_dir(data_dir)
    if confirmed:
        confirm_created(data_dir)
    return NewVault(slots, data_key, vault_key, recovery, admin_signing)


def confirm_created(data_dir: Path) -> None:
    """The recovery secret was shown: the vault is finished and opens from now on."""
    if fileops.unlink(data_dir / INIT_MARKER):
        fileops.fsync_dir(data_dir)


def unfinished(data_dir: Path) -> bool:
    return (data_dir / INIT_MARKER).exists()


def remove_unfinished(data_dir: Path) -> None:
    """Remove what an interrupted creation left (idempotent; the marker goes last)."""
    fileops.remove_stale_scratch(data_dir, SCRATCH)
    fileops.remove_stale_temps(data_dir)
    for name in _UNFINISHED:
        fileops.unlink(data_dir / name)
    fileops.fsync_dir(data_dir)
    fileops.unlink(data_dir / INIT_MARKER)
    fileops.fsync_dir(data_dir)


def _write_database(db_path: Path, data_key: bytearray, vault_id: str, admin_user: str) -> None:
    log_key = crypto.random_key()
    fileops.create_file(db_path)  # 0600 before SQLite opens it
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
    fileops.checkpoint(f"SQLite wrote {db_path.name}")
    fileops.fsync_file(db_path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
