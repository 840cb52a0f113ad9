"""`fieldchart rotate-key`: a new data key, the file re-encrypted, every slot still opening it,
the old key opening nothing; with --new-vault-key, only the admin and a new recovery secret."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest

from app.store import fileops, rekey
from app.store.crypto import FAST_FOR_TESTS
from app.store.errors import KeyRotationError, VaultInUseError
from app.store.keyslots import RECOVERY_SLOT, KeySlotFile, user_slot_id
from app.store.vault import Vault
from tests.it.conftest import (
    DOC,
    PASSPHRASES,
    SeededVault,
    held_open,
    one_line_error,
    open_as,
    record_patients,
    run_cli,
)
from tests.store.helpers import file_digests

SECRET = re.compile(r"^  ([0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){7})$", re.MULTILINE)


def data_key(data_dir: Path, user: str = "admin") -> bytearray:
    return KeySlotFile.load(data_dir / "keyslots.json").unwrap(
        user_slot_id(user), PASSPHRASES[user].encode()
    )


def opens_with(path: Path, key: bytes | bytearray) -> bool:
    """A raw SQLCipher connection with this key can read the file."""
    conn = rekey.raw_connect(path, key)
    try:
        conn.execute("SELECT count(*) FROM events").fetchone()
        return True
    except Exception as exc:
        assert "not a database" in str(exc)
        return False
    finally:
        conn.close()


def charts(data_dir: Path, patients: list[str], user: str = "doc") -> dict[str, object]:
    clinic = open_as(data_dir, user)
    try:
        assert clinic.vault.events.verify().events > 0
        return {pid: clinic.queries.chart(pid, DOC, record_view=False) for pid in patients}
    finally:
        clinic.close()


def test_after_rotate_key_the_old_key_fails_and_every_slot_opens_the_new_one(
    seeded: SeededVault,
) -> None:
    before = charts(seeded.data_dir, seeded.patients)
    old_key = data_key(seeded.data_dir)
    slots_before = KeySlotFile.load(seeded.data_dir / "keyslots.json")
    assert opens_with(seeded.data_dir / "vault.db", old_key)

    rotated = run_cli("rotate-key", "--data-dir", seeded.data_dir, "--json")
    assert rotated.returncode == 0, rotated.stderr
    result = json.loads(rotated.stdout)
    assert result == {
        "ok": True,
        "data_key_generation": 2,
        "new_vault_key": False,
        "recovery_secret": None,
        "need_new_passphrase": [],
    }

    new_key = data_key(seeded.data_dir)
    assert new_key != old_key
    assert not opens_with(seeded.data_dir / "vault.db", old_key)  # raw SQLCipher: refused
    assert opens_with(seeded.data_dir / "vault.db", new_key)
    # Every user's slot works without them doing anything, and so does the recovery secret.
    for user in ("admin", "doc", "desk"):
        assert data_key(seeded.data_dir, user) == new_key
    vault = Vault.open(seeded.data_dir)
    vault.unlock_with_recovery(seeded.recovery)
    vault.lock()
    assert charts(seeded.data_dir, seeded.patients) == before
    assert run_cli("verify", "--data-dir", seeded.data_dir, user="desk").returncode == 0
    # Slots are untouched (they wrap the vault key); only the wrapped data key changed.
    slots_after = KeySlotFile.load(seeded.data_dir / "keyslots.json")
    assert slots_after.slots == slots_before.slots
    assert slots_after.data_key is not None and slots_after.data_key.generation == 2
    assert _vault_files(seeded.data_dir) == ["keyslots.json", "vault.db"]

    again = run_cli("rotate-key", "--data-dir", seeded.data_dir, "--json")
    assert json.loads(again.stdout)["data_key_generation"] == 3
    assert not opens_with(seeded.data_dir / "vault.db", new_key)
    assert charts(seeded.data_dir, seeded.patients, "desk") == before


def test_rotate_key_is_refused_while_the_vault_is_open_elsewhere(
    seeded: SeededVault, tmp_path: Path
) -> None:
    # The desktop app in another process, unlocked: its connections keep the file open.
    with held_open(seeded.data_dir):
        before = file_digests(seeded.data_dir)
        refused = run_cli("rotate-key", "--data-dir", seeded.data_dir)
        assert refused.returncode == 1
        assert "open in another FieldChart window or process" in one_line_error(refused)
        after = file_digests(seeded.data_dir)
        assert after["keyslots.json"] == before["keyslots.json"]
        assert not (seeded.data_dir / "vault.db.next").exists()
    assert data_key(seeded.data_dir) == data_key(seeded.data_dir, "doc")
    assert opens_with(seeded.data_dir / "vault.db", data_key(seeded.data_dir))


def test_a_new_vault_key_keeps_only_the_admin_and_a_new_recovery_secret(
    seeded: SeededVault,
) -> None:
    before = charts(seeded.data_dir, seeded.patients)
    old_slots = KeySlotFile.load(seeded.data_dir / "keyslots.json")
    old_vault_key = old_slots.unwrap_vault_key(user_slot_id("admin"), PASSPHRASES["admin"].encode())
    rotated = run_cli("rotate-key", "--data-dir", seeded.data_dir, "--new-vault-key")
    assert rotated.returncode == 0, rotated.stderr
    secret = SECRET.search(rotated.stdout)
    assert secret, rotated.stdout
    assert "these users need a new passphrase" in rotated.stdout
    assert "desk, doc" in rotated.stdout

    slots = KeySlotFile.load(seeded.data_dir / "keyslots.json")
    assert set(slots.slots) == {user_slot_id("admin"), RECOVERY_SLOT}
    assert slots.reset_required == {"doc", "desk"}
    with pytest.raises(Exception, match="authentication failed"):
        slots.open_data_key(old_vault_key)  # the old vault key opens nothing any more

    refused = run_cli("verify", "--data-dir", seeded.data_dir, user="doc")
    assert refused.returncode == 2
    assert "needs a new passphrase" in one_line_error(refused)
    old_recovery = run_cli(
        "recover",
        "--data-dir",
        seeded.data_dir,
        "--user",
        "doc",
        FIELDCHART_RECOVERY_SECRET=seeded.recovery,
        FIELDCHART_NEW_PASSPHRASE="a new one for doc",
    )
    assert old_recovery.returncode == 2
    assert one_line_error(old_recovery) == "fieldchart: wrong recovery secret"

    reset = run_cli(
        "recover",
        "--data-dir",
        seeded.data_dir,
        "--user",
        "doc",
        FIELDCHART_RECOVERY_SECRET=secret.group(1),
        FIELDCHART_NEW_PASSPHRASE="a new one for doc",
    )
    assert reset.returncode == 0, reset.stderr
    after = _charts_as(seeded.data_dir, seeded.patients, "doc", "a new one for doc")
    assert after == before


def _charts_as(data_dir: Path, patients: list[str], user: str, passphrase: str) -> object:
    from app.services.clinic import open_clinic

    vault = Vault.open(data_dir)
    vault.unlock(user, passphrase)
    clinic = open_clinic(vault)
    try:
        return {pid: clinic.queries.chart(pid, DOC, record_view=False) for pid in patients}
    finally:
        clinic.close()


def test_the_admin_can_reset_a_cleared_user_and_disable_another(seeded: SeededVault) -> None:
    assert run_cli("rotate-key", "--data-dir", seeded.data_dir, "--new-vault-key").returncode == 0
    vault = Vault.open(seeded.data_dir)
    vault.unlock("admin", PASSPHRASES["admin"])
    try:
        vault.reset_passphrase("doc", "doc's fresh passphrase")
        vault.disable_user("desk")
    finally:
        vault.lock()
    vault = Vault.open(seeded.data_dir)
    vault.unlock("doc", "doc's fresh passphrase")
    vault.lock()
    slots = KeySlotFile.load(seeded.data_dir / "keyslots.json")
    assert slots.reset_required == set()
    assert slots.disabled == {"desk"}


def test_the_recovery_session_may_not_rotate(seeded: SeededVault) -> None:
    vault = Vault.open(seeded.data_dir)
    vault.unlock_with_recovery(seeded.recovery)
    with pytest.raises(KeyRotationError, match="admin user"):
        vault.rotate_keys()
    vault.lock()


def test_a_clinician_may_not_rotate(seeded: SeededVault) -> None:
    refused = run_cli("rotate-key", "--data-dir", seeded.data_dir, user="doc")
    assert refused.returncode == 1
    assert "only an admin may rotate keys" in one_line_error(refused)


# -- crashes in the middle -------------------------------------------------------------------


def _crash_after(label: str) -> contextlib.AbstractContextManager[None]:
    """Stop the rotation right after the file operation `label`, as if the power went."""

    def hook(done: str) -> None:
        if done.startswith(label):
            raise fileops.SimulatedCrash(done)

    return fileops.crash_hook(hook)


def _vault_files(data_dir: Path) -> list[str]:
    """The vault's files, without the lock files other processes may wait on (never removed)."""
    return sorted(p.name for p in data_dir.iterdir() if not p.name.endswith(".lock"))


