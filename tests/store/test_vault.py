"""The vault's lifecycle as the people using it see it: create, unlock, lock, manage users."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from app.domain.roles import Actor, Role
from app.store import crypto
from app.store.crypto import FAST_FOR_TESTS, RFC9106_SECOND
from app.store.errors import (
    CredentialsError,
    NotAVaultError,
    PermissionDeniedError,
    UnknownUserError,
    UserExistsError,
    VaultExistsError,
    VaultLockedError,
    VaultNotFoundError,
    WrongPassphraseError,
    WrongRecoverySecretError,
)
from app.store.event_log import EventLog
from app.store.migrations import MIGRATIONS, Migration, migrate
from app.store.throttle import MAX_DELAY_S, delay_for
from app.store.vault import Vault
from tests.store.conftest import CreatedVault
from tests.store.helpers import ADMIN, PASSPHRASE, append_one, file_digests, seed_events

BOB_PASSPHRASE = "bobs own passphrase"
NOT_A_VAULT = (
    "vault.db cannot be opened with this vault's key: it is not a FieldChart vault, "
    "or it is truncated or corrupted"
)


def reopen(data_dir: Path, **kwargs: Any) -> Vault:
    return Vault.open(data_dir, **kwargs)


# -- create, unlock, lock ------------------------------------------------------------------


def test_a_clinic_creates_a_vault_locks_it_and_reads_its_notes_after_reopening(
    tmp_path: Path,
) -> None:
    # The real default Argon2id parameters (RFC 9106, second recommendation) in one test.
    data_dir = tmp_path / "clinic"
    vault, recovery = Vault.create(data_dir, ADMIN, PASSPHRASE)
    written = [append_one(vault, "patient-1", {"note": f"visit {i}"}) for i in range(3)]
    vault.lock()
    assert not vault.is_unlocked

    slots = json.loads((data_dir / "keyslots.json").read_text())
    assert {s["id"] for s in slots["slots"]} == {"user:admin", "recovery"}
    assert all(
        s["kdf"] == {"alg": "argon2id", "iterations": 3, "memory_kib": 65536, "lanes": 4}
        for s in slots["slots"]
    )
    assert RFC9106_SECOND.memory_kib == 65536

    again = Vault.open(data_dir)
    assert not again.is_unlocked
    actor = again.unlock(ADMIN, PASSPHRASE)
    try:
        assert actor == Actor(ADMIN, Role.ADMIN)
        read = again.events.read_stream("patient-1")
        assert [e.payload for e in read] == [
            {"note": "visit 0"},
            {"note": "visit 1"},
            {"note": "visit 2"},
        ]
        assert [e.event_id for e in read] == [e.event_id for e in written]
        assert [e.position for e in again.events.read_all()] == [1, 2, 3]
        assert again.events.verify().events == 3
    finally:
        again.lock()
    assert len(recovery.replace("-", "")) == 32


def test_the_first_user_is_the_admin(created: CreatedVault) -> None:
    assert created.vault.actor == Actor(ADMIN, Role.ADMIN)
    assert created.vault.first_admin == ADMIN
    [user] = created.vault.list_users()
    assert (user.name, user.role, user.disabled) == (ADMIN, Role.ADMIN, False)


def test_a_wrong_passphrase_is_refused_with_a_plain_message(created: CreatedVault) -> None:
    created.vault.lock()
    vault = reopen(created.data_dir, sleep=lambda _s: None)
    with pytest.raises(WrongPassphraseError) as caught:
        vault.unlock(ADMIN, "not the passphrase")
    assert str(caught.value) == "wrong passphrase for user 'admin'"
    assert not vault.is_unlocked


def test_the_message_names_the_user_who_typed_it(created: CreatedVault) -> None:
    created.vault.add_user("x", Role.CLINICIAN, BOB_PASSPHRASE)
    vault = reopen(created.data_dir)
    with pytest.raises(WrongPassphraseError) as caught:
        vault.unlock("x", "nope nope nope")
    assert str(caught.value) == "wrong passphrase for user 'x'"


def test_an_unknown_user_is_told_so(created: CreatedVault) -> None:
    vault = reopen(created.data_dir)
    with pytest.raises(UnknownUserError) as caught:
        vault.unlock("mallory", PASSPHRASE)
    assert str(caught.value) == "there is no user 'mallory' in this vault"
    assert isinstance(caught.value, CredentialsError)
    assert not vault.is_unlocked


def reopen_locked(created: CreatedVault) -> tuple[Vault, list[float]]:
    """The vault locked, then opened by a new handle whose throttle's waits are recorded."""
    created.vault.lock()
    slept: list[float] = []
    return reopen(created.data_dir, sleep=slept.append), slept


