"""`fieldchart backup` and `fieldchart restore`: consistent while the clinic keeps writing,
still encrypted, verified before anything is replaced, never over a vault without --force."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from app.projections.runner import replay_in_memory
from app.services.clinic import Clinic
from app.services.clinic_queries import read_chart
from app.store.keyslots import KeySlotFile, user_slot_id
from app.store.rekey import raw_connect
from app.store.vault import Vault
from tests.it.conftest import (
    DOC,
    PASSPHRASES,
    PATIENTS,
    REPO_ROOT,
    SeededVault,
    held_open,
    one_line_error,
    open_as,
    run_cli,
)
from tests.store.helpers import file_digests


def charts_at(clinic: Clinic, head: int, patients: list[str]) -> dict[str, object]:
    """Every patient's chart as the log stood at position `head` (replayed from the log)."""
    records = [r for r in clinic.vault.events.read_all() if r.position <= head]
    engine = replay_in_memory(records)
    try:
        with engine.connect() as conn:
            today = clinic.clock().date()
            return {pid: read_chart(conn, pid, today) for pid in patients}
    finally:
        engine.dispose()


def live_charts(clinic: Clinic, patients: list[str]) -> dict[str, object]:
    return {pid: clinic.queries.chart(pid, DOC, record_view=False) for pid in patients}


def names_in(data: bytes) -> list[str]:
    found = []
    for given, family in PATIENTS:
        for name in (given, family):
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                if name.encode(encoding) in data:
                    found.append(f"{name} ({encoding})")
    return found


def backed_up(seeded: SeededVault, tmp_path: Path) -> Path:
    """The seeded vault backed up by `fieldchart backup` to tmp_path/b.zip."""
    backup = tmp_path / "b.zip"
    assert run_cli("backup", "--data-dir", seeded.data_dir, "--out", backup).returncode == 0
    return backup


def test_a_backup_taken_while_another_process_writes_restores_to_identical_charts(
    seeded: SeededVault, tmp_path: Path
) -> None:
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.it.writer", str(seeded.data_dir), str(stop), str(ready)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert writer.poll() is None, writer.communicate()
            assert time.monotonic() < deadline, "the writer never started"
            time.sleep(0.05)
        backup = tmp_path / "clinic.fcbackup"
        made = run_cli("backup", "--data-dir", seeded.data_dir, "--out", backup, "--json")
        time.sleep(0.3)  # the clinic keeps working after the backup, too
    finally:
        stop.write_text("stop")
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert made.returncode == 0, made.stderr
    info = json.loads(made.stdout)
    written_during = int(out.strip())
    assert written_during > 0

    restored_dir = tmp_path / "elsewhere" / "vault"
    restored = run_cli("restore", "--from", backup, "--data-dir", restored_dir, "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["events"] == info["events"]
    verified = run_cli("verify", "--data-dir", restored_dir, "--json", user="doc")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["head_position"] == info["head_position"]

    original = open_as(seeded.data_dir)
    copy = open_as(restored_dir)
    try:
        head = copy.vault.events.head_position()
        assert head == info["head_position"]
        # The writer kept going after the snapshot was taken ...
        assert original.vault.events.head_position() > head
        # ... and the backup is exactly the log up to its head: same charts, DTO for DTO.
        assert live_charts(copy, seeded.patients) == charts_at(original, head, seeded.patients)
        assert copy.vault.vault_id == original.vault.vault_id
    finally:
        copy.close()
        original.close()


def test_the_backup_file_is_encrypted_and_describes_itself_without_patient_data(
    seeded: SeededVault, tmp_path: Path
) -> None:
    backup = backed_up(seeded, tmp_path)
    data = backup.read_bytes()
    assert names_in(data) == []
    assert backup.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(backup) as zf:
        assert zf.namelist() == ["manifest.json", "keyslots.json", "vault.db"]
        manifest = json.loads(zf.read("manifest.json"))
        db = zf.read("vault.db")
    assert manifest["format"] == "fieldchart-backup/1"
    assert set(manifest) == {
        "format",
        "created_at",
        "vault_id",
        "events",
        "head_position",
        "members",
    }
    assert manifest["members"]["vault.db"]["sha256"] == hashlib.sha256(db).hexdigest()
    assert not db.startswith(b"SQLite format 3")  # SQLCipher: not even the header is plain
    # Nothing was left beside the backup (no temporary or plaintext files).
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "logs") == ["b.zip", "clinic"]


