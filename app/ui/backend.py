"""What the desktop app needs from the composition root (app/main.py), as plain callables.

app.ui never imports the store or sync: creating and unlocking a vault, managing users and
sync are handed in from outside. Every callable raises UserFacingError (or DomainError) for
failures a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.domain.roles import Role
from app.services.clinic import Clinic
from app.services.remote_lookup import RemotePatientLookup
from app.services.settings import DeviceSettings
from app.services.sync_status import SyncControl

#: A public JSON Web Key (RFC 7517): member name -> value; never a private member.
PublicJwk = dict[str, str]


@dataclass(frozen=True)
class UserRow:
    name: str
    role: Role
    created_at: str
    disabled: bool


class UserDirectory(Protocol):
    """The users of the unlocked vault (adding and disabling needs an admin session)."""

    def list_users(self) -> list[UserRow]: ...

    def add_user(self, name: str, role: Role, passphrase: str) -> None: ...

    def disable_user(self, name: str) -> None: ...

    def enable_user(self, name: str, passphrase: str) -> None:
        """A disabled user may sign in again, with this new passphrase."""
        ...

    def change_passphrase(self, current: str, new: str) -> None:
        """The signed-in user's own passphrase (UserFacingError field "current" if wrong)."""
        ...


@dataclass(frozen=True)
class CreatedVault:
    clinic: Clinic  # unlocked as the first admin
    recovery_secret: str


class Unlock(Protocol):
    """(user, passphrase) -> the open clinic. Slow: Argon2id and the failure throttle, and
    after an upgrade a rebuild of the read models, reported to `progress(applied, total)`
    from the thread that unlocks."""

    def __call__(
        self, user: str, passphrase: str, progress: Callable[[int, int], None] | None = None
    ) -> Clinic: ...


@dataclass(frozen=True)
class Backend:
    data_dir: Path
    vault_exists: Callable[[], bool]
    create_vault: Callable[[str, str], CreatedVault]  # (admin user, passphrase)
    unlock: Unlock
    lock: Callable[[Clinic], None]  # stop background work, drop keys
    users: Callable[[Clinic], UserDirectory]
    sync_for: Callable[[Clinic], SyncControl]
    # (recovery secret, user, new passphrase): a forgotten passphrase reset from the unlock
    # dialog; UserFacingError with field "secret", "user" or "new". Slow (Argon2id, throttle).
    recover: Callable[[str, str, str], None] | None = None
    # The SMART Backend Services device key (sync makes it; the private key stays in the vault,
    # the UI only ever sees the public JWK, whose "kid" is its RFC 7638 thumbprint):
    # the public JWK of the key stored in the clinic's settings, None when there is none yet;
    device_public_key: Callable[[Clinic], PublicJwk | None] | None = None
    # a new key pair, its private key saved in the clinic's settings (replacing any; admin
    # only, else DomainError) -> its public JWK. Slow-ish (key generation): run it off the GUI.
    new_device_key: Callable[[Clinic], PublicJwk] | None = None
    # A patient from elsewhere (issue 14): looking patients up on the central server and
    # bringing one here, for the signed-in user (sync builds it; None: not offered).
    remote_patients: Callable[[Clinic], RemotePatientLookup] | None = None
    # The server's check of a sync scope before Settings or the first-run wizard saves it, as
    # enroll's (what it names exists, the server can honour it): the strategy it will use, or
    # ValidationError naming the setting. None: saved after local validation only.
    check_scope: Callable[[Clinic, DeviceSettings], str] | None = None
    # The new vault's recovery secret was shown and the admin said it is saved: until then a
    # vault `create_vault` made counts as unfinished (a crash before this point leaves one the
    # next first run replaces, never a vault whose secret nobody saw). None: nothing to do.
    confirm_created: Callable[[], None] | None = None
