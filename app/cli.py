"""`fieldchart`: with no subcommand the desktop app, with one the headless CLI.

Exit codes: 0 ok; 1 the operation was refused or failed (one plain line on stderr);
2 bad usage or wrong credentials; 3 the vault is busy or its disk full or failing (nothing
changed; app/commandline/errors.py). No traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from app.commandline import (
    argparse_words,
    call_commands,
    check_server,
    clinic_commands,
    immunization_commands,
    it_commands,
    print_commands,
    protocol_commands,
    remote_commands,
    report_commands,
    similar_commands,
    sync_commands,
    vault_commands,
)
from app.commandline.context import data_dir_of
from app.commandline.errors import CliError, exit_code_of
from app.domain.errors import DomainError
from app.i18n import LANGUAGE_ENV, LAUNCH_LANGUAGES, _, say, set_language
from app.store.errors import CredentialsError, StoreError
from app.store.storage_errors import STORAGE_EXCEPTIONS, storage_failure

log = logging.getLogger("fieldchart.cli")

# The language of the command line until a vault is unlocked (then the user's own).
LOCALE_ENVS = ("LANGUAGE", "LC_ALL", "LANG")


def language_from_environment(environ: Mapping[str, str] = os.environ) -> str | None:
    """$FIELDCHART_LANG, else the first launch language of $LANGUAGE (a colon-separated list
    of preferences), $LC_ALL or $LANG; None when none of them names one (English)."""
    chosen = environ.get(LANGUAGE_ENV, "").strip()
    if chosen:
        return chosen
    for name in LOCALE_ENVS:
        for code in environ.get(name, "").split(":"):
            if code and _language_part(code) in LAUNCH_LANGUAGES:
                return code
    return None


def _language_part(code: str) -> str:
    """'fr_FR.UTF-8' -> 'fr'; 'C.UTF-8' -> 'c' (no language)."""
    return code.replace("-", "_").split(".")[0].split("_")[0].lower()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldchart",
        description=_("FieldChart offline-first clinic client. Without a command, opens the app."),
    )
    parser.add_argument(
        "--data-dir",
        dest="app_data_dir",
        default=None,
        help=_("vault directory for the desktop app"),
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help=_(
            "check this installation in a temporary vault (offscreen window); exit 0 if it works"
        ),
    )
    parser.add_argument("--version", action="version", version=f"fieldchart {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    vault_commands.register(sub)
    clinic_commands.register(sub)
    sync_commands.register(sub)
    check_server.register(sub)
    it_commands.register(sub)
    remote_commands.register(sub)
    protocol_commands.register(sub)
    immunization_commands.register(sub)
    report_commands.register(sub)
    call_commands.register(sub)
    print_commands.register(sub)
    similar_commands.register(sub)
    return parser


def _version() -> str:
    try:
        return version("fieldchart")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    set_language(language_from_environment())  # before the parser: its help is translated
    argparse_words.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    from app.logging_setup import configure_logging

    configure_logging()
    if args.self_test:
        if args.command is not None:
            parser.error(_("--self-test takes no command"))
        from app.selftest import run

        return run()
    if args.command is None:
        from app.main import run_desktop  # Qt is imported only when the app is wanted

        return run_desktop(args.app_data_dir)
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    name = " ".join(n for n in (args.command, getattr(args, "user_command", None)) if n)
    started = time.monotonic()
    log.info("%s: started", name)
    code = _run(args)
    log.info("%s: exit code %d after %.2f s", name, code, time.monotonic() - started)
    return code


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args))
    except CliError as exc:
        _say(str(exc))
        return _failed(args, exc, exc.exit_code)
    except CredentialsError as exc:
        _say(str(exc))
        return _failed(args, exc, 2)
    except DomainError as exc:
        _say(say(exc.text))
        return _failed(args, exc, 1)
    except (StoreError, ValueError) as exc:
        _say(str(exc))
        return _failed(args, exc, exit_code_of(exc))
    except STORAGE_EXCEPTIONS as exc:
        # A held lock or a full or failing disk met outside the vault's own checks.
        unavailable = storage_failure(exc, _data_dir(args))
        if unavailable is None:
            return _internal_error(args, exc)
        _say(str(unavailable))
        return _failed(args, unavailable, exit_code_of(unavailable))
    except KeyboardInterrupt:
        _say("interrupted")
        return 1
    except Exception as exc:  # the last line of defence: a plain line, never a traceback
        return _internal_error(args, exc)


def _internal_error(args: argparse.Namespace, exc: BaseException) -> int:
    # Only the type: an unexpected message could carry data we did not vet.
    log.error("unexpected error in %s", args.command, exc_info=exc)
    _say(
        _("internal error ({name}); nothing was changed by the failed step").format(
            name=type(exc).__name__
        )
    )
    return 1


def _data_dir(args: argparse.Namespace) -> Path | None:
    """The vault directory the command works on (for its disk's free space), if it has one."""
    if not hasattr(args, "data_dir"):
        return None
    try:
        return data_dir_of(args)
    except Exception:  # no home directory, say: then free space is not asked
        return None


def _failed(args: argparse.Namespace, exc: BaseException, code: int) -> int:
    # The class only: messages can name a field's value.
    log.info("%s refused or failed: %s", args.command, type(exc).__name__)
    return code


def _say(message: str) -> None:
    print(_("fieldchart: {message}").format(message=message), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
