"""`fieldchart print prescription|referral|visit|slip|card PATIENT [--item ID] --out FILE.pdf`:
a printout of a chart as a PDF file, audited like a print from the desktop app. Qt is loaded
only here, to lay the pages out (app/ui/printing/headless.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.commandline.errors import CliError
from app.domain.errors import DomainError
from app.i18n import LAUNCH_LANGUAGES, _, say
from app.services.printouts.service import DOCUMENTS, printouts_of


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("print", help=_("a printout of a chart as a PDF file (audited)"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("document", choices=DOCUMENTS)
    p.add_argument("patient_id")
    p.add_argument(
        "--item",
        action="append",
        default=[],
        metavar="ID",
        help=_(
            "the prescription (repeat for several), referral, encounter "
            "or appointment; default: every active prescription, or the "
            "latest one"
        ),
    )
    p.add_argument("--out", type=Path, required=True, help=_("the PDF file to write"))
    p.add_argument("--clinic", default="", help=_("the clinic's name printed on the page"))
    p.add_argument(
        "--language",
        choices=list(LAUNCH_LANGUAGES),
        default=None,
        help=_("the language printed (the patient's); default: yours"),
    )
    p.set_defaults(run=cmd_print)


def cmd_print(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.suffix.lower() != ".pdf":
        raise CliError(_("--out: give a file name ending in .pdf"))
    if not out.parent.is_dir():
        raise CliError(_("--out: that folder does not exist"))
    from app.ui.printing.headless import write_pdf_headless  # Qt only for this command

    with clinic_from(args) as clinic:
        printouts = printouts_of(clinic)
        try:
            printout = printouts.prepare(
                args.document,
                args.patient_id,
                clinic.actor,
                args.item,
                args.clinic,
                language=args.language,
            )
        except DomainError as exc:
            raise CliError(say(exc.text)) from None
        try:
            write_pdf_headless(printout, out)
        except OSError as exc:
            raise CliError(
                _("--out: could not be written ({strerror})").format(strerror=exc.strerror)
            ) from None
        printouts.record_printed(printout, clinic.actor)
    note = (
        _("; it includes {pending_changes} change(s) not yet sent").format(
            pending_changes=printout.pending_changes
        )
        if printout.pending_changes
        else ""
    )
    print(_("{title} written to {out}{note}").format(title=printout.title, out=out, note=note))
    return 0
