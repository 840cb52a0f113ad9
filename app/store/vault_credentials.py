"""What a vault accepts as a user name, a passphrase and a recovery secret."""

from __future__ import annotations

import base64
import re
import secrets

from app.i18n import _
from app.store.errors import InvalidUserNameError, WeakPassphraseError
from app.store.keyslots import CROCKFORD, normalise_recovery

USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSPHRASE = 8
# The name a session unlocked with the recovery secret acts as, so it can never be a user's.
RECOVERY_USER = "recovery"


def check_user_name(name: str) -> str:
    """`name` itself, or InvalidUserNameError if it is not a user name a vault accepts."""
    if not USER_NAME.match(name):
        raise InvalidUserNameError(
            _(
                "user name {name} is not allowed: use 1-64 lower-case "
                "letters, digits, '.', '_' or '-', starting with a letter or "
                "digit"
            ).format(name=repr(name))
        )
    return name


def check_passphrase(passphrase: str) -> str:
    """`passphrase` itself, or WeakPassphraseError if it is too short."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise WeakPassphraseError(
            _("the passphrase must have at least {MIN_PASSPHRASE} characters").format(
                MIN_PASSPHRASE=MIN_PASSPHRASE
            )
        )
    return passphrase


def new_recovery_secret() -> str:
    """160 random bits in Crockford's base32 (no I, L, O or U, so 0/O and 1/I/L typed either
    way mean the same), in groups of four for reading aloud and typing."""
    raw = base64.b32encode(secrets.token_bytes(20)).decode("ascii")
    crockford = raw.translate(_RFC4648_TO_CROCKFORD)
    return "-".join(crockford[i : i + 4] for i in range(0, len(crockford), 4))


_RFC4648_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD)


def normalise_new_recovery(secret: str) -> bytes:
    """A new secret (Crockford's base32) as typed, in the form its slot was wrapped with."""
    return normalise_recovery(secret, "crockford")
