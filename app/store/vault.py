"""The vault: one SQLCipher file, its key slots, and the lifecycle unlock -> use -> lock."""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from app.domain import events as ev
from app.domain.roles import Actor, Role
from app.store import crypto, rekey, schema
from app.store.crypto import RFC9106_SECOND, DecryptionError, KdfParams
from app.store.database import check_readable, open_engine, read_transaction, write_transaction
from app.store.errors import (
    InvalidUserNameError,
    KeyRotationError,
    NotAVaultError,
    PassphraseResetRequiredError,
    PermissionDeniedError,
    UnknownUserError,
    UserDisabledError,
    UserExistsError,
    VaultExistsError,
    VaultLockedError,
    VaultNotFoundError,
    WeakPassphraseError,
    WrongPassphraseError,
    WrongRecoverySecretError,
)
from app.store.event_log import ANY_VERSION, EventLog, EventMetadata, NewEvent
from app.store.keyslots import (
    CROCKFORD,
    RECOVERY_SLOT,
    KeySlotFile,
    normalise_recovery,
    user_slot_id,
    write_atomically,
)
from app.store.migrations import migrate
from app.store.pending_audit import PendingAudit
from app.store.throttle import Throttle

DB_FILE = "vault.db"
SLOTS_FILE = "keyslots.json"
THROTTLE_FILE = "unlock-failures.json"
PENDING_AUDIT_FILE = "pending-audit.json"
TAIL_VERIFY_AT_UNLOCK = 1000
USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSPHRASE = 8
MIN_DB_BYTES = 4096  # one SQLCipher page: anything smaller cannot be a vault
RECOVERY_USER = "recovery"
# meta row holding the key event seals and the hash chain derive from. It lives inside the
# encrypted file and never changes, so rotating the data key leaves every event valid. Vaults
# created before it existed use their first data key (stored here at their first rotation).
LOG_KEY_META = "log_key"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def check_user_name(name: str) -> str:
    if not USER_NAME.match(name):
        raise InvalidUserNameError(
            f"user name {name!r} is not allowed: use 1-64 lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return name


def check_passphrase(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE:
        raise WeakPassphraseError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    return passphrase


def new_recovery_secret() -> str:
    """160 random bits in Crockford's base32 (no I, L, O or U, so 0/O and 1/I/L typed either
    way mean the same), in groups of four for reading aloud and typing."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode("ascii")
    crockford = raw.translate(_RFC4648_TO_CROCKFORD)
    return "-".join(crockford[i : i + 4] for i in range(0, len(crockford), 4))


_RFC4648_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD)


def _normalise_recovery(secret: str) -> bytes:
    """A new secret (Crockford's base32) as typed, in the form its slot was wrapped with."""
    return normalise_recovery(secret, "crockford")


@dataclass(frozen=True)
class KeyRotation:
    generation: int  # of the new data key
    recovery_secret: str | None  # new recovery secret (only with a new vault key), shown once
    need_new_passphrase: list[str]  # users whose slot a new vault key removed


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role
    created_at: str
    disabled: bool


class Vault:
    """One data directory holding an encrypted vault. Created locked; unlock to use."""

    def __init__(
        self,
        data_dir: Path,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._sleep = sleep
        # The time of audit records (refused unlocks, admin actions): the app's clock.
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._pending = PendingAudit(self.data_dir / PENDING_AUDIT_FILE)
        self._slots: KeySlotFile | None = None
        self._throttle = Throttle(self.data_dir / THROTTLE_FILE, sleep)
        self._data_key: bytearray | None = None
        self._vault_key: bytearray | None = None  # what the slots wrap (format 1: the data key)
        self._engine: Engine | None = None
        self._events: EventLog | None = None
        self._actor: Actor | None = None
        self._device_id: str | None = None
        self._opening = False
        self._pending_engine: Engine | None = None

    # -- paths and creation --------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE

    @property
    def slots_path(self) -> Path:
        return self.data_dir / SLOTS_FILE

    @staticmethod
    def exists(data_dir: Path) -> bool:
        return (Path(data_dir) / SLOTS_FILE).exists()

    @classmethod
    def create(
        cls,
        data_dir: Path,
        admin_user: str,
        passphrase: str,
        *,
        kdf: KdfParams = RFC9106_SECOND,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ) -> tuple[Vault, str]:
        """Create a vault whose first user is an admin; returns it unlocked and the recovery
        secret, which is shown once and stored nowhere in plaintext."""
        check_user_name(admin_user)
        check_passphrase(passphrase)
        vault = cls(data_dir, sleep=sleep, clock=clock)
        if vault.slots_path.exists():
            raise VaultExistsError(f"a vault already exists in {vault.data_dir}")
        if vault.db_path.exists():
            raise VaultExistsError(
                f"{vault.db_path} exists without its key slots (an interrupted creation or a "
                "damaged vault); it is left untouched: move it away to create a new vault"
            )
        vault.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        vault_key, data_key, log_key = crypto.random_key(), crypto.random_key(), crypto.random_key()
        vault_id = str(uuid.uuid4())
        engine = open_engine(vault.db_path, data_key)
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
        recovery = new_recovery_secret()
        slots = KeySlotFile(
            vault_id=vault_id, first_admin=admin_user, recovery_alphabet="crockford"
        )
        slots.set_data_key(vault_key, data_key, 1, _now())
        slots.wrap(user_slot_id(admin_user), passphrase.encode(), vault_key, kdf)
        slots.wrap(RECOVERY_SLOT, _normalise_recovery(recovery), vault_key, kdf)
        # Written last: a vault "exists" once its slots do, so a crash before leaves no vault.
        slots.save(vault.slots_path)
        vault.db_path.chmod(0o600)
        vault.slots_path.chmod(0o600)
        vault._slots = slots
        vault._start_session(data_key, Actor(admin_user, Role.ADMIN), vault_key=vault_key)
        return vault, recovery

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ) -> Vault:
        """A locked handle on an existing vault (reads only the key-slot file)."""
        vault = cls(data_dir, sleep=sleep, clock=clock)
        if vault.data_dir.is_dir():
            rekey.finish_interrupted(vault.data_dir)  # a rotate-key cut short by a crash
        if not vault.slots_path.exists():
            if vault.db_path.exists():
                raise NotAVaultError(
                    f"{vault.db_path} has no key-slot file ({SLOTS_FILE}) beside it, so it "
                    "cannot be unlocked; restore that file from a backup"
                )
            raise VaultNotFoundError(f"no vault in {vault.data_dir}; create one with `init`")
        if not vault.db_path.exists():
            raise NotAVaultError(f"{vault.data_dir} has key slots but no {DB_FILE}")
        vault._slots = KeySlotFile.load(vault.slots_path)
        return vault

    # -- unlock and lock -----------------------------------------------------------------

    def unlock(self, user: str, passphrase: str) -> Actor:
        vault_key = self._unwrap_for(user, passphrase)
        self._start_session(self._open_data_key(vault_key), None, user, vault_key=vault_key)
        return self.actor

    def _unwrap_for(self, user: str, passphrase: str) -> bytearray:
        """The vault key from `user`'s slot: the slot checked, then a throttled attempt (a
        growing delay after failures, counted per user across processes)."""
        try:
            self._check_slot(user)
        except (UserDisabledError, PassphraseResetRequiredError, UnknownUserError) as exc:
            reason = {
                UserDisabledError: "disabled-user",
                PassphraseResetRequiredError: "passphrase-reset-required",
                UnknownUserError: "unknown-user",
            }[type(exc)]
            self._note_failure(user, reason)
            raise
        return self._throttled_unwrap(
            user,
            user_slot_id(user),
            passphrase.encode(),
            WrongPassphraseError(f"wrong passphrase for user '{user}'"),
        )

    def _note_failure(self, who: str, reason: str) -> None:
        """Keep a refused unlock for the audit (written into the log at the next unlock). A
        name is kept only if this vault knows it: what was typed may be a passphrase."""
        slots = self._require_slots()
        known = (
            who == RECOVERY_USER
            or user_slot_id(who) in slots.slots
            or who in slots.disabled
            or who in slots.reset_required
        )
        name, at = (who if known else ""), self._audit_now()
        if self.is_unlocked:  # e.g. a wrong current passphrase while changing it: log it now
            event = ev.UnlockFailed(user=name, reason=reason, failed_at=at)
            stream = ev.audit_stream_of(self.device_id)
            self.events.append(stream, ANY_VERSION, [self._audit_event(event, name or "?", "")])
        else:
            self._pending.add("UnlockFailed", name, reason, at)

    def _audit_now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds")

    def _throttled_unwrap(
        self, who: str, slot_id: str, secret: bytes, wrong: Exception
    ) -> bytearray:
        slots = self._require_slots()
        self._throttle.wait_before_attempt(who)
        try:
            vault_key = slots.unwrap_vault_key(slot_id, secret)
        except DecryptionError:
            self._throttle.record_failure(who)
            reason = "wrong-recovery-secret" if slot_id == RECOVERY_SLOT else "wrong-passphrase"
            self._note_failure(who, reason)
            raise wrong from None
        self._throttle.record_success(who)
        return vault_key

    def _check_slot(self, user: str) -> None:
        slots = self._require_slots()
        if user in slots.disabled:
            raise UserDisabledError(f"user '{user}' is disabled")
        if user in slots.reset_required:
            raise PassphraseResetRequiredError(
                f"user '{user}' needs a new passphrase: a key rotation replaced the vault key; "
                f"an admin sets one (`fieldchart recover --user {user}`)"
            )
        if user_slot_id(user) not in slots.slots:
            raise UnknownUserError(f"there is no user '{user}' in this vault")

    def _open_data_key(self, vault_key: bytearray) -> bytearray:
        try:
            return self._require_slots().open_data_key(vault_key)
        except DecryptionError:
            crypto.wipe(vault_key)
            raise NotAVaultError(
                f"{SLOTS_FILE} is damaged: its data key does not open with the vault key"
            ) from None

    def unlock_with_recovery(self, secret: str) -> Actor:
        """Unlock with the recovery secret; the session may only manage users and keys."""
        slots = self._require_slots()
        vault_key = self._throttled_unwrap(
            RECOVERY_USER,
            RECOVERY_SLOT,
            normalise_recovery(secret, slots.recovery_alphabet),
            WrongRecoverySecretError("wrong recovery secret"),
        )
        self._start_session(
            self._open_data_key(vault_key), Actor(RECOVERY_USER, Role.ADMIN), vault_key=vault_key
        )
        return self.actor

    def _start_session(
        self,
        data_key: bytearray,
        actor: Actor | None,
        user: str = "",
        *,
        vault_key: bytearray | None = None,
    ) -> None:
        slots = self._require_slots()
        if self.db_path.stat().st_size < MIN_DB_BYTES:
            crypto.wipe(data_key)
            crypto.wipe(vault_key)
            raise NotAVaultError(
                f"{DB_FILE} cannot be opened with this vault's key: it is not a FieldChart "
                "vault, or it is truncated or corrupted"
            )
        engine = open_engine(self.db_path, data_key)
        try:
            check_readable(engine, self.db_path)
            migrate(engine)
            with read_transaction(engine) as conn:
                meta = dict(conn.execute(select(schema.meta.c.key, schema.meta.c.value)).all())
                if meta.get("vault_id") != slots.vault_id:
                    raise NotAVaultError(f"{DB_FILE} and {SLOTS_FILE} belong to different vaults")
                if actor is None:
                    row = conn.execute(
                        select(schema.users).where(schema.users.c.name == user)
                    ).first()
                    if row is None:
                        raise UnknownUserError(f"there is no user '{user}' in this vault")
                    if row.disabled:
                        raise UserDisabledError(f"user '{user}' is disabled")
                    actor = Actor(user, Role(row.role))
            # The log asks the vault for its engine each time, so a handle kept past lock()
            # fails with VaultLockedError instead of reopening the file.
            self._opening = True
            log_key = bytes.fromhex(meta[LOG_KEY_META]) if LOG_KEY_META in meta else data_key
            self._pending_engine = engine
            events = EventLog(self._engine_or_pending, log_key, slots.vault_id)
            events.verify(from_tail=TAIL_VERIFY_AT_UNLOCK)
        except BaseException:
            engine.dispose()
            crypto.wipe(data_key)
            crypto.wipe(vault_key)
            raise
        finally:
            self._opening = False
            self._pending_engine = None
        if vault_key is None and slots.legacy:
            vault_key = bytearray(data_key)
        self._data_key, self._vault_key, self._engine, self._events = (
            data_key,
            vault_key,
            engine,
            events,
        )
        self._actor, self._device_id = actor, meta["device_id"]

    # -- the audit of admin actions and refused unlocks --------------------------------------

    def fold_pending_audit(self) -> int:
        """Write the records kept while the vault was locked (refused unlocks, a passphrase
        changed without unlocking) into the audit stream; returns how many. open_clinic calls
        it before bringing the read models up to date, so the audit shows them at once."""
        records = self._pending.records()
        if not records:
            return 0
        new: list[NewEvent] = []
        for r in records:
            at = r.get("at", "")
            if r["kind"] == "UnlockFailed":
                event: ev.DomainEvent = ev.UnlockFailed(
                    user=r.get("user", ""), reason=r.get("reason", ""), failed_at=at
                )
                who = r.get("user", "") or "?"
            elif r["kind"] == "Dropped":
                event = ev.UnlockFailed(
                    user="", reason=f"{r.get('dropped', '?')} older records not kept", failed_at=""
                )
                who = "?"
            else:
                event = ev.AdminActionRecorded(
                    action=r["kind"], subject=r.get("user", ""), occurred_at=at
                )
                who = r.get("user", "") or "?"
            new.append(self._audit_event(event, who, "", at))
        try:
            with write_transaction(self.engine) as conn:
                self.events.append(ev.audit_stream_of(self.device_id), ANY_VERSION, new, conn)
        except (SQLAlchemyError, OSError):
            return 0  # kept for the next unlock: the audit must not stop a clinic from working
        self._pending.clear()
        return len(new)

    def _audit_event(self, event: ev.DomainEvent, user: str, role: str, at: str = "") -> NewEvent:
        now = self._audit_now()
        metadata = EventMetadata(
            command_id=str(uuid.uuid4()),
            user=user,
            role=role,
            device_id=self.device_id,
            recorded_at=now,
            occurred_at=at or now,
        )
        return NewEvent(type(event).__name__, event.to_payload(), metadata)

    def record_admin_action(
        self,
        action: str,
        subject: str = "",
        detail: str = "",
        conn: Connection | None = None,
        *,
        actor: Actor | None = None,
    ) -> None:
        """Append an admin action (by `actor`, default the signed-in user) to this device's
        audit stream. Only names go in: never a passphrase, secret or setting's value."""
        actor = actor or self.actor
        event = ev.AdminActionRecorded(action=action, subject=subject, detail=detail)
        new = [self._audit_event(event, actor.user, actor.role.value)]
        stream = ev.audit_stream_of(self.device_id)
        if conn is None:
            self.events.append(stream, ANY_VERSION, new)
        else:
            self.events.append(stream, ANY_VERSION, new, conn)

    def _engine_or_pending(self) -> Engine:
        # During _start_session the vault is not unlocked yet; the log may use the engine
        # being opened. Afterwards only the vault's current engine counts (no closure keeps
        # an engine, whose URL holds the key, alive past lock()).
        if self._opening and self._engine is None and self._pending_engine is not None:
            return self._pending_engine
        return self.engine

    def lock(self) -> None:
        """Drop every key and close every connection; queries afterwards raise VaultLockedError."""
        if self._events is not None:
            self._events.forget_keys()
        if self._engine is not None:
            self._engine.dispose()
        crypto.wipe(self._data_key)
        crypto.wipe(self._vault_key)
        self._data_key = self._vault_key = self._engine = self._events = None
        self._actor = None

    @property
    def is_unlocked(self) -> bool:
        return self._engine is not None

    # -- what an unlocked vault offers ----------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise VaultLockedError()
        return self._engine

    @property
    def events(self) -> EventLog:
        if self._events is None:
            raise VaultLockedError()
        return self._events

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise VaultLockedError()
        return self._actor

    @property
    def device_id(self) -> str:
        if self._device_id is None or self._engine is None:
            raise VaultLockedError()
        return self._device_id

    @property
    def first_admin(self) -> str:
        return self._require_slots().first_admin

    @property
    def vault_id(self) -> str:
        return self._require_slots().vault_id

    # -- users and passphrases -----------------------------------------------------------

    def list_users(self) -> list[UserInfo]:
        with read_transaction(self.engine) as conn:
            rows = conn.execute(select(schema.users).order_by(schema.users.c.name)).all()
        return [UserInfo(r.name, Role(r.role), r.created_at, bool(r.disabled)) for r in rows]

    def add_user(
        self, name: str, role: Role, passphrase: str, *, kdf: KdfParams | None = None
    ) -> UserInfo:
        self._require_admin("add users")
        check_user_name(name)
        check_passphrase(passphrase)
        slots = self._require_slots()
        taken = {u.name for u in self.list_users()}
        if user_slot_id(name) in slots.slots or name == RECOVERY_USER or name in taken:
            raise UserExistsError(
                f"user '{name}' already exists (names of disabled users stay "
                "taken, so the audit trail stays unambiguous)"
            )
        info = UserInfo(name, role, _now(), False)
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(schema.users).values(
                    name=name, role=role.value, created_at=info.created_at, disabled=False
                )
            )
            self._wrap_slot(user_slot_id(name), passphrase, kdf)
            self.record_admin_action("UserAdded", name, role.value, conn)
        return info

    def disable_user(self, name: str) -> None:
        self._require_admin("disable users")
        if self._actor is not None and name == self._actor.user:
            raise PermissionDeniedError("you cannot disable the user you are signed in as")
        slots = self._require_slots()
        if user_slot_id(name) not in slots.slots and name not in slots.reset_required:
            raise UnknownUserError(f"there is no user '{name}' in this vault")
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(schema.users).where(schema.users.c.name == name).values(disabled=True)
            )
            # Removing the slot makes the disabled user's passphrase useless at once.
            slots.slots.pop(user_slot_id(name), None)
            slots.reset_required.discard(name)
            slots.disabled.add(name)
            self.record_admin_action("UserDisabled", name, "", conn)
            slots.save(self.slots_path)

    def enable_user(self, name: str, passphrase: str, *, kdf: KdfParams | None = None) -> None:
        """Let a disabled user sign in again. Disabling removed their key slot, so they get a
        new passphrase (the admin tells it to them in person; they can change it later)."""
        self._require_admin("enable users")
        check_passphrase(passphrase)
        slots = self._require_slots()
        if name not in slots.disabled:
            if name in {u.name for u in self.list_users()}:
                raise UserExistsError(f"user '{name}' is not disabled")
            raise UnknownUserError(f"there is no user '{name}' in this vault")
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(schema.users).where(schema.users.c.name == name).values(disabled=False)
            )
            self.record_admin_action("UserEnabled", name, "", conn)
            slots.disabled.discard(name)
            self._wrap_slot(user_slot_id(name), passphrase, kdf)

    def change_passphrase(self, user: str, old: str, new: str) -> None:
        """Rewrap one user's slot; proves the old passphrase first."""
        check_passphrase(new)
        key = self._unwrap_for(user, old)
        slots = self._require_slots()
        slot_id = user_slot_id(user)
        try:
            slots.wrap(slot_id, new.encode(), key, slots.slots[slot_id].kdf)
            slots.save(self.slots_path)
        finally:
            crypto.wipe(key)
        if self.is_unlocked:
            self.record_admin_action("PassphraseChanged", user)
        else:  # e.g. `fieldchart passwd`: written into the log at the next unlock
            self._pending.add("PassphraseChanged", user, "", self._audit_now())

    def reset_passphrase(self, user: str, new: str) -> None:
        """An admin (or the recovery secret) sets a new passphrase for a user who forgot it."""
        self._require_admin("reset passphrases")
        check_passphrase(new)
        slots = self._require_slots()
        if user in slots.disabled:
            raise UserDisabledError(f"user '{user}' is disabled; an admin enables them first")
        if user_slot_id(user) not in slots.slots and user not in slots.reset_required:
            raise UnknownUserError(f"there is no user '{user}' in this vault")
        slots.reset_required.discard(user)
        by = "recovery secret" if self.actor.user == RECOVERY_USER else "admin"
        with write_transaction(self.engine) as conn:
            self.record_admin_action("PassphraseReset", user, by, conn)
            self._wrap_slot(user_slot_id(user), new, None)

    def _wrap_slot(self, slot_id: str, passphrase: str, kdf: KdfParams | None) -> None:
        slots = self._require_slots()
        if self._vault_key is None:
            raise VaultLockedError()
        recovery = slots.slots[RECOVERY_SLOT]
        slots.wrap(slot_id, passphrase.encode(), self._vault_key, kdf or recovery.kdf)
        slots.save(self.slots_path)

    # -- copies and key rotation ---------------------------------------------------------

    def copy_to(self, target_dir: Path) -> None:
        """A consistent copy of this vault (database and key slots) in `target_dir`, encrypted
        with the same keys, taken with SQLite's online backup API while other connections and
        processes keep writing."""
        if self._data_key is None:
            raise VaultLockedError()
        target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        slots = rekey.online_copy(
            self.db_path, target_dir / DB_FILE, self._data_key, self.slots_path.read_bytes
        )
        write_atomically(target_dir / SLOTS_FILE, slots)

    def open_copy(self, data_dir: Path) -> Vault:
        """Unlock a copy made by `copy_to` with this session's keys (no passphrase, no
        Argon2id), e.g. to verify a backup before it is written."""
        if self._data_key is None:
            raise VaultLockedError()
        copy = Vault.open(data_dir, sleep=self._sleep)
        vault_key = bytearray(self._vault_key) if self._vault_key is not None else None
        copy._start_session(bytearray(self._data_key), self.actor, vault_key=vault_key)
        return copy

    def rotate_keys(self, *, new_vault_key: bool = False, passphrase: str = "") -> KeyRotation:
        """Give the vault a new random data key and re-encrypt the file with it, so the old
        data key opens nothing any more. Every slot keeps working: slots wrap the vault key,
        which now wraps the new data key.

        With `new_vault_key` the vault key is replaced too: afterwards only the acting admin
        (slot re-wrapped with `passphrase`) and a new recovery secret open the vault; every
        other user needs a new passphrase from an admin. This is the rotation to run after
        disabling someone who may have kept a copy of the key slots, or when a passphrase or
        the recovery secret may have leaked.

        The vault must not be open in any other process (VaultInUseError otherwise). This
        session is locked afterwards, whatever the outcome."""
        self._require_admin("rotate keys")
        actor, slots = self.actor, self._require_slots()
        if self._data_key is None or self._vault_key is None:
            raise VaultLockedError()
        if actor.user == RECOVERY_USER:
            raise KeyRotationError("sign in as an admin user (not the recovery secret) to rotate")
        if slots.legacy and not new_vault_key:
            raise KeyRotationError(
                "this vault's key slots hold the data key itself (it was created by an older "
                "FieldChart), so a new data key needs a new vault key: use --new-vault-key"
            )
        next_slots = KeySlotFile(
            vault_id=slots.vault_id,
            first_admin=slots.first_admin,
            slots=dict(slots.slots),
            disabled=set(slots.disabled),
            reset_required=set(slots.reset_required),
            recovery_alphabet=slots.recovery_alphabet,
        )
        generation = 1 if slots.data_key is None else slots.data_key.generation + 1
        recovery: str | None = None
        if new_vault_key:
            mine = user_slot_id(actor.user)
            try:  # the passphrase re-wraps the admin's slot: it must be theirs
                crypto.wipe(slots.unwrap_vault_key(mine, passphrase.encode()))
            except DecryptionError:
                raise WrongPassphraseError(f"wrong passphrase for user '{actor.user}'") from None
            vault_key = crypto.random_key()
            next_slots.slots = {}
            next_slots.reset_required |= {
                sid.removeprefix("user:") for sid in slots.slots if sid.startswith("user:")
            } - {actor.user}
            next_slots.wrap(mine, passphrase.encode(), vault_key, slots.slots[mine].kdf)
            recovery = new_recovery_secret()
            next_slots.recovery_alphabet = "crockford"
            next_slots.wrap(
                RECOVERY_SLOT,
                _normalise_recovery(recovery),
                vault_key,
                slots.slots[RECOVERY_SLOT].kdf,
            )
        else:
            vault_key = bytearray(self._vault_key)
        old_key, new_key = bytearray(self._data_key), crypto.random_key()
        next_slots.set_data_key(vault_key, new_key, generation, _now())
        self.lock()  # the rotation needs the file to itself, this session's connections too
        try:
            rekey.rotate_file(self.data_dir, old_key, new_key, next_slots)
        finally:
            for key in (old_key, new_key, vault_key):
                crypto.wipe(key)
        self._slots = next_slots
        return KeyRotation(
            generation, recovery, sorted(next_slots.reset_required - slots.reset_required)
        )

    def _require_admin(self, what: str) -> None:
        if self.actor.role is not Role.ADMIN:
            raise PermissionDeniedError(f"only an admin may {what}; you are {self.actor.role}")

    def _require_slots(self) -> KeySlotFile:
        if self._slots is None:
            raise VaultNotFoundError(f"no vault opened in {self.data_dir}")
        return self._slots
