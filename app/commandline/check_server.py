"""`check-server`: can FieldChart sync with this FHIR server? For IT, before a clinic goes live.

The server and credentials come exactly as for `enroll` (flags, a clinic config file), or from
an enrolled device (`--data-dir` alone). Read-only unless `--write-probe`. Exit 0 when
FieldChart can sync with the server, 1 when it cannot (one line per reason on stderr) or the
server cannot be reached or refuses the credentials, 2 for bad usage (e.g. not a URL).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import replace
from typing import TYPE_CHECKING

from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.commandline.errors import CliError, UsageError
from app.commandline.sync_commands import _config, add_server_options
from app.i18n import _

if TYPE_CHECKING:
    from app.services.settings import DeviceSettings
    from sync.server_check.report import ServerReport

_WIDTHS = (26, 6, 46, 52)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check-server",
        help=_("check that a FHIR server can serve FieldChart sync (IT, before going live)"),
    )
    add_server_options(p)
    add_data_dir(p)
    add_credentials(p)
    p.add_argument(
        "--write-probe",
        action="store_true",
        help=_("also create, update and delete a clearly marked throwaway test patient"),
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_check_server)


def _settings(args: argparse.Namespace) -> DeviceSettings:
    from app.domain.errors import ValidationError
    from app.services.settings import DeviceSettings, validate

    if args.server is None and args.config is None and args.data_dir is not None:
        with clinic_from(args) as clinic:  # an enrolled device's own server and credentials
            settings = clinic.settings.get()
        if not settings.server_url:
            raise CliError(_("this device is not enrolled with a server"))
        return settings
    if args.server is None and args.config is None:
        raise UsageError(
            _("give --server URL, a --config file, or the --data-dir of an enrolled device")
        )
    try:
        return validate(replace(DeviceSettings(), **_config(args)))
    except ValidationError as exc:
        raise UsageError(str(exc)) from None


def _scope_asked(args: argparse.Namespace, settings: DeviceSettings) -> bool:
    """Whether to check a scope: an enrolled device's own (even none: an old enrolment), or
    the one the flags or configuration file name."""
    from_device = args.server is None and args.config is None
    return from_device or settings.scope_named or settings.pull_everything


def cmd_check_server(args: argparse.Namespace) -> int:
    from sync.clinic_sync import SyncNotConfiguredError, client_for
    from sync.fhir.errors import AuthError, FhirError, OfflineError, RateLimitedError, TlsError
    from sync.server_check.check import check_server

    settings = _settings(args)
    try:
        client = client_for(settings)
    except SyncNotConfiguredError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        with client:
            report = check_server(
                client,
                auth_mode=settings.auth_mode,
                write_probe=args.write_probe,
                settings=settings if _scope_asked(args, settings) else None,
            )
    except TlsError as exc:
        raise CliError(
            _("the TLS connection to the server failed: {exc}").format(exc=exc)
        ) from None
    except OfflineError as exc:
        raise CliError(_("cannot reach the server: {exc}").format(exc=exc)) from None
    except AuthError as exc:
        raise CliError(_("the server refused the credentials: {exc}").format(exc=exc)) from None
    except RateLimitedError:
        raise CliError(
            _("the server is rate-limiting this client (HTTP 429/503); run the check again later")
        ) from None
    except FhirError as exc:
        raise CliError(_("the check stopped: {exc}").format(exc=exc)) from None
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, sort_keys=True))
    else:
        print(render_table(report))
    for reason in report.blocking:
        print(_("cannot sync: {reason}").format(reason=reason), file=sys.stderr)
    return 0 if report.can_sync else 1


def render_table(report: ServerReport) -> str:
    """The checks as a plain-text table, wrapped to fit a wide terminal."""
    rows = [("CHECK", "STATUS", "RESULT", "WHAT FIELDCHART WILL DO")]
    rows += [(c.name, c.status.upper(), c.result, c.action) for c in report.checks]
    probe = _(" (write probe)") if report.write_probe else ""
    lines = [_("server: {server}{probe}").format(server=report.server, probe=probe)]
    for row in rows:
        cells = [
            textwrap.wrap(text, width, break_on_hyphens=False) or [""]
            for text, width in zip(row, _WIDTHS, strict=True)
        ]
        for i in range(max(len(c) for c in cells)):
            parts = [
                (c[i] if i < len(c) else "").ljust(w) for c, w in zip(cells, _WIDTHS, strict=True)
            ]
            lines.append("  ".join(parts).rstrip())
    verdict = (
        _("FieldChart can sync with this server.")
        if report.can_sync
        else _("FieldChart cannot sync with this server (see FAIL).")
    )
    lines.append(verdict)
    return "\n".join(lines)
