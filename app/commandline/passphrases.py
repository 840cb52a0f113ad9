"""Where the CLI gets passphrases: a file, an environment variable (automation), or a prompt."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from app.commandline.errors import UsageError
from app.i18n import _


def read_passphrase(file: Path | None, env_var: str, prompt: str, *, confirm: bool = False) -> str:
    """The first line of `file`, else $env_var, else an interactive prompt (twice if confirm)."""
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError):
            raise UsageError(_("cannot read a passphrase from {file}").format(file=file)) from None
    value = os.environ.get(env_var)
    if value:
        return value
    if not sys.stdin.isatty():
        raise UsageError(
            _(
                "no passphrase given: use a passphrase file option, set "
                "{env_var}, or run in a terminal"
            ).format(env_var=env_var)
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat: ") != first:
        raise UsageError(_("the two passphrases differ"))
    return first
