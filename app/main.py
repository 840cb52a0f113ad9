"""Composition root of the desktop app: wires the store, the services and sync to the Qt UI.

This is the one module that sees both app.store and app.ui: it hands the UI plain callables
(create, unlock, lock, users, sync) and translates store errors into UserFacingError, so the
UI never imports the store.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.domain.roles import Role
from app.services.clinic import Clinic, open_clinic
from app.services.clock import Clock, configured_clock, system_clock
from app.services.remote_lookup import RemotePatientLookup
from app.services.settings import DeviceSettings
from app.services.sync_status import SyncControl, UnconfiguredSync
from app.store.crypto import RFC9106_SECOND, KdfParams
from app.store.errors import (
    InvalidUserNameError,
    StoreError,
    UnknownUserError,
    UserDisabledError,
    UserExistsError,
    WeakPassphraseError,
    WrongPassphraseError,
    WrongRecoverySecretError,
)
from app.store.vault import Vault
from app.store.vault_creation import confirm_created
from app.ui.backend import Backend, CreatedVault, UserRow
from app.ui.errors import UserFacingError, sentence


@contextmanager
def _plain_errors(field_of: Callable[[Exception], str | None] = lambda _e: None) -> Iterator[None]:
    """Store errors and the store's input checks (ValueError) become UserFacingError."""
    try:
        yield
    except (StoreError, ValueError) as exc:
        raise UserFacingError(sentence(str(exc)), field_of(exc)) from exc


def _user_field(exc: Exception) -> str | None:
    """The form field a store error is about, by its type (never by its wording)."""
    if isinstance(exc, UserExistsError | InvalidUserNameError):
        return "name"
    if isinstance(exc, WeakPassphraseError | WrongPassphraseError):
        return "passphrase"
    return None


class VaultUsers:
    """The UserDirectory of one unlocked vault."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def list_users(self) -> list[UserRow]:
        with _plain_errors():
            return [
                UserRow(u.name, u.role, u.created_at, u.disabled) for u in self._vault.list_users()
            ]

    def add_user(self, name: str, role: Role, passphrase: str) -> None:
        with _plain_errors(_user_field):
            # New slots reuse the vault's own Argon2id cost (that of the recovery slot).
            self._vault.add_user(name, role, passphrase)

    def disable_user(self, name: str) -> None:
        with _plain_errors():
            self._vault.disable_user(name)

    def enable_user(self, name: str, passphrase: str) -> None:
        with _plain_errors(_passphrase_field):
            self._vault.enable_user(name, passphrase)

    def change_passphrase(self, current: str, new: str) -> None:
        """The signed-in user's own passphrase (the current one proves it is them)."""
        with _plain_errors(_passphrase_field):
            self._vault.change_passphrase(self._vault.actor.user, current, new)


def _passphrase_field(exc: Exception) -> str | None:
    if isinstance(exc, WrongPassphraseError):
        return "current"
    return "new" if isinstance(exc, WeakPassphraseError) else None


def _recovery_field(exc: Exception) -> str | None:
    if isinstance(exc, WrongRecoverySecretError):
        return "secret"
    if isinstance(exc, UnknownUserError | UserDisabledError):
        return "user"
    return "new" if isinstance(exc, WeakPassphraseError) else None


def _real_sync(clinic: Clinic) -> SyncControl:
    """The background sync of an unlocked clinic (NOT_CONFIGURED until a server is set)."""
    from sync.clinic_sync import ClinicSync

    return ClinicSync(clinic)


def _device_public_key(clinic: Clinic) -> dict[str, str] | None:
    """The public JWK of the SMART device key stored in the vault (None: no key yet)."""
    from sync.fhir.auth import public_jwk

    pem = clinic.settings.get().smart_private_key_pem
    if not pem:
        return None
    with _plain_errors():
        return public_jwk(pem)


def _new_device_key(clinic: Clinic) -> dict[str, str]:
    """A new SMART device key pair: the private key goes into the vault's settings (admin
    only), the public JWK back to the UI for IT to register. As `fieldchart enroll` does."""
    from sync.fhir.auth import generate_device_keypair

    private_pem, jwk = generate_device_keypair()
    clinic.settings.update(clinic.actor, smart_private_key_pem=private_pem.decode("ascii"))
    return jwk


