"""Errors of the command line itself, and the exit code of every failure.

CliError
└── UsageError   bad arguments or missing input (exit code 2)

Exit codes (docs/commands.md, "Exit codes"):
  0 everything asked was done
  1 refused or failed
  2 bad usage or wrong credentials
  3 could not be done now: the vault is busy (another process holds its lock) or its disk is
    full or failing; nothing was changed; the same command can be run again once that is fixed
"""

from __future__ import annotations

from app.store.errors import CredentialsError, StorageUnavailableError

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


class CliError(Exception):
    exit_code = EXIT_REFUSED


class UsageError(CliError):
    exit_code = EXIT_USAGE


def exit_code_of(exc: BaseException) -> int:
    """The documented exit code of a failure that reached the command line."""
    if isinstance(exc, CliError):
        return exc.exit_code
    if isinstance(exc, CredentialsError):
        return EXIT_USAGE
    if isinstance(exc, StorageUnavailableError):
        return EXIT_UNAVAILABLE
    return EXIT_REFUSED
