"""Roles come from signed grants, every event is signed, older vaults migrate (issue 15 item 9;
docs/security/roles-and-signatures.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain import events as ev
from app.domain.roles import Actor, Role
from app.store.crypto import FAST_FOR_TESTS
from app.store.database import write_transaction
from app.store.errors import TamperError
from app.store.event_log import ANY_VERSION
from app.store.keyslots import KeySlotFile, user_slot_id
from app.store.role_grants import GRANTS_STREAM, ROLE, Grant
from app.store.vault import SLOTS_FILE, Vault
from tests.reliability.forged_roles import before_signing_keys

ADMIN, DOC, DESK = "admin", "doc", "desk"
PASS = {ADMIN: "admin passphrase", DOC: "doc passphrase", DESK: "desk passphrase"}


def new_vault(data_dir: Path) -> str:
    """A vault with admin, doc (clinician) and desk (staff); returns its recovery secret."""
    vault, recovery = Vault.create(data_dir, ADMIN, PASS[ADMIN], kdf=FAST_FOR_TESTS)
    vault.add_user(DOC, Role.CLINICIAN, PASS[DOC], kdf=FAST_FOR_TESTS)
    vault.add_user(DESK, Role.STAFF, PASS[DESK], kdf=FAST_FOR_TESTS)
    vault.lock()
    return recovery


def unlocked(data_dir: Path, user: str, passphrase: str | None = None) -> Vault:
    vault = Vault.open(data_dir)
    vault.unlock(user, passphrase or PASS[user])
    return vault


def verified(data_dir: Path) -> tuple[int, int, list[str]]:
    """(signed, unsigned legacy, problems) as `fieldchart verify` finds them."""
    vault = unlocked(data_dir, ADMIN)
    try:
        vault.events.verify()
        report, mismatches = vault.signing.verify()
    finally:
        vault.lock()
    return report.signed, report.legacy, [p for _, p in report.problems] + mismatches


def test_a_new_vault_signs_every_event_and_verifies(tmp_path: Path) -> None:
    new_vault(tmp_path)
    signed, legacy, problems = verified(tmp_path)
    assert (signed, legacy, problems) == (4, 0, [])  # two grants and their two audit events
    anchor = KeySlotFile.load(tmp_path / SLOTS_FILE).signing_anchor
    assert anchor is not None and Vault.open(tmp_path).trust_anchor is not None


def test_a_role_edited_in_the_users_table_changes_nothing_the_app_does(tmp_path: Path) -> None:
    new_vault(tmp_path)
    vault = unlocked(tmp_path, DESK)
    with write_transaction(vault.engine) as conn:  # the data key is all this needs
        conn.exec_driver_sql("UPDATE users SET role = 'clinician' WHERE name = 'desk'")
    vault.lock()

    vault = unlocked(tmp_path, DESK)
    assert vault.actor == Actor(DESK, Role.STAFF)
    vault.lock()
    assert verified(tmp_path)[2] == [
        "the users table gives 'desk' the role clinician; the signed grants give staff"
    ]


def test_a_grant_signed_by_a_staff_key_is_refused_at_unlock_and_by_verify(tmp_path: Path) -> None:
    new_vault(tmp_path)
    vault = unlocked(tmp_path, DESK)
    grant = Grant(ROLE, DESK, "clinician").record(DESK, "staff", vault.device_id, "now")
    vault.events.append(GRANTS_STREAM, ANY_VERSION, [grant])  # signed with desk's own key
    vault.lock()

    with pytest.raises(TamperError, match="signed by 'desk', who is not an admin"):
        unlocked(tmp_path, DESK)
    with pytest.raises(TamperError, match="who is not an admin"):
        unlocked(tmp_path, ADMIN)


def test_passwd_keeps_the_signing_key_sealed_under_the_new_passphrase(tmp_path: Path) -> None:
    new_vault(tmp_path)
    before = KeySlotFile.load(tmp_path / SLOTS_FILE).slots[user_slot_id(DOC)].signing
    Vault.open(tmp_path).change_passphrase(DOC, PASS[DOC], "a new doc passphrase")
    after = KeySlotFile.load(tmp_path / SLOTS_FILE).slots[user_slot_id(DOC)].signing
    assert before is not None and after is not None
    assert after.public == before.public and after.sealed_private != before.sealed_private

    vault = unlocked(tmp_path, DOC, "a new doc passphrase")
    vault.record_admin_action("Checked", DOC)  # signed with the kept key
    vault.lock()
    assert verified(tmp_path)[2] == []


def test_a_reset_with_the_recovery_secret_is_an_audited_signed_event(tmp_path: Path) -> None:
    recovery = new_vault(tmp_path)
    vault = Vault.open(tmp_path)
    vault.unlock_with_recovery(recovery)
    vault.reset_passphrase(DOC, "doc was reset")
    audit = [r for r in vault.events.read_all() if r.type == "AdminActionRecorded"][-1].to_domain()
    vault.lock()
    assert audit == ev.AdminActionRecorded(
        action="PassphraseReset", subject=DOC, detail="recovery secret"
    )
    assert unlocked(tmp_path, DOC, "doc was reset").actor.role is Role.CLINICIAN
    assert verified(tmp_path)[2] == []


def test_a_full_rotation_keeps_the_admins_key_and_old_events_verify(tmp_path: Path) -> None:
    new_vault(tmp_path)
    anchor = KeySlotFile.load(tmp_path / SLOTS_FILE).signing_anchor
    vault = unlocked(tmp_path, ADMIN)
    rotation = vault.rotate_keys(new_vault_key=True, passphrase=PASS[ADMIN])
    assert rotation.need_new_passphrase == [DESK, DOC]
    vault = unlocked(tmp_path, ADMIN)
    vault.reset_passphrase(DESK, "desk after rotation")
    vault.lock()
    slots = KeySlotFile.load(tmp_path / SLOTS_FILE)
    assert slots.signing_anchor == anchor
    assert slots.slots[user_slot_id(ADMIN)].signing is not None
    assert unlocked(tmp_path, DESK, "desk after rotation").actor.role is Role.STAFF
    vault = Vault.open(tmp_path)
    vault.unlock_with_recovery(str(rotation.recovery_secret))  # introduces its new key
    vault.lock()
    assert verified(tmp_path)[2] == []


def test_an_older_vault_migrates_at_an_admins_unlock(tmp_path: Path) -> None:
    with before_signing_keys():
        new_vault(tmp_path)
        vault = unlocked(tmp_path, DESK)
        vault.record_admin_action("Before", DESK)
        vault.lock()
    assert KeySlotFile.load(tmp_path / SLOTS_FILE).signing_anchor is None

    vault = unlocked(tmp_path, DESK)  # no admin yet: still unsigned, the table's role
    assert vault.actor.role is Role.STAFF and vault.signing.signer is None
    vault.lock()
    unlocked(tmp_path, ADMIN).lock()  # the migration: anchor and signed baseline
    vault = unlocked(tmp_path, DESK)  # introduces desk's key
    assert vault.signing.signer is not None
    vault.record_admin_action("After", DESK)
    vault.lock()

    signed, legacy, problems = verified(tmp_path)
    assert problems == [] and legacy == 3 and signed > 0  # two UserAdded, one Before
