"""The key-slot lock: every change of the key slots re-reads them under a cross-process lock,
so no handle writes back slots another one changed since it loaded them (issue 15, item 1).

Handles opened before another handle's change stand for other processes: each loaded the slot
file at open, as a `fieldchart` process does. The lock itself is flock, which also excludes
two threads of one process (each opens the lock file itself); the real-process races are in
tests/reliability/slot_races.py.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from app.domain.roles import Role
from app.store import slot_lock
from app.store.crypto import FAST_FOR_TESTS
from app.store.errors import (
    StorageUnavailableError,
    UserDisabledError,
    VaultBusyError,
    WrongPassphraseError,
)
from app.store.file_lock import BusyError, exclusive_lock
from app.store.keyslots import KeySlotFile
from app.store.slot_lock import (
    LOCK_FILE,
    KeySlotsBusyError,
    SlotsChangedError,
    slot_file_for_update,
)
from app.store.vault import Vault
from tests.held_lock import held_by_another_thread
from tests.store.conftest import CreatedVault
from tests.store.helpers import ADMIN, PASSPHRASE

BOB, BOB_PASS = "bob", "bobs own passphrase"
CAROL, CAROL_PASS = "carol", "carols own passphrase"


def held_elsewhere(path: Path) -> AbstractContextManager[None]:
    """The lock on `path` held by another thread for the block."""
    return held_by_another_thread(
        lambda: exclusive_lock(path, wait_s=1, busy=lambda: BusyError("busy"))
    )


def opens(data_dir: Path, user: str, passphrase: str) -> bool:
    vault = Vault.open(data_dir, sleep=lambda _: None)
    try:
        vault.unlock(user, passphrase)
    except WrongPassphraseError:
        return False
    vault.lock()
    return True


@pytest.fixture
def with_bob(created: CreatedVault) -> CreatedVault:
    created.vault.add_user(BOB, Role.CLINICIAN, BOB_PASS, kdf=FAST_FOR_TESTS)
    return created


# -- the lock ----------------------------------------------------------------------------------


def test_a_held_lock_makes_the_next_holder_wait_then_give_up_with_a_plain_message(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.lock"
    with (
        held_elsewhere(path),
        pytest.raises(BusyError) as caught,
        exclusive_lock(path, wait_s=0.1, busy=lambda: BusyError("held elsewhere")),
    ):
        pytest.fail("the lock was held by another thread")
    assert str(caught.value) == "held elsewhere"
    # The CLI's exit code 3: could not be done now, nothing was changed.
    assert isinstance(caught.value, StorageUnavailableError)
    # Released with the block: the next one gets it at once.
    with exclusive_lock(path, wait_s=0, busy=lambda: BusyError("x")):
        pass


def test_one_thread_may_take_a_lock_it_holds_again(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with exclusive_lock(path, wait_s=0, busy=lambda: BusyError("x")):
        with exclusive_lock(path, wait_s=0, busy=lambda: BusyError("x")):
            pass
        # Still held after the inner block: another thread cannot take it.
        outcome: list[str] = []

        def other() -> None:
            try:
                with exclusive_lock(path, wait_s=0, busy=lambda: BusyError("x")):
                    outcome.append("got it")
            except BusyError:
                outcome.append("busy")

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(5)
        assert outcome == ["busy"]


def test_a_slot_change_waits_for_the_lock_then_refuses_saying_why(
    with_bob: CreatedVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slot_lock, "WAIT_S", 0.1)
    before = (with_bob.data_dir / "keyslots.json").read_bytes()
    with held_elsewhere(with_bob.data_dir / LOCK_FILE), pytest.raises(KeySlotsBusyError) as caught:
        with_bob.vault.disable_user(BOB)
    assert str(caught.value) == (
        "another FieldChart command is changing users or keys of this vault (or rotating its "
        "key); nothing was changed: try again when it has finished"
    )
    assert isinstance(caught.value, VaultBusyError)
    assert (with_bob.data_dir / "keyslots.json").read_bytes() == before
    assert [u.disabled for u in with_bob.vault.list_users() if u.name == BOB] == [False]


def test_the_slots_are_read_again_under_the_lock(created: CreatedVault) -> None:
    stale = KeySlotFile.load(created.data_dir / "keyslots.json")
    created.vault.add_user(BOB, Role.CLINICIAN, BOB_PASS, kdf=FAST_FOR_TESTS)
    with slot_file_for_update(created.data_dir) as fresh:
        assert "user:bob" in fresh.slots
        assert "user:bob" not in stale.slots


# -- what the lock prevents ------------------------------------------------------------------


def test_two_admins_adding_users_through_stale_handles_keep_both(created: CreatedVault) -> None:
    other = Vault.open(created.data_dir)  # loaded the slots before the first add
    other.unlock(ADMIN, PASSPHRASE)
    created.vault.add_user(BOB, Role.CLINICIAN, BOB_PASS, kdf=FAST_FOR_TESTS)
    other.add_user(CAROL, Role.STAFF, CAROL_PASS, kdf=FAST_FOR_TESTS)
    other.lock()
    assert opens(created.data_dir, BOB, BOB_PASS)
    assert opens(created.data_dir, CAROL, CAROL_PASS)


def test_a_passphrase_change_from_a_stale_handle_keeps_another_users_change(
    with_bob: CreatedVault,
) -> None:
    passwd = Vault.open(with_bob.data_dir)  # `fieldchart passwd` loaded the slots here
    with_bob.vault.reset_passphrase(BOB, "bobs second passphrase")
    passwd.change_passphrase(ADMIN, PASSPHRASE, "the admins new passphrase")
    assert opens(with_bob.data_dir, BOB, "bobs second passphrase")
    assert opens(with_bob.data_dir, ADMIN, "the admins new passphrase")


def test_passwd_after_a_rotation_it_did_not_see_keeps_the_rotated_data_key(
    with_bob: CreatedVault,
) -> None:
    passwd = Vault.open(with_bob.data_dir)  # loaded the slots before the rotation
    rotation = with_bob.vault.rotate_keys()
    assert rotation.generation == 2
    passwd.change_passphrase(BOB, BOB_PASS, "bobs second passphrase")
    # Before the lock, this wrote the pre-rotation data key back: nothing opened the vault.
    assert opens(with_bob.data_dir, BOB, "bobs second passphrase")
    assert opens(with_bob.data_dir, ADMIN, PASSPHRASE)
    slots = KeySlotFile.load(with_bob.data_dir / "keyslots.json")
    assert slots.data_key is not None and slots.data_key.generation == 2


def test_passwd_after_a_new_vault_key_is_refused_and_changes_nothing(
    with_bob: CreatedVault,
) -> None:
    passwd = Vault.open(with_bob.data_dir)
    with_bob.vault.rotate_keys(new_vault_key=True, passphrase=PASSPHRASE)
    after_rotation = (with_bob.data_dir / "keyslots.json").read_bytes()
    with pytest.raises(SlotsChangedError):
        passwd.change_passphrase(ADMIN, PASSPHRASE, "the admins new passphrase")
    assert (with_bob.data_dir / "keyslots.json").read_bytes() == after_rotation
    assert opens(with_bob.data_dir, ADMIN, PASSPHRASE)


def test_passwd_racing_user_disable_does_not_bring_the_slot_back(with_bob: CreatedVault) -> None:
    passwd = Vault.open(with_bob.data_dir)
    with_bob.vault.disable_user(BOB)
    with pytest.raises(UserDisabledError):
        passwd.change_passphrase(BOB, BOB_PASS, "bobs second passphrase")
    slots = KeySlotFile.load(with_bob.data_dir / "keyslots.json")
    assert "user:bob" not in slots.slots and BOB in slots.disabled


def test_passwd_with_a_passphrase_changed_meanwhile_is_refused(with_bob: CreatedVault) -> None:
    first, second = Vault.open(with_bob.data_dir), Vault.open(with_bob.data_dir)
    first.change_passphrase(BOB, BOB_PASS, "bobs second passphrase")
    with pytest.raises(SlotsChangedError):
        second.change_passphrase(BOB, BOB_PASS, "bobs third passphrase")
    assert opens(with_bob.data_dir, BOB, "bobs second passphrase")


def test_a_rotation_plans_from_the_slots_on_disk_not_its_own_stale_copy(
    created: CreatedVault,
) -> None:
    rotating = Vault.open(created.data_dir)
    rotating.unlock(ADMIN, PASSPHRASE)
    rotating.lock()  # a second session may not hold the file open during the rotation
    created.vault.add_user(BOB, Role.CLINICIAN, BOB_PASS, kdf=FAST_FOR_TESTS)
    created.vault.lock()
    rotating.unlock(ADMIN, PASSPHRASE)
    rotating.rotate_keys()
    assert opens(created.data_dir, BOB, BOB_PASS)


def test_a_rotation_waits_for_a_slot_change_in_progress(
    with_bob: CreatedVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slot_lock, "WAIT_S", 0.1)
    before = (with_bob.data_dir / "keyslots.json").read_bytes()
    with held_elsewhere(with_bob.data_dir / LOCK_FILE), pytest.raises(KeySlotsBusyError):
        with_bob.vault.rotate_keys()
    # Refused before it started: the same keys, and the session is still unlocked.
    assert (with_bob.data_dir / "keyslots.json").read_bytes() == before
    assert with_bob.vault.is_unlocked