def _remote_patients(clinic: Clinic) -> RemotePatientLookup:
    """Look-up and fetch of patients from other facilities on the central server."""
    from sync.remote_patients import remote_lookup_for

    return remote_lookup_for(clinic)


def _check_scope(clinic: Clinic, settings: DeviceSettings) -> str:
    """Settings' and the first-run wizard's check of a sync scope with the server."""
    from sync.clinic_sync import check_scope_for

    return check_scope_for(clinic, settings)


def build_backend(
    data_dir: Path,
    *,
    kdf: KdfParams = RFC9106_SECOND,
    sync_for: Callable[[Clinic], SyncControl] | None = None,
    clock: Clock = system_clock,
) -> Backend:
    """Everything the UI may ask of the store and sync, for the vault in `data_dir`.

    `kdf` is the Argon2id cost for new key slots (tests pass a cheap one); `clock` is the one
    clock every unlocked clinic (its services, its UI and its sync) reads "now" from.
    """

    def create_vault(admin: str, passphrase: str) -> CreatedVault:
        with _plain_errors(_user_field):
            vault, recovery = Vault.create(
                data_dir, admin, passphrase, kdf=kdf, clock=clock, confirmed=False
            )
            return CreatedVault(open_clinic(vault, clock=clock), recovery)

    def unlock(
        user: str, passphrase: str, progress: Callable[[int, int], None] | None = None
    ) -> Clinic:
        with _plain_errors():
            vault = Vault.open(data_dir, clock=clock)
            vault.unlock(user, passphrase)
            try:
                return open_clinic(vault, clock=clock, progress=progress)
            except BaseException:
                vault.lock()
                raise

    def recover(secret: str, user: str, new_passphrase: str) -> None:
        """A forgotten passphrase, reset with the recovery secret (the session it opens may
        only manage users and passphrases; it is locked again at once)."""
        with _plain_errors(_recovery_field):
            vault = Vault.open(data_dir, clock=clock)
            vault.unlock_with_recovery(secret)
            try:
                vault.reset_passphrase(user, new_passphrase)
            finally:
                vault.lock()

    running: dict[int, SyncControl] = {}

    def start_sync(clinic: Clinic) -> SyncControl:
        control = (sync_for or _real_sync)(clinic)
        running[id(clinic)] = control
        return control

    def lock(clinic: Clinic) -> None:
        control = running.pop(id(clinic), None)
        if control is not None:
            control.stop()  # the worker finishes its cycle; no sync runs on a locked vault
        clinic.close()

    return Backend(
        data_dir=data_dir,
        vault_exists=lambda: Vault.exists(data_dir),
        create_vault=create_vault,
        confirm_created=lambda: confirm_created(data_dir),
        unlock=unlock,
        lock=lock,
        users=lambda clinic: VaultUsers(clinic.vault),
        sync_for=start_sync,
        recover=recover,
        device_public_key=_device_public_key,
        new_device_key=_new_device_key,
        remote_patients=_remote_patients,
        check_scope=_check_scope,
    )


def render_main_window(
    clinic: Clinic, data_dir: Path, png: Path, *, patient_id: str | None = None
) -> None:
    """Render the main window of an unlocked clinic to `png` (used by --self-test)."""
    from app.ui.desktop import render_main_window as render

    render(
        clinic,
        build_backend(data_dir, sync_for=lambda _c: UnconfiguredSync(), clock=clinic.clock),
        png,
        patient_id=patient_id,
    )


def run_desktop(data_dir: str | None) -> int:
    """Open the desktop app on `data_dir` (default: the platform's data directory)."""
    from app.logging_setup import configure_logging
    from app.store.location import default_data_dir

    configure_logging()
    from app.ui.desktop import run  # Qt is imported only when the app is wanted

    path = Path(data_dir) if data_dir else default_data_dir()
    clock = configured_clock()
    return run(lambda: build_backend(path, clock=clock), sys.argv)
