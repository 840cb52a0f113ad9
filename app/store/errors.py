"""Errors raised by the encrypted store.

    StoreError
    ├── VaultNotFoundError       no vault in the data directory
    ├── VaultExistsError         refusing to create over an existing vault
    ├── NotAVaultError           the files are not a vault, or are truncated/corrupted
    ├── SqlCipherUnavailableError  the SQLCipher driver cannot be loaded
    ├── CredentialsError         (the CLI maps these to exit code 2)
    │   ├── UnknownUserError
    │   ├── WrongPassphraseError
    │   ├── WrongRecoverySecretError
    │   └── PassphraseResetRequiredError  a full key rotation removed this user's slot
    ├── VaultLockedError         the vault was locked; keys are gone
    ├── PermissionDeniedError    the unlocked user's role may not do this
    ├── UserExistsError / UserDisabledError
    ├── VaultInUseError          another process has the vault open (rotate-key, restore)
    ├── StorageUnavailableError  the vault's disk or lock stopped the step; nothing changed
    │   ├── VaultBusyError       another process holds the database's lock (rotate-key, a writer)
    │   ├── DiskFullError        the disk holding the vault is full
    │   └── DiskIOError          the disk could not be read or written
    ├── KeyRotationError         a key rotation was refused or could not complete
    ├── BackupError              a backup cannot be written, or a file is not a usable backup
    ├── ConcurrencyError         expected stream version did not match
    └── TamperError              the event log failed verification (names the position)

Messages never contain patient data: only user names, positions, file names and counts.
"""

from __future__ import annotations

from app.i18n import _


class StoreError(Exception):
    """Base of every store error; the message is safe to show to a person."""


class VaultNotFoundError(StoreError):
    pass


class VaultExistsError(StoreError):
    pass


class NotAVaultError(StoreError):
    pass


class SqlCipherUnavailableError(StoreError):
    pass


class CredentialsError(StoreError):
    pass


class UnknownUserError(CredentialsError):
    pass


class WrongPassphraseError(CredentialsError):
    pass


class WrongRecoverySecretError(CredentialsError):
    pass


class PassphraseResetRequiredError(CredentialsError):
    pass


class VaultInUseError(StoreError):
    pass


class StorageUnavailableError(StoreError):
    """The step could not run because of the vault's surroundings (its lock, its disk), not
    because of the vault's content: nothing was changed, and the same step can be retried once
    the cause is gone (app/store/storage_errors.py tells them apart)."""


class VaultBusyError(StorageUnavailableError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or _(
                "the vault is busy: another FieldChart process holds it (a key rotation, a "
                "restore or another command writing); nothing was changed; try again when it "
                "has finished"
            )
        )


class DiskFullError(StorageUnavailableError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or _(
                "the disk holding the vault is full; nothing was changed; free some space and "
                "try again"
            )
        )


class DiskIOError(StorageUnavailableError):
    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or _(
                "the disk holding the vault could not be read or written (an input/output "
                "error); nothing was changed; check the disk and try again"
            )
        )


class KeyRotationError(StoreError):
    pass


class BackupError(StoreError):
    pass


class VaultLockedError(StoreError):
    def __init__(self, message: str = "") -> None:
        super().__init__(message or _("the vault is locked; unlock it first"))


class PermissionDeniedError(StoreError):
    pass


class UserExistsError(StoreError):
    pass


class InvalidUserNameError(StoreError, ValueError):
    """A user name outside the allowed pattern (a ValueError: bad input, nothing changed)."""


class WeakPassphraseError(StoreError, ValueError):
    """A new passphrase shorter than the minimum (a ValueError: bad input, nothing changed)."""


class UserDisabledError(CredentialsError):
    pass


class ConcurrencyError(StoreError):
    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            _(
                "stream {stream} is at version {actual}, expected {expected}; "
                "someone else changed it first"
            ).format(stream=stream_id, actual=actual, expected=expected)
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class TamperError(StoreError):
    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position