def guess_wrong(vault: Vault, times: int) -> None:
    """`times` unlocks as the admin with a wrong passphrase, each refused."""
    for _ in range(times):
        with pytest.raises(WrongPassphraseError):
            vault.unlock(ADMIN, "guess guess guess")


def test_repeated_failures_make_each_attempt_wait_longer_until_a_success(
    created: CreatedVault,
) -> None:
    vault, slept = reopen_locked(created)

    guess_wrong(vault, 6)
    # Three free attempts, then 1 s, 2 s, 4 s before the 4th, 5th and 6th.
    assert slept == [1.0, 2.0, 4.0]

    # The failures are remembered on disk, so another process (a new handle) waits too.
    other_slept: list[float] = []
    other = reopen(created.data_dir, sleep=other_slept.append)
    with pytest.raises(WrongPassphraseError):
        other.unlock(ADMIN, "guess guess guess")
    assert other_slept == [8.0]

    # The right passphrase still waits its turn, then clears the count.
    vault.unlock(ADMIN, PASSPHRASE)
    assert slept == [1.0, 2.0, 4.0, 16.0]
    vault.lock()

    slept.clear()
    guess_wrong(vault, 3)
    assert slept == []

    # The delay grows without bound only up to a cap.
    assert [delay_for(n) for n in range(3, 10)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert delay_for(100) == MAX_DELAY_S


def test_one_users_failures_do_not_slow_down_another_user(created: CreatedVault) -> None:
    created.vault.add_user("bob", Role.CLINICIAN, BOB_PASSPHRASE, kdf=FAST_FOR_TESTS)
    vault, slept = reopen_locked(created)
    guess_wrong(vault, 5)
    slept.clear()
    vault.unlock("bob", BOB_PASSPHRASE)
    vault.lock()
    assert slept == []


def test_guessing_through_change_passphrase_is_slowed_down_like_unlock(
    created: CreatedVault,
) -> None:
    # `fieldchart passwd` checks the old passphrase with change_passphrase(); the throttle's
    # promise is that guessing "through the app or CLI gets slower with every failure".
    vault, slept = reopen_locked(created)
    for _ in range(6):
        with pytest.raises(WrongPassphraseError):
            vault.change_passphrase(ADMIN, "guess guess guess", "a new passphrase")
    assert slept == [1.0, 2.0, 4.0]


# -- recovery and passphrases --------------------------------------------------------------


def test_the_recovery_secret_resets_a_forgotten_passphrase(created: CreatedVault) -> None:
    created.vault.add_user("bob", Role.CLINICIAN, BOB_PASSPHRASE)
    created.vault.lock()

    vault = reopen(created.data_dir)
    with pytest.raises(WrongRecoverySecretError):
        vault.unlock_with_recovery("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH")
    # Read aloud and typed back in lower case without dashes, it still works.
    secret = created.recovery_secret.replace("-", " ").lower()
    assert vault.unlock_with_recovery(secret) == Actor("recovery", Role.ADMIN)
    vault.reset_passphrase("bob", "bobs brand new passphrase")
    vault.lock()

    fresh = reopen(created.data_dir)
    with pytest.raises(WrongPassphraseError):
        fresh.unlock("bob", BOB_PASSPHRASE)
    assert fresh.unlock("bob", "bobs brand new passphrase") == Actor("bob", Role.CLINICIAN)
    fresh.lock()
    # The admin's own passphrase was not touched.
    assert fresh.unlock(ADMIN, PASSPHRASE).user == ADMIN
    fresh.lock()


def test_changing_a_passphrase_affects_only_that_user(created: CreatedVault) -> None:
    created.vault.add_user("bob", Role.CLINICIAN, BOB_PASSPHRASE)
    created.vault.lock()

    vault = reopen(created.data_dir)  # no unlock needed: proving the old passphrase suffices
    with pytest.raises(WrongPassphraseError):
        vault.change_passphrase("bob", "not bobs passphrase", "whatever new one")
    vault.change_passphrase("bob", BOB_PASSPHRASE, "bobs second passphrase")

    fresh = reopen(created.data_dir)
    with pytest.raises(WrongPassphraseError):
        fresh.unlock("bob", BOB_PASSPHRASE)
    fresh.unlock("bob", "bobs second passphrase")
    fresh.lock()
    fresh.unlock(ADMIN, PASSPHRASE)
    fresh.lock()
    fresh.unlock_with_recovery(created.recovery_secret)
    fresh.lock()


def test_a_new_passphrase_must_be_long_enough(created: CreatedVault) -> None:
    with pytest.raises(ValueError, match="at least 8 characters"):
        created.vault.change_passphrase(ADMIN, PASSPHRASE, "short")
    with pytest.raises(ValueError, match="at least 8 characters"):
        created.vault.add_user("bob", Role.STAFF, "short")


# -- roles and users -------------------------------------------------------------------------


def test_a_clinician_cannot_manage_users(created: CreatedVault) -> None:
    created.vault.add_user("bob", Role.CLINICIAN, BOB_PASSPHRASE)
    created.vault.lock()
    slots_before = file_digests(created.data_dir)["keyslots.json"]

    vault = reopen(created.data_dir)
    vault.unlock("bob", BOB_PASSPHRASE)
    try:
        with pytest.raises(PermissionDeniedError) as caught:
            vault.add_user("eve", Role.ADMIN, "eves passphrase")
        assert str(caught.value) == "only an admin may add users; you are clinician"
        with pytest.raises(PermissionDeniedError):
            vault.reset_passphrase(ADMIN, "taken over passphrase")
        with pytest.raises(PermissionDeniedError):
            vault.disable_user(ADMIN)
        assert [u.name for u in vault.list_users()] == [ADMIN, "bob"]
    finally:
        vault.lock()
    assert file_digests(created.data_dir)["keyslots.json"] == slots_before


def test_user_names_are_unique(created: CreatedVault) -> None:
    created.vault.add_user("bob", Role.STAFF, BOB_PASSPHRASE)
    with pytest.raises(UserExistsError):
        created.vault.add_user("bob", Role.ADMIN, BOB_PASSPHRASE)
    with pytest.raises(UserExistsError):
        created.vault.add_user("recovery", Role.ADMIN, BOB_PASSPHRASE)


def test_a_disabled_user_cannot_unlock(created: CreatedVault) -> None:
    created.vault.add_user("bob", Role.CLINICIAN, BOB_PASSPHRASE)
    created.vault.disable_user("bob")
    assert {u.name: u.disabled for u in created.vault.list_users()} == {ADMIN: False, "bob": True}
    with pytest.raises(PermissionDeniedError):
        created.vault.disable_user(ADMIN)  # not yourself

    vault = reopen(created.data_dir)
    with pytest.raises(CredentialsError):
        vault.unlock("bob", BOB_PASSPHRASE)
    assert not vault.is_unlocked


def test_the_name_of_a_disabled_user_is_refused_as_taken(created: CreatedVault) -> None:
    # A disabled user keeps their row (their events name them), so the name stays taken; the
    # refusal must be the store's own error, not a raw database constraint failure.
    created.vault.add_user("bob", Role.CLINICIAN, BOB_PASSPHRASE)
    created.vault.disable_user("bob")
    with pytest.raises(UserExistsError):
        created.vault.add_user("bob", Role.CLINICIAN, "another passphrase")


# -- locking ----------------------------------------------------------------------------------


def test_a_locked_vault_refuses_every_use(vault: Vault) -> None:
    seed_events(vault, 2)
    vault.lock()
    for use in (
        lambda: vault.engine,
        lambda: vault.events,
        lambda: vault.actor,
        lambda: vault.device_id,
        lambda: vault.list_users(),
        lambda: vault.add_user("bob", Role.STAFF, BOB_PASSPHRASE),
    ):
        with pytest.raises(VaultLockedError) as caught:
            use()
        assert str(caught.value) == "the vault is locked; unlock it first"
    vault.lock()  # locking twice is harmless


def _key_material(obj: object, path: str, seen: set[int], depth: int = 0) -> list[str]:
    """Where, under `obj`, something that looks like a live key or an engine is referenced."""
    if id(obj) in seen or depth > 8:
        return []
    seen.add(id(obj))
    if isinstance(obj, (bytes, bytearray)):
        public = path.endswith((".public", "signing_anchor", "signing_genesis_recovery"))
        return [path] if len(obj) == crypto.KEY_BYTES and any(obj) and not public else []
    if isinstance(obj, (Engine, EventLog)):
        return [f"{path} ({type(obj).__name__})"]
    if isinstance(obj, (str, int, float, bool, type(None), Path)) or callable(obj):
        return []
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _key_material(value, f"{path}[{key!r}]", seen, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, value in enumerate(obj):
            found += _key_material(value, f"{path}[{i}]", seen, depth + 1)
    elif hasattr(obj, "__dict__"):
        for name, value in vars(obj).items():
            found += _key_material(value, f"{path}.{name}", seen, depth + 1)
    return found


def test_after_locking_the_vault_holds_no_key_and_no_engine(vault: Vault) -> None:
    seed_events(vault, 3)
    assert _key_material(vault, "vault", set()), "the walk should see the key while unlocked"
    key_buffer = vault._data_key  # white box: the buffer itself must be overwritten
    assert key_buffer is not None and any(key_buffer)

    vault.lock()

    assert _key_material(vault, "vault", set()) == []
    assert key_buffer == bytearray(crypto.KEY_BYTES)


def test_an_event_log_handle_kept_from_before_lock_is_locked_too(vault: Vault) -> None:
    # A projection or screen may hold `vault.events`; after auto-lock it must not reopen the
    # database with the old key nor report the log as tampered.
    seed_events(vault, 2)
    kept = vault.events
    vault.lock()
    with pytest.raises(VaultLockedError):
        list(kept.read_all())
    with pytest.raises(VaultLockedError):
        kept.verify()
    assert not (vault.data_dir / "vault.db-wal").exists(), "the database was opened again"


# -- creating over, and opening, things that are not a vault ----------------------------------


def test_create_refuses_to_overwrite_an_existing_vault(created: CreatedVault) -> None:
    seed_events(created.vault, 3)
    created.vault.lock()
    before = file_digests(created.data_dir)

    with pytest.raises(VaultExistsError) as caught:
        Vault.create(created.data_dir, "other", "another passphrase", kdf=FAST_FOR_TESTS)
    assert str(caught.value) == f"a vault already exists in {created.data_dir}"
    assert file_digests(created.data_dir) == before

    vault = reopen(created.data_dir)
    vault.unlock(ADMIN, PASSPHRASE)
    assert vault.events.verify().events == 3
    vault.lock()


def test_create_refuses_a_directory_holding_only_a_database(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "vault.db").write_bytes(b"left over from an interrupted creation")
    before = file_digests(data_dir)
    with pytest.raises(VaultExistsError, match="exists without its key slots"):
        Vault.create(data_dir, ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    assert file_digests(data_dir) == before


def test_opening_an_empty_directory_says_there_is_no_vault(tmp_path: Path) -> None:
    with pytest.raises(VaultNotFoundError) as caught:
        Vault.open(tmp_path)
    assert str(caught.value) == f"no vault in {tmp_path}; create one with `init`"


def test_a_database_without_its_key_slots_is_not_a_vault(tmp_path: Path) -> None:
    (tmp_path / "vault.db").write_bytes(b"SQLite format 3\x00" + bytes(100))
    before = file_digests(tmp_path)
    with pytest.raises(NotAVaultError, match=r"has no key-slot file \(keyslots.json\)"):
        Vault.open(tmp_path)
    assert file_digests(tmp_path) == before


def _plain_sqlite_file(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('an ordinary database')")
    conn.commit()
    conn.close()
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.mark.parametrize(
    "make_bad_file",
    [
        pytest.param(lambda vault_db, tmp: b"these are my notes, not a vault\n", id="text-file"),
        pytest.param(lambda vault_db, tmp: _plain_sqlite_file(tmp / "plain.db"), id="plain-sqlite"),
        pytest.param(lambda vault_db, tmp: os.urandom(len(vault_db)), id="random-bytes"),
        pytest.param(lambda vault_db, tmp: vault_db[: len(vault_db) // 2], id="truncated-half"),
        pytest.param(lambda vault_db, tmp: vault_db[:4096], id="truncated-one-page"),
        pytest.param(lambda vault_db, tmp: vault_db[:100], id="truncated-100-bytes"),
        pytest.param(lambda vault_db, tmp: vault_db[:-1], id="truncated-one-byte-short"),
        pytest.param(lambda vault_db, tmp: b"", id="truncated-to-empty"),
    ],
)
def test_a_vault_db_that_is_not_this_vault_is_refused_and_left_untouched(
    created: CreatedVault, tmp_path: Path, make_bad_file: Any
) -> None:
    seed_events(created.vault, 40)
    created.vault.lock()
    db = created.data_dir / "vault.db"
    bad = make_bad_file(db.read_bytes(), tmp_path)
    db.write_bytes(bad)

    vault = reopen(created.data_dir)
    with pytest.raises(NotAVaultError) as caught:
        vault.unlock(ADMIN, PASSPHRASE)

    assert db.read_bytes() == bad, f"vault.db was rewritten ({len(db.read_bytes())} bytes now)"
    assert str(caught.value) == NOT_A_VAULT
    assert not vault.is_unlocked
    # Lock files hold nothing (app/store/file_lock.py): the unlock attempt's throttle made one.
    assert sorted(p.name for p in created.data_dir.iterdir() if p.suffix != ".lock") == [
        "keyslots.json",
        "vault.db",
    ]


def test_another_vaults_database_is_refused(created: CreatedVault, tmp_path: Path) -> None:
    other, _ = Vault.create(tmp_path / "other", ADMIN, PASSPHRASE, kdf=FAST_FOR_TESTS)
    other.lock()
    created.vault.lock()
    foreign = (tmp_path / "other" / "vault.db").read_bytes()
    (created.data_dir / "vault.db").write_bytes(foreign)
    with pytest.raises(NotAVaultError) as caught:
        reopen(created.data_dir).unlock(ADMIN, PASSPHRASE)
    assert str(caught.value) == NOT_A_VAULT
    assert (created.data_dir / "vault.db").read_bytes() == foreign


def test_a_damaged_key_slot_file_is_not_a_vault(created: CreatedVault) -> None:
    created.vault.lock()
    (created.data_dir / "keyslots.json").write_text('{"format": "something else"}')
    with pytest.raises(NotAVaultError) as caught:
        Vault.open(created.data_dir)
    assert str(caught.value) == "keyslots.json is not a readable FieldChart key-slot file"


# -- the files on disk ---------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_only_the_owner_may_read_the_vault_files(created: CreatedVault) -> None:
    d = created.data_dir
    assert _mode(d) == 0o700
    assert _mode(d / "vault.db") == 0o600
    assert _mode(d / "keyslots.json") == 0o600

    seed_events(created.vault, 2)
    assert _mode(d / "vault.db-wal") == 0o600
    assert _mode(d / "vault.db-shm") == 0o600

    # Rewriting the slot file (new user, new passphrase) and the throttle file keeps it private.
    created.vault.add_user("bob", Role.STAFF, BOB_PASSPHRASE)
    created.vault.lock()
    reopen(d).change_passphrase("bob", BOB_PASSPHRASE, "bobs second passphrase")
    with pytest.raises(WrongPassphraseError):
        reopen(d).unlock("bob", "wrong wrong wrong")
    assert _mode(d / "keyslots.json") == 0o600
    assert _mode(d / "unlock-failures.json") == 0o600
    assert _mode(d / "vault.db") == 0o600


def test_every_connection_is_durable_and_keeps_temporary_data_in_memory(vault: Vault) -> None:
    with vault.engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "temp_store", "foreign_keys")
        }
        cipher_version = conn.exec_driver_sql("PRAGMA cipher_version").scalar()
    assert pragma == {"journal_mode": "wal", "synchronous": 2, "temp_store": 2, "foreign_keys": 1}
    assert cipher_version, "the connection is plain SQLite, not SQLCipher"


def _applied(vault: Vault) -> list[tuple[int, str]]:
    with vault.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        )
        return [(r.version, r.name) for r in rows if r.applied_at]


def test_schema_migrations_are_recorded_once(created: CreatedVault) -> None:
    every = [(m.version, m.name) for m in MIGRATIONS]
    assert every[0] == (1, "vault metadata, users and the event log")
    assert [v for v, _ in every] == list(range(1, len(every) + 1))

    assert _applied(created.vault) == every
    created.vault.lock()
    vault = reopen(created.data_dir)
    vault.unlock(ADMIN, PASSPHRASE)
    try:
        assert _applied(vault) == every  # reopening applies nothing twice
    finally:
        vault.lock()


def test_a_new_migration_is_applied_once_and_recorded(vault: Vault) -> None:
    latest = MIGRATIONS[-1].version
    newer = Migration(
        latest + 1,
        "a table from the next release",
        lambda conn: conn.exec_driver_sql("CREATE TABLE next_release (x INTEGER)").close(),
    )
    assert migrate(vault.engine, [*MIGRATIONS, newer]) == latest + 1
    assert migrate(vault.engine, [*MIGRATIONS, newer]) == latest + 1  # not applied twice
    assert _applied(vault)[-1] == (latest + 1, "a table from the next release")
    with vault.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM next_release").scalar() == 0


def test_a_vault_from_a_newer_fieldchart_is_refused(created: CreatedVault) -> None:
    future = MIGRATIONS[-1].version + 1
    with created.vault.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO schema_migrations VALUES (:v, 'from the future', 'x')"), {"v": future}
        )
    created.vault.lock()
    vault = reopen(created.data_dir)
    with pytest.raises(NotAVaultError, match=f"schema version {future}, newer than this"):
        vault.unlock(ADMIN, PASSPHRASE)
    assert not vault.is_unlocked
