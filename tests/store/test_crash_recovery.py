"""What the next open does after a crash (see docs/security/crash-safety.md); the exhaustive
version, a crash after every file operation, is tests/reliability/fileop_crash.py."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from app.store import fileops, interrupted, rekey, restore_swap
from app.store.crypto import FAST_FOR_TESTS
from app.store.errors import NotAVaultError, VaultExistsError, VaultNotFoundError
from app.store.vault import Vault
from app.store.vault_creation import INIT_MARKER, confirm_created
from tests.store.helpers import ADMIN, PASSPHRASE


def _crash_after(label: str) -> fileops.Hook:
    def hook(done: str) -> None:
        if done.startswith(label):
            raise fileops.SimulatedCrash(done)

    return hook


def test_an_init_killed_before_its_secret_was_shown_does_not_open_and_init_replaces_it(
    data_dir: Path,
) -> None:
    vault, _ = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS, confirmed=False)
    vault.lock()  # killed here: the secret never reached the admin
    assert not Vault.exists(data_dir)  # the app's first-run wizard shows again
    with pytest.raises(VaultNotFoundError, match="interrupted before the recovery secret"):
        Vault.open(data_dir)
    vault, secret = Vault.create(data_dir, ADMIN, "another-passphrase", kdf=FAST_FOR_TESTS)
    vault.lock()
    assert not (data_dir / INIT_MARKER).exists()
    opened = Vault.open(data_dir)
    opened.unlock_with_recovery(secret)
    opened.lock()
    with pytest.raises(VaultExistsError):  # a finished vault is never replaced
        Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)


def test_an_init_killed_while_writing_leaves_nothing_that_blocks_init(data_dir: Path) -> None:
    with (
        fileops.crash_hook(_crash_after("SQLite wrote vault.db")),
        pytest.raises(fileops.SimulatedCrash),
    ):
        Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    assert not (data_dir / "vault.db").exists()  # only in the hidden scratch directory
    vault, _ = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault.lock()
    assert sorted(p.name for p in data_dir.iterdir() if not p.name.endswith(".lock")) == [
        "keyslots.json",
        "vault.db",
    ]
    for path in data_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def _rotation_cut_after_commit(data_dir: Path) -> None:
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, PASSPHRASE)
    with (
        fileops.crash_hook(_crash_after("replace vault/.rotation-commit.json")),
        pytest.raises(fileops.SimulatedCrash),
    ):
        vault.rotate_keys()  # committed, the database not yet swapped


def test_a_rotation_whose_new_file_was_deleted_by_hand_is_rolled_back(data_dir: Path) -> None:
    vault, _ = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault.lock()
    _rotation_cut_after_commit(data_dir)
    assert (data_dir / rekey.COMMIT_RECORD).exists()
    (data_dir / rekey.NEXT_DB).unlink()  # "a leftover": IT cleans up
    assert rekey.finish_interrupted(data_dir) == "rolled back"
    vault = Vault.open(data_dir)
    vault.unlock(ADMIN, PASSPHRASE)
    vault.lock()
    assert not rekey.interrupted(data_dir)


def test_a_damaged_commit_record_stops_recovery_and_changes_nothing(data_dir: Path) -> None:
    vault, _ = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault.lock()
    _rotation_cut_after_commit(data_dir)
    (data_dir / rekey.COMMIT_RECORD).write_text(json.dumps({"format": "?"}))
    before = sorted(p.name for p in data_dir.iterdir())
    with pytest.raises(NotAVaultError, match=r"rotation-commit\.json"):
        rekey.finish_interrupted(data_dir)
    assert sorted(p.name for p in data_dir.iterdir()) == before


def test_leftover_copies_go_at_the_next_open_but_a_running_ones_stay(data_dir: Path) -> None:
    vault, _ = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault.lock()
    dead = data_dir / ".backup-000000000000"
    dead.mkdir()
    (dead / "keyslots.json").write_bytes(b"{}")
    outside = data_dir.parent / ".backup.zip.0000.partial"
    outside.write_bytes(b"half an archive")
    interrupted.note_archive(dead, outside)
    (data_dir / ".keyslots.json.0000.tmp").write_bytes(b"{}")
    with fileops.scratch_dir(data_dir, interrupted.BACKUP_SCRATCH) as running:
        Vault.open(data_dir)
        assert running.exists()  # its owner holds its lock
    assert not dead.exists() and not outside.exists()
    assert not (data_dir / ".keyslots.json.0000.tmp").exists()
    assert not running.exists()


def test_a_restore_journal_is_finished_by_the_next_open(data_dir: Path, tmp_path: Path) -> None:
    vault, _ = Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault.lock()
    other = tmp_path / "other"
    vault, secret = Vault.create(other, ADMIN, "the-other-passphrase", kdf=FAST_FOR_TESTS)
    vault.lock()
    staging = data_dir / ".restore-000000000000"
    staging.mkdir()
    for name in ("vault.db", "keyslots.json"):
        (other / name).rename(staging / name)
    with (
        fileops.crash_hook(_crash_after("replace vault/vault.db -> replaced-")),
        pytest.raises(fileops.SimulatedCrash),
    ):
        restore_swap.install(data_dir, staging, "replaced-x")
    vault = Vault.open(data_dir)  # finishes the restore
    vault.unlock_with_recovery(secret)
    vault.lock()
    assert sorted((data_dir / "replaced-x").iterdir()) == [
        data_dir / "replaced-x" / "keyslots.json",
        data_dir / "replaced-x" / "vault.db",
    ]
    assert not staging.exists() and not (data_dir / restore_swap.JOURNAL).exists()
    confirm_created(data_dir)  # harmless on a finished vault