def test_restore_into_an_empty_directory_then_refuses_to_overwrite_without_force(
    seeded: SeededVault, tmp_path: Path
) -> None:
    backup = backed_up(seeded, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    first = run_cli("restore", "--from", backup, "--data-dir", empty)
    assert first.returncode == 0, first.stderr
    assert "chain verified" in first.stdout
    assert sorted(p.name for p in empty.iterdir()) == ["keyslots.json", "vault.db"]

    before = file_digests(empty)
    again = run_cli("restore", "--from", backup, "--data-dir", empty)
    assert again.returncode == 1
    assert "already holds a vault" in one_line_error(again)
    assert file_digests(empty) == before

    forced = run_cli("restore", "--from", backup, "--data-dir", empty, "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    aside = Path(json.loads(forced.stdout)["replaced"])
    assert aside.parent == empty and aside.name.startswith("replaced-")
    assert file_digests(aside) == before  # the replaced vault is kept, not deleted
    clinic = open_as(empty)
    try:
        assert {p.family for p in clinic.queries.search_patients("", 10)} == {
            family for _given, family in PATIENTS
        }
    finally:
        clinic.close()


def _rewrite(backup: Path, target: Path, db: bytes | None = None, fix_sums: bool = True) -> None:
    """Copy a backup, replacing its database (and, like a careful forger, its checksums)."""
    with zipfile.ZipFile(backup) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    if db is not None:
        members["vault.db"] = db
    if fix_sums:
        manifest = json.loads(members["manifest.json"])
        for name in ("vault.db", "keyslots.json"):
            manifest["members"][name] = {
                "bytes": len(members[name]),
                "sha256": hashlib.sha256(members[name]).hexdigest(),
            }
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_a_backup_with_a_broken_chain_is_refused_and_the_target_left_untouched(
    seeded: SeededVault, tmp_path: Path
) -> None:
    backup = backed_up(seeded, tmp_path)
    # An attacker (or a bug) holding the key edits an early event in the backup's database
    # and fixes the manifest's checksums: only the hash chain can tell.
    work = tmp_path / "work"
    work.mkdir()
    with zipfile.ZipFile(backup) as zf:
        zf.extractall(work)
    key = KeySlotFile.load(work / "keyslots.json").unwrap(
        user_slot_id("admin"), PASSPHRASES["admin"].encode()
    )
    conn = raw_connect(work / "vault.db", key)
    try:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET type = 'NoteAdded' WHERE position = 3")
    finally:
        conn.close()
    tampered = tmp_path / "tampered.zip"
    _rewrite(backup, tampered, (work / "vault.db").read_bytes())

    target = tmp_path / "target"
    target_vault, _ = Vault.create(target, "other", "another passphrase")
    target_vault.lock()
    before = file_digests(target)
    refused = run_cli("restore", "--from", tampered, "--data-dir", target, "--force")
    assert refused.returncode == 1
    assert "does not match the hash chain" in one_line_error(refused)
    assert file_digests(target) == before
    assert sorted(p.name for p in target.iterdir()) == ["keyslots.json", "vault.db"]

    fresh = tmp_path / "fresh"
    refused = run_cli("restore", "--from", tampered, "--data-dir", fresh)
    assert refused.returncode == 1
    assert not fresh.exists()  # not even the directory is left behind


def test_a_damaged_backup_is_refused_by_its_checksums(seeded: SeededVault, tmp_path: Path) -> None:
    backup = backed_up(seeded, tmp_path)
    with zipfile.ZipFile(backup) as zf:
        db = bytearray(zf.read("vault.db"))
    db[len(db) // 2] ^= 0x01
    damaged = tmp_path / "damaged.zip"
    _rewrite(backup, damaged, bytes(db), fix_sums=False)
    refused = run_cli("restore", "--from", damaged, "--data-dir", tmp_path / "t")
    assert refused.returncode == 1
    assert "vault.db does not match its checksum" in one_line_error(refused)

    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello")
    refused = run_cli("restore", "--from", not_a_backup, "--data-dir", tmp_path / "t")
    assert refused.returncode == 1
    assert "is not a FieldChart backup" in one_line_error(refused)


def test_restore_needs_a_passphrase_of_the_backup_and_an_admin(
    seeded: SeededVault, tmp_path: Path
) -> None:
    backup = backed_up(seeded, tmp_path)
    target = tmp_path / "t"
    wrong = run_cli(
        "restore", "--from", backup, "--data-dir", target, FIELDCHART_PASSPHRASE="not it at all"
    )
    assert wrong.returncode == 2
    assert one_line_error(wrong) == "fieldchart: wrong passphrase for user 'admin'"
    assert not target.exists()
    clinician = run_cli("restore", "--from", backup, "--data-dir", target, user="doc")
    assert clinician.returncode == 1
    assert "only an admin may restore" in one_line_error(clinician)
    assert not target.exists()


def test_backup_refuses_to_replace_a_file_and_non_admins(
    seeded: SeededVault, tmp_path: Path
) -> None:
    existing = tmp_path / "b.zip"
    existing.write_text("yesterday")
    refused = run_cli("backup", "--data-dir", seeded.data_dir, "--out", existing)
    assert refused.returncode == 1
    assert "exists" in one_line_error(refused)
    assert existing.read_text() == "yesterday"
    assert (
        run_cli("backup", "--data-dir", seeded.data_dir, "--out", existing, "--force").returncode
        == 0
    )
    assert zipfile.is_zipfile(existing)

    clinician = run_cli(
        "backup", "--data-dir", seeded.data_dir, "--out", tmp_path / "c.zip", user="doc"
    )
    assert clinician.returncode == 1
    assert "only an admin may back up" in one_line_error(clinician)
    assert not (tmp_path / "c.zip").exists()


@pytest.mark.parametrize("user", ["doc", "desk"])
def test_every_user_of_the_backup_can_open_the_restored_vault(
    seeded: SeededVault, tmp_path: Path, user: str
) -> None:
    backup = backed_up(seeded, tmp_path)
    target = tmp_path / "t"
    assert run_cli("restore", "--from", backup, "--data-dir", target).returncode == 0
    vault = Vault.open(target)
    assert vault.unlock(user, PASSPHRASES[user]).user == user
    vault.lock()


def test_restore_force_is_refused_while_the_app_has_the_vault_open(
    seeded: SeededVault, tmp_path: Path
) -> None:
    backup = backed_up(seeded, tmp_path)
    with held_open(seeded.data_dir):
        before = file_digests(seeded.data_dir)
        refused = run_cli("restore", "--from", backup, "--data-dir", seeded.data_dir, "--force")
        assert refused.returncode == 1
        assert "open in FieldChart" in one_line_error(refused)
        assert file_digests(seeded.data_dir) == before
    forced = run_cli("restore", "--from", backup, "--data-dir", seeded.data_dir, "--force")
    assert forced.returncode == 0, forced.stderr
