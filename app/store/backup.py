"""Encrypted backups of a vault, and restoring them.

A backup is one ZIP file (members stored, not compressed: they are ciphertext) holding

    manifest.json   format, vault id, counts, checksums: no patient data, no keys
    keyslots.json   the key slots as they were, so the same passphrases open the backup
    vault.db        the SQLCipher database, still encrypted with the vault's data key

The database is copied with SQLite's online backup API inside one read transaction, so a
backup taken while the app is running is a consistent snapshot. The copy (in a hidden scratch
directory of the vault) is verified (every seal and the whole hash chain) before the backup
file appears, which it does atomically (written beside the target as a hidden ``.partial``
file, fsynced, renamed). Nothing in plaintext ever touches the disk.

Restoring checks the checksums, unlocks the backup in a hidden staging directory with a
passphrase valid at backup time, verifies the whole chain, and only then moves it into place
through a journal (restore_swap). An existing vault is replaced only when asked (`force`), and
then kept aside in one ``replaced-<time>`` folder, not deleted.

A crash leaves no copy behind for long: the next open of the vault removes the scratch
directories (and a backup's temp archive) and finishes a committed restore. See
docs/security/crash-safety.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.domain.roles import Role
from app.i18n import _
from app.store import fileops, interrupted, rekey, restore_swap
from app.store.errors import (
    BackupError,
    PermissionDeniedError,
    VaultExistsError,
    VaultInUseError,
)
from app.store.keyslots import KeySlotFile
from app.store.slot_lock import slot_lock
from app.store.vault import DB_FILE, PENDING_AUDIT_FILE, SLOTS_FILE, THROTTLE_FILE, Vault

FORMAT = "fieldchart-backup/1"
MANIFEST = "manifest.json"
MEMBERS = (SLOTS_FILE, DB_FILE)
CHUNK = 1024 * 1024
VAULT_FILES = restore_swap.VAULT_FILES


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    vault_id: str
    created_at: str
    events: int
    head_position: int
    bytes: int


def create_backup(vault: Vault, out: Path, *, overwrite: bool = False) -> BackupInfo:
    """Write a verified, encrypted backup of the unlocked `vault` to `out` (admins only)."""
    if vault.actor.role is not Role.ADMIN:
        raise PermissionDeniedError(
            _("only an admin may back up; you are {role}").format(role=vault.actor.role)
        )
    out = Path(out).absolute()
    if not out.parent.is_dir():
        raise BackupError(_("{parent} does not exist").format(parent=out.parent))
    if out.exists() and not overwrite:
        raise BackupError(
            _("{out} exists; choose another name or add --force to replace it").format(out=out)
        )
    interrupted.remove_leftovers(vault.data_dir)  # what a killed backup left
    with fileops.scratch_dir(vault.data_dir, interrupted.BACKUP_SCRATCH) as scratch:
        staged = scratch / "vault"
        vault.copy_to(staged)
        copy = vault.open_copy(staged)
        try:
            report = copy.events.verify()  # the whole chain, before the backup exists
        finally:
            copy.lock()
        members = {name: staged / name for name in MEMBERS}
        manifest = {
            "format": FORMAT,
            "created_at": _now(),
            "vault_id": vault.vault_id,
            "events": report.events,
            "head_position": report.head_position,
            "members": {
                name: {"bytes": path.stat().st_size, "sha256": _sha256(path)}
                for name, path in members.items()
            },
        }
        archive = out.with_name(f".{out.name}.{secrets.token_hex(4)}{interrupted.ARCHIVE_SUFFIX}")
        interrupted.note_archive(scratch, archive)
        with (
            fileops.new_file(archive) as fh,
            zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf,
        ):
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
            for name, path in members.items():
                zf.write(path, name)
        fileops.fsync_file(archive)
        fileops.replace(archive, out)
        fileops.fsync_dir(out.parent)
    return BackupInfo(
        out,
        vault.vault_id,
        str(manifest["created_at"]),
        report.events,
        report.head_position,
        out.stat().st_size,
    )


# -- restore --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreInfo:
    data_dir: Path
    vault_id: str
    created_at: str
    events: int
    head_position: int
    replaced: Path | None  # where the vault that was there before now is


def holds_vault(data_dir: Path) -> bool:
    return any(
        (data_dir / name).exists()
        for name in VAULT_FILES
        if name not in (THROTTLE_FILE, PENDING_AUDIT_FILE)
    )


def read_manifest(backup: Path) -> dict[str, object]:
    """The manifest of a backup file (BackupError if it is not one)."""
    try:
        with zipfile.ZipFile(backup) as zf:
            manifest = json.loads(zf.read(MANIFEST))
            names = set(zf.namelist())
    except FileNotFoundError:
        raise BackupError(_("{backup} does not exist").format(backup=backup)) from None
    except (OSError, zipfile.BadZipFile, KeyError, ValueError):
        raise BackupError(_("{backup} is not a FieldChart backup").format(backup=backup)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(
            _("{backup} is not a FieldChart backup (unknown format)").format(backup=backup)
        )
    if not set(MEMBERS) <= names or not isinstance(manifest.get("members"), dict):
        raise BackupError(
            _("{backup} is incomplete: it lacks {value}").format(
                backup=backup, value=", ".join(MEMBERS)
            )
        )
    return manifest


class StagedRestore:
    """A backup unpacked and checksummed in a private directory inside the target, waiting
    to be unlocked, verified and installed. Use as a context manager (always cleaned up)."""

    def __init__(self, backup: Path, data_dir: Path, *, force: bool = False) -> None:
        self.backup = Path(backup)
        self.data_dir = Path(data_dir).absolute()
        self.force = force
        self._created_dir = False
        self._scratch: contextlib.ExitStack | None = None
        self.path: Path | None = None
        self.manifest: dict[str, object] = {}

    def __enter__(self) -> StagedRestore:
        try:
            self._stage()
        except BaseException:
            self.discard()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    @property
    def first_admin(self) -> str:
        assert self.path is not None
        return KeySlotFile.load(self.path / SLOTS_FILE).first_admin

    def _check_target(self) -> None:
        if holds_vault(self.data_dir) and not self.force:
            raise VaultExistsError(
                _(
                    "{data_dir} already holds a vault; restoring would replace "
                    "it: add --force to do so (the replaced vault is kept beside "
                    "it)"
                ).format(data_dir=self.data_dir)
            )
        if self.force and rekey.in_use(self.data_dir / DB_FILE):
            raise VaultInUseError(
                _("the vault being replaced is open in FieldChart; close the app and try again")
            )

    def _stage(self) -> None:
        # A restore a crash cut short is finished first, and its leftovers go.
        restore_swap.finish_interrupted(self.data_dir)
        interrupted.remove_leftovers(self.data_dir)
        self._check_target()
        self.manifest = read_manifest(self.backup)
        self._created_dir = fileops.mkdir(self.data_dir)
        self._scratch = contextlib.ExitStack()
        self.path = self._scratch.enter_context(
            fileops.scratch_dir(self.data_dir, restore_swap.SCRATCH)
        )
        members = self.manifest["members"]
        assert isinstance(members, dict)
        with zipfile.ZipFile(self.backup) as zf:
            for name in MEMBERS:
                expected = members.get(name)
                if not isinstance(expected, dict):
                    raise BackupError(
                        _("{backup}: the manifest does not describe {name}").format(
                            backup=self.backup, name=name
                        )
                    )
                target = self.path / name
                h = hashlib.sha256()
                with zf.open(name) as src, fileops.new_file(target) as dst:
                    while chunk := src.read(CHUNK):
                        h.update(chunk)
                        dst.write(chunk)
                fileops.fsync_file(target)
                if h.hexdigest() != expected.get("sha256"):
                    raise BackupError(
                        _("{backup} is damaged: {name} does not match its checksum").format(
                            backup=self.backup, name=name
                        )
                    )

    def install(self, user: str, passphrase: str) -> RestoreInfo:
        """Unlock the staged copy as `user` (an admin at backup time), verify every seal and
        the whole chain, then move it into the target directory."""
        assert self.path is not None
        staged = Vault.open(self.path)
        staged.unlock(user, passphrase)  # verifies the chain's tail and the schema
        try:
            if staged.actor.role is not Role.ADMIN:
                raise PermissionDeniedError(
                    _("only an admin may restore a vault; '{user}' is {role}").format(
                        user=user, role=staged.actor.role
                    )
                )
            report = staged.events.verify()
            vault_id = staged.vault_id
        finally:
            staged.lock()
        # Replacing a vault: keyslots.lock first, as a rotation takes it, so no passwd or user
        # change elsewhere writes the slots it read before the swap over the restored ones.
        replacing = slot_lock(self.data_dir) if holds_vault(self.data_dir) else None
        with replacing or contextlib.nullcontext(), rekey.vault_dir_lock(self.data_dir) as mine:
            if not mine:
                raise VaultInUseError(_("another restore or rotate-key is running on this vault"))
            self._check_target()  # again: nothing may have appeared meanwhile
            aside = restore_swap.aside_name(self.data_dir) if holds_vault(self.data_dir) else None
            restore_swap.install(self.data_dir, self.path, aside)
        self._created_dir = False  # it holds the restored vault now
        return RestoreInfo(
            self.data_dir,
            vault_id,
            str(self.manifest.get("created_at", "")),
            report.events,
            report.head_position,
            self.data_dir / aside if aside else None,
        )

    def discard(self) -> None:
        if self._scratch is not None:
            self._scratch.close()  # removes the staging directory
            self._scratch, self.path = None, None
        if self._created_dir:
            with contextlib.suppress(OSError):
                self.data_dir.rmdir()
            self._created_dir = False
