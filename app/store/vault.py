"""The vault: one SQLCipher file, its key slots, and the lifecycle unlock -> use -> lock.

`Vault` holds the keys and the open engine of one session. What it offers beyond that lives
beside it, each part given only what it needs:

- vault_creation:    writing a new vault's database and key slots
- vault_unlock:      opening a key slot (passphrase or recovery secret), throttled and audited
- vault_users:       users and their slots (add, disable, enable, passphrase change and reset)
- vault_audit:       admin actions and refused unlocks in the device's audit stream
- vault_rotation:    planning a key rotation (rekey re-encrypts the file)
- vault_credentials: what counts as a user name, a passphrase, a recovery secret
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from app.domain.roles import Actor, Role
from app.i18n import _
from app.store import crypto, interrupted, rekey, schema
from app.store.crypto import RFC9106_SECOND, DecryptionError, KdfParams
from app.store.database import check_readable, open_engine, read_transaction
from app.store.errors import (
    NotAVaultError,
    TamperError,
    UnknownUserError,
    UserDisabledError,
    VaultLockedError,
    VaultNotFoundError,
)
from app.store.event_log import EventLog
from app.store.keyslots import (
    RECOVERY_SLOT,
    KeySlotFile,
    normalise_recovery,
    user_slot_id,
    write_atomically,
)
from app.store.migrations import migrate
from app.store.pending_audit import PendingAudit
from app.store.role_grants import RESET, Grant
from app.store.signatures import fingerprint
from app.store.slot_lock import (
    SlotsChangedError,
    finish_interrupted_rotation,
    slot_file_for_update,
)
from app.store.throttle import Throttle
from app.store.vault_audit import VaultAudit
from app.store.vault_creation import LOG_KEY_META, unfinished, write_new_vault
from app.store.vault_credentials import RECOVERY_USER, check_passphrase, check_user_name
from app.store.vault_rotation import KeyRotation, plan_rotation
from app.store.vault_signing import SessionSigning
from app.store.vault_unlock import SlotOpener
from app.store.vault_users import UserInfo, VaultUsers, require_admin

DB_FILE = "vault.db"
SLOTS_FILE = "keyslots.json"
THROTTLE_FILE = "unlock-failures.json"
PENDING_AUDIT_FILE = "pending-audit.json"
TAIL_VERIFY_AT_UNLOCK = 1000
MIN_DB_BYTES = 4096  # one SQLCipher page: anything smaller cannot be a vault


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
        self._audit = VaultAudit(
            self,
            PendingAudit(self.data_dir / PENDING_AUDIT_FILE),
            # The time of audit records (refused unlocks, admin actions): the app's clock.
            clock or (lambda: datetime.now(UTC)),
        )
        self._slots: KeySlotFile | None = None
        self._slot_opener = SlotOpener(
            self._require_slots, Throttle(self.data_dir / THROTTLE_FILE, sleep), self._audit
        )
        self._users = VaultUsers(
            self,
            self._audit,
            key_slots=self._require_slots,
            vault_key=self._require_vault_key,
            unwrap_for=self._slot_opener.with_passphrase,
            update_slots=self._slots_for_update,
        )
        self._signing = SessionSigning(
            self,
            key_slots=self._require_slots,
            vault_key=self._require_vault_key,
            slots_for_update=self._slots_for_update,
            now=self._audit.now,
        )
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
        """A finished vault (an unfinished creation is replaced by the next one)."""
        return (Path(data_dir) / SLOTS_FILE).exists() and not unfinished(Path(data_dir))

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
        confirmed: bool = True,
    ) -> tuple[Vault, str]:
        """Create a vault whose first user is an admin; returns it unlocked and the recovery
        secret, which is shown once and stored nowhere in plaintext. Unless `confirmed`, the
        vault is unfinished (it does not open; `init` replaces it) until
        `vault_creation.confirm_created` says the secret was shown."""
        check_user_name(admin_user)
        check_passphrase(passphrase)
        vault = cls(data_dir, sleep=sleep, clock=clock)
        new = write_new_vault(vault.data_dir, admin_user, passphrase, kdf, confirmed=confirmed)
        vault._slots = new.slots
        vault._start_session(new.data_key, Actor(admin_user, Role.ADMIN), vault_key=new.vault_key)
        vault._begin_signing(admin_user, b"", new.admin_signing_key)  # signs from event one
        return vault, new.recovery_secret

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
            interrupted.finish_interrupted(vault.data_dir)  # init, restore, leftovers
            finish_interrupted_rotation(vault.data_dir)  # a rotate-key cut short by a crash
        if not vault.slots_path.exists():
            if vault.db_path.exists():
                raise NotAVaultError(
                    _(
                        "{db_path} has no key-slot file ({SLOTS_FILE}) beside it, so "
                        "it cannot be unlocked; restore that file from a backup"
                    ).format(db_path=vault.db_path, SLOTS_FILE=SLOTS_FILE)
                )
            raise VaultNotFoundError(
                _("no vault in {data_dir}; create one with `init`").format(data_dir=vault.data_dir)
            )
        if not vault.db_path.exists():
            raise NotAVaultError(
                _("{data_dir} has key slots but no {DB_FILE}").format(
                    data_dir=vault.data_dir, DB_FILE=DB_FILE
                )
            )
        vault._slots = KeySlotFile.load(vault.slots_path)
        return vault

    # -- unlock and lock -----------------------------------------------------------------

    def unlock(self, user: str, passphrase: str) -> Actor:
        """Open the vault as `user`; returns who acts in this session."""
        vault_key = self._slot_opener.with_passphrase(user, passphrase)
        private = self._require_slots().take_signing_key(user_slot_id(user))
        self._start_session(self._open_data_key(vault_key), None, user, vault_key=vault_key)
        self._begin_signing(user, passphrase.encode(), private)
        return self.actor

    def _open_data_key(self, vault_key: bytearray) -> bytearray:
        try:
            return self._require_slots().open_data_key(vault_key)
        except DecryptionError:
            crypto.wipe(vault_key)
            raise NotAVaultError(
                _("{SLOTS_FILE} is damaged: its data key does not open with the vault key").format(
                    SLOTS_FILE=SLOTS_FILE
                )
            ) from None

    def unlock_with_recovery(self, secret: str) -> Actor:
        """Unlock with the recovery secret; the session may only manage users and keys."""
        vault_key = self._slot_opener.with_recovery_secret(secret)
        self._start_session(
            self._open_data_key(vault_key), Actor(RECOVERY_USER, Role.ADMIN), vault_key=vault_key
        )
        slots = self._require_slots()
        self._begin_signing(
            RECOVERY_USER,
            normalise_recovery(secret, slots.recovery_alphabet),
            slots.take_signing_key(RECOVERY_SLOT),
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
                _(
                    "{DB_FILE} cannot be opened with this vault's key: it is not "
                    "a FieldChart vault, or it is truncated or corrupted"
                ).format(DB_FILE=DB_FILE)
            )
        engine = open_engine(self.db_path, data_key)
        try:
            check_readable(engine, self.db_path)
            migrate(engine)
            with read_transaction(engine) as conn:
                meta = dict(conn.execute(select(schema.meta.c.key, schema.meta.c.value)).all())
                if meta.get("vault_id") != slots.vault_id:
                    raise NotAVaultError(
                        _("{DB_FILE} and {SLOTS_FILE} belong to different vaults").format(
                            DB_FILE=DB_FILE, SLOTS_FILE=SLOTS_FILE
                        )
                    )
                if actor is None:
                    row = conn.execute(
                        select(schema.users).where(schema.users.c.name == user)
                    ).first()
                    if row is None:
                        raise UnknownUserError(
                            _("there is no user '{user}' in this vault").format(user=user)
                        )
                    if row.disabled:
                        raise UserDisabledError(_("user '{user}' is disabled").format(user=user))
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
        return self._audit.fold_pending()

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
        self._audit.record_admin_action(action, subject, detail, conn, actor=actor)

    def _engine_or_pending(self) -> Engine:
        # During _start_session the vault is not unlocked yet; the log may use the engine
        # being opened. Afterwards only the vault's current engine counts (no closure keeps
        # an engine, whose URL holds the key, alive past lock()).
        if self._opening and self._engine is None and self._pending_engine is not None:
            return self._pending_engine
        return self.engine

    def _begin_signing(self, user: str, secret: bytes, private: bytearray | None) -> None:
        """Sign this session's events with `user`'s key; the session's role becomes the one
        the signed grants give (app/store/vault_signing.py). Refused: the vault locks again."""
        try:
            role = self._signing.start(user, secret, private, self.actor.role.value)
            if user != RECOVERY_USER:  # the recovery session keeps its admin-only powers
                if role not in {r.value for r in Role}:
                    raise TamperError(
                        _("the signed grants give '{user}' no usable role").format(user=user)
                    )
                self._actor = Actor(user, Role(role))
        except BaseException:
            self.lock()
            raise

    @property
    def trust_anchor(self) -> str | None:
        """Fingerprint of the vault's trust anchor (the first admin's signing key); None
        before an admin's unlock migrated a vault created without signing keys."""
        anchor = self._require_slots().signing_anchor
        return None if anchor is None else fingerprint(anchor)

    @property
    def signing(self) -> SessionSigning:
        """The signing side of this session: keys for new users, grants, `verify`."""
        return self._signing

    def lock(self) -> None:
        """Drop every key and close every connection; queries afterwards raise VaultLockedError."""
        self._signing.forget()
        if self._slots is not None:  # signing keys an unwrap opened that nobody took
            for private in self._slots.opened_signing_keys.values():
                crypto.wipe(private)
            self._slots.opened_signing_keys.clear()
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
        """Every user, disabled ones too, by name."""
        return self._users.list_users()

    def add_user(
        self, name: str, role: Role, passphrase: str, *, kdf: KdfParams | None = None
    ) -> UserInfo:
        """A new user with their own key slot (admin only)."""
        return self._users.add_user(name, role, passphrase, kdf=kdf)

    def disable_user(self, name: str) -> None:
        """Stop `name` signing in: their slot goes at once (admin only, not oneself)."""
        self._users.disable_user(name)

    def enable_user(self, name: str, passphrase: str, *, kdf: KdfParams | None = None) -> None:
        """Let a disabled user sign in again, with a new passphrase (admin only)."""
        self._users.enable_user(name, passphrase, kdf=kdf)

    def change_passphrase(self, user: str, old: str, new: str) -> None:
        """Rewrap one user's slot; proves the old passphrase first."""
        self._users.change_passphrase(user, old, new)

    def reset_passphrase(self, user: str, new: str) -> None:
        """An admin (or the recovery secret) sets a new passphrase for a user who forgot it."""
        self._users.reset_passphrase(user, new)

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
        require_admin(self.actor, "rotate keys")
        actor = self.actor
        if self._data_key is None or self._vault_key is None:
            raise VaultLockedError()
        # The key-slot lock, from reading the slots the plan starts from until the rotated
        # slots are installed: a user added or a passphrase changed meanwhile in another
        # process is in the plan, and none is written back over the rotated slots.
        with self._slots_for_update() as slots:
            signing_key = self._signing.private_key()  # the admin's slot keeps it
            try:
                plan = plan_rotation(
                    slots,
                    actor.user,
                    self._vault_key,
                    new_vault_key=new_vault_key,
                    passphrase=passphrase,
                    signing_key=signing_key,
                )
            finally:
                crypto.wipe(signing_key)
            if new_vault_key:  # the new recovery secret's slot awaits its key: its first use
                self._signing.record_grant(Grant(RESET, RECOVERY_USER))
            old_key = bytearray(self._data_key)
            self.lock()  # the rotation needs the file to itself, this session's connections too
            try:
                rekey.rotate_file(self.data_dir, old_key, plan.new_data_key, plan.next_slots)
            finally:
                for key in (old_key, plan.new_data_key, plan.vault_key):
                    crypto.wipe(key)
        self._slots = plan.next_slots
        return plan.outcome(slots)

    @contextlib.contextmanager
    def _slots_for_update(self, vault_key: bytearray | None = None) -> Iterator[KeySlotFile]:
        """The key slots read again under the key-slot lock, held for the block (save them
        inside it); they become this handle's slots. `vault_key` (default: this session's) must
        still open the data key they hold: after another process rotated to a new vault key,
        a slot wrapping the old one would open nothing (SlotsChangedError instead)."""
        with slot_file_for_update(self.data_dir) as fresh:
            key = vault_key if vault_key is not None else self._vault_key
            if key is not None and not _opens(fresh, key, self._data_key):
                raise SlotsChangedError(
                    _(
                        "another FieldChart process rotated this vault's keys meanwhile; nothing "
                        "was changed: sign in again and repeat the change"
                    )
                )
            self._slots = fresh  # what the block proves or checks reads these slots
            try:
                yield fresh
            except BaseException:
                with contextlib.suppress(NotAVaultError):  # leave what is on disk, not edits
                    self._slots = KeySlotFile.load(self.slots_path)
                raise

    def _require_slots(self) -> KeySlotFile:
        if self._slots is None:
            raise VaultNotFoundError(
                _("no vault opened in {data_dir}").format(data_dir=self.data_dir)
            )
        return self._slots

    def _require_vault_key(self) -> bytearray:
        if self._vault_key is None:
            raise VaultLockedError()
        return self._vault_key


def _opens(slots: KeySlotFile, vault_key: bytearray, data_key: bytearray | None) -> bool:
    """True if `vault_key` opens the data key of `slots` (and it is `data_key`, if given)."""
    try:
        opened = slots.open_data_key(vault_key)
    except DecryptionError:
        return False
    try:
        return data_key is None or bytes(opened) == bytes(data_key)
    finally:
        crypto.wipe(opened)
