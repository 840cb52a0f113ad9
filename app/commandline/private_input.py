"""Patient ids and search terms from a file or stdin instead of the command line.

A process's arguments are visible to every user of the machine (`ps`, /proc/<pid>/cmdline)
and stay in shell history: a patient id or a searched name there says who was looked up.
Each command that takes one also takes `--<name>-file F` (`-` is stdin); docs/commands.md,
"Patient ids and search terms off the command line".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.commandline.errors import UsageError
from app.i18n import _

STDIN = "-"


def add_file_option(parser: argparse.ArgumentParser, flag: str, what: str) -> None:
    """`flag` F: read `what` from the first line of F (`-`: stdin) instead of an argument."""
    parser.add_argument(
        flag,
        default=None,
        metavar="FILE",
        help=_("read {what} from the first line of FILE ('-': stdin), not the command line").format(
            what=what
        ),
    )


def first_line(source: str, flag: str) -> str:
    """The first non-blank line of `source` (a path, or `-` for stdin), stripped."""
    text = _read(source, flag)
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    raise UsageError(_("{flag}: {name} is empty").format(flag=flag, name=_name(source)))


def json_object(source: str, flag: str) -> dict[str, Any]:
    """The JSON object in `source` (a path, or `-` for stdin)."""
    text = _read(source, flag)
    if not text.strip():
        raise UsageError(_("{flag}: {name} is empty").format(flag=flag, name=_name(source)))
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise UsageError(
            _("{flag}: {name} is not a JSON object").format(flag=flag, name=_name(source))
        ) from None
    if not isinstance(value, dict):
        raise UsageError(
            _("{flag}: {name} is not a JSON object").format(flag=flag, name=_name(source))
        )
    return value


def one_of(argument: str | None, source: str | None, name: str, flag: str) -> str:
    """The value given as an argument or in the file `flag` names: exactly one of them."""
    if argument and source is not None:
        raise UsageError(_("give {name} or {flag}, not both").format(name=name, flag=flag))
    if source is not None:
        return first_line(source, flag)
    if not argument:
        raise UsageError(_("give {name}, or {flag} FILE ('-': stdin)").format(name=name, flag=flag))
    return argument


def _read(source: str, flag: str) -> str:
    if source == STDIN:
        try:
            return sys.stdin.read()
        except (OSError, UnicodeDecodeError):
            raise UsageError(_("{flag}: cannot read stdin").format(flag=flag)) from None
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise UsageError(
            _("{flag}: cannot read {source}: {reason}").format(
                flag=flag, source=source, reason=reason
            )
        ) from None


def _name(source: str) -> str:
    return "stdin" if source == STDIN else source