def _rotate(data_dir: Path) -> None:
    vault = Vault.open(data_dir)
    vault.unlock("admin", PASSPHRASES["admin"])
    vault.rotate_keys()


def test_a_crash_before_the_commit_point_leaves_the_old_vault(seeded: SeededVault) -> None:
    old_key = data_key(seeded.data_dir)
    # The new slots are written, the commit record is not.
    with _crash_after("replace clinic/.keyslots.next.json"), pytest.raises(fileops.SimulatedCrash):
        _rotate(seeded.data_dir)
    assert (seeded.data_dir / "vault.db.next").exists()
    assert (seeded.data_dir / "keyslots.next.json").exists()
    assert opens_with(seeded.data_dir / "vault.db", old_key)
    # The next open (any process, no key needed) discards the unfinished rotation.
    assert charts(seeded.data_dir, seeded.patients)
    assert _vault_files(seeded.data_dir) == ["keyslots.json", "vault.db"]
    assert data_key(seeded.data_dir) == old_key


def test_a_crash_between_database_and_slots_is_finished_at_the_next_open(
    seeded: SeededVault,
) -> None:
    old_key = data_key(seeded.data_dir)
    before = charts(seeded.data_dir, seeded.patients)
    # The database is swapped, the slots rename is cut.
    with _crash_after("replace clinic/vault.db.next"), pytest.raises(fileops.SimulatedCrash):
        _rotate(seeded.data_dir)
    assert (seeded.data_dir / "keyslots.next.json").exists()
    assert not opens_with(seeded.data_dir / "vault.db", old_key)
    # The next open (any process, no key needed) completes the rename.
    assert charts(seeded.data_dir, seeded.patients) == before
    assert not (seeded.data_dir / "keyslots.next.json").exists()
    assert not opens_with(seeded.data_dir / "vault.db", old_key)


