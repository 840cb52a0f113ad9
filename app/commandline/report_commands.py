"""`fieldchart report --month 2026-11 --format csv|dhis2|measurereport [--out FILE]`: a
facility-month's indicators as a file (docs/reports/indicators.md). Without --out the file
goes to standard output. Unsynced commands since the month began: the file says so and so
does a line on standard error, so a script sending it on can notice."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.commandline.errors import CliError
from app.i18n import _
from app.services.indicators.exports import FORMATS
from app.services.indicators.service import ReportService


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help=_("monthly indicators of this facility, as a file"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--month", required=True, help=_("the month, like 2026-11"))
    p.add_argument("--format", dest="report_format", choices=FORMATS, default="csv")
    p.add_argument("--out", type=Path, default=None, help=_("write the file here (else stdout)"))
    p.add_argument(
        "--org-unit", default=None, help=_("DHIS2 organisation unit id (else the mapping file's)")
    )
    p.set_defaults(run=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    with clinic_from(args) as clinic:
        organization = clinic.settings.get().scope_organization
        reporter = organization if organization and "/" in organization else None
        exported = ReportService(clinic.vault, clinic.catalog).export(
            clinic.actor, args.month, args.report_format, org_unit=args.org_unit, reporter=reporter
        )
    if args.out is None:
        sys.stdout.write(exported.text)
    else:
        try:
            args.out.write_text(exported.text, encoding="utf-8")
        except OSError as exc:
            raise CliError(
                _("--out: cannot write {name} ({strerror})").format(
                    name=args.out.name, strerror=exc.strerror
                )
            ) from None
        print(
            _("report {month} ({report_format}) written to {out}").format(
                month=args.month, report_format=args.report_format, out=args.out
            )
        )
    if exported.warning:
        print(_("fieldchart: warning: {warning}").format(warning=exported.warning), file=sys.stderr)
    return 0
