"""Errors the UI shows to people, and how any failure becomes one plain sentence.

    Exception
    ├── DomainError (app.domain.errors)   a refused command: its message, next to its field
    ├── UserFacingError                   a known failure outside the domain (wrong passphrase,
    │                                     user exists, ...): the composition root translates
    │                                     store errors into this, so app.ui never imports them
    └── anything else                     "could not complete" -- never a traceback

Only the type of an unexpected error is logged: its message could carry patient data.
"""

from __future__ import annotations

import logging

from app.domain.errors import DomainError
from app.i18n import N_, _, say

log = logging.getLogger("fieldchart.ui")

COULD_NOT_COMPLETE = N_(
    "Could not complete this action because of an unexpected problem. "
    "Nothing was changed by the failed step; try again, and tell IT if it keeps happening."
)


class UserFacingError(Exception):
    """A failure whose message is safe and meant to be shown as it is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def sentence(text: str) -> str:
    """Capitalise the first letter and end with a full stop (store messages are lower-case)."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def plain_message(exc: BaseException) -> str:
    """What a person reads when `exc` stopped an action."""
    if isinstance(exc, DomainError):
        return sentence(say(exc.text))  # the refusal in the user's language
    if isinstance(exc, UserFacingError):
        return sentence(exc.message)  # translated where it was raised
    log.warning("unexpected error in a UI operation: %s", type(exc).__name__)
    return _(COULD_NOT_COMPLETE)


def error_field(exc: BaseException) -> str | None:
    """The input an error names, if any (DomainError.field or UserFacingError.field)."""
    if isinstance(exc, DomainError | UserFacingError):
        return exc.field
    return None