def test_leftovers_of_a_crash_before_the_slots_were_written_are_discarded(
    seeded: SeededVault,
) -> None:
    (seeded.data_dir / "vault.db.next").write_bytes(b"half a copy")
    assert rekey.finish_interrupted(seeded.data_dir) == "rolled back"
    assert not (seeded.data_dir / "vault.db.next").exists()
    assert rekey.finish_interrupted(seeded.data_dir) is None


# -- vaults from before vault keys -----------------------------------------------------------


def _make_legacy(data_dir: Path) -> None:
    """Rewrite the slot file the way FieldChart wrote it before vault keys (format 1): every
    slot wraps the data key itself; and take the log key out, as those vaults had none."""
    slots = KeySlotFile.load(data_dir / "keyslots.json")
    dk = data_key(data_dir)
    legacy = KeySlotFile(slots.vault_id, slots.first_admin)
    for user in ("admin", "doc", "desk"):
        legacy.wrap(user_slot_id(user), PASSPHRASES[user].encode(), dk, FAST_FOR_TESTS)
    legacy.wrap(RECOVERY_SLOT, b"RECOVERY", dk, FAST_FOR_TESTS)
    legacy.save(data_dir / "keyslots.json")
    assert json.loads((data_dir / "keyslots.json").read_text())["format"].endswith("/1")


