"""`fieldchart`: with no subcommand the desktop app, with one the headless CLI.

Exit codes: 0 ok; 1 the operation was refused or failed (one plain line on stderr);
2 bad usage or wrong credentials. No traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from app.commandline import clinic_commands, sync_commands, vault_commands
from app.commandline.errors import CliError
from app.domain.errors import DomainError
from app.store.errors import CredentialsError, StoreError

log = logging.getLogger("fieldchart.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldchart",
        description="FieldChart offline-first clinic client. Without a command, opens the app.",
    )
    parser.add_argument(
        "--data-dir", dest="app_data_dir", default=None, help="vault directory for the desktop app"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    vault_commands.register(sub)
    clinic_commands.register(sub)
    sync_commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from app.main import run_desktop  # Qt is imported only when the app is wanted

        return run_desktop(args.app_data_dir)
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args))
    except CliError as exc:
        _say(str(exc))
        return exc.exit_code
    except CredentialsError as exc:
        _say(str(exc))
        return 2
    except DomainError as exc:
        _say(exc.message)
        return 1
    except (StoreError, ValueError) as exc:
        _say(str(exc))
        return 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 1
    except Exception as exc:  # the last line of defence: a plain line, never a traceback
        # Only the type: an unexpected message could carry data we did not vet.
        log.debug("unexpected error in %s", args.command, exc_info=True)
        _say(f"internal error ({type(exc).__name__}); nothing was changed by the failed step")
        return 1


def _say(message: str) -> None:
    print(f"fieldchart: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