def test_a_format_1_vault_opens_and_needs_a_new_vault_key_to_rotate(tmp_path: Path) -> None:
    data_dir = tmp_path / "legacy"
    vault, _ = Vault.create(data_dir, "admin", PASSPHRASES["admin"], kdf=FAST_FOR_TESTS)
    vault.lock()
    dk = data_key(data_dir)
    # An old vault had no log key: its events are sealed with subkeys of the data key. The
    # log is still empty here, so taking the row out makes exactly such a vault. Its other
    # users are added the way an old FieldChart did (no audit events, which need the key).
    conn = rekey.raw_connect(data_dir / "vault.db", dk)
    conn.execute("DELETE FROM meta WHERE key = 'log_key'")
    for name, role in (("doc", "clinician"), ("desk", "staff")):
        conn.execute(
            "INSERT INTO users (name, role, created_at, disabled) VALUES (?, ?, ?, 0)",
            (name, role, "2026-11-21T09:00:00.000+00:00"),
        )
    conn.close()
    _make_legacy(data_dir)

    clinic = open_as(data_dir)
    try:
        patients = record_patients(clinic)
        before = {pid: clinic.queries.chart(pid, DOC, record_view=False) for pid in patients}
    finally:
        clinic.close()

    refused = run_cli("rotate-key", "--data-dir", data_dir)
    assert refused.returncode == 1
    assert "--new-vault-key" in one_line_error(refused)
    rotated = run_cli("rotate-key", "--data-dir", data_dir, "--new-vault-key")
    assert rotated.returncode == 0, rotated.stderr
    assert not opens_with(data_dir / "vault.db", dk)
    slots = KeySlotFile.load(data_dir / "keyslots.json")
    assert not slots.legacy and slots.data_key is not None
    vault = Vault.open(data_dir)
    vault.unlock("admin", PASSPHRASES["admin"])
    try:
        vault.reset_passphrase("doc", PASSPHRASES["doc"])
    finally:
        vault.lock()
    # The events sealed under the old data key still verify: it became the log key.
    assert charts(data_dir, patients) == before


def test_passwd_before_and_after_a_rotation(seeded: SeededVault, tmp_path: Path) -> None:
    changed = run_cli(
        "passwd", "--data-dir", seeded.data_dir, user="doc", FIELDCHART_NEW_PASSPHRASE="doc v2 pass"
    )
    assert changed.returncode == 0, changed.stderr
    assert run_cli("rotate-key", "--data-dir", seeded.data_dir).returncode == 0
    old = run_cli("verify", "--data-dir", seeded.data_dir, user="doc")
    assert old.returncode == 2
    assert one_line_error(old) == "fieldchart: wrong passphrase for user 'doc'"
    ok = run_cli(
        "verify", "--data-dir", seeded.data_dir, user="doc", FIELDCHART_PASSPHRASE="doc v2 pass"
    )
    assert ok.returncode == 0, ok.stderr
    listed = run_cli("user", "list", "--data-dir", seeded.data_dir, "--json")
    assert [u["name"] for u in json.loads(listed.stdout)] == ["admin", "desk", "doc"]


def test_an_open_during_a_running_rotation_leaves_its_files_alone(seeded: SeededVault) -> None:
    next_db = seeded.data_dir / "vault.db.next"
    next_db.write_bytes(b"being written")
    with rekey.vault_dir_lock(seeded.data_dir) as mine:  # what a running rotate-key holds
        assert mine
        assert rekey.finish_interrupted(seeded.data_dir) is None
        assert next_db.exists()
        with pytest.raises(VaultInUseError, match="another rotate-key"):
            rekey.rotate_file(seeded.data_dir, b"k" * 32, b"n" * 32, KeySlotFile("x"))
    assert rekey.finish_interrupted(seeded.data_dir) == "rolled back"
