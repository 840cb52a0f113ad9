"""`similar-patients`: the duplicate check at registration from the command line. Given the
JSON of a registration draft, prints the patients on this device (and, with --ask-server, on the
central server) who may be the same person, with the reasons (docs/front-desk/duplicates.md)."""

from __future__ import annotations

import argparse
import json

from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.commandline.private_input import json_object
from app.i18n import _
from app.services.duplicate_check import RegistrationDraft, similar_patients


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "similar-patients",
        help=_("patients who may be the person about to be registered (duplicate check)"),
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument(
        "--draft-file",
        required=True,
        metavar="FILE",
        help=_(
            'the draft as JSON, {"given", "family", "birth_date", "sex", '
            '"phone", "identifiers": [{"system", "value"}]}, from FILE '
            "('-': stdin)"
        ),
    )
    p.add_argument(
        "--ask-server",
        action="store_true",
        help=_("also look on the central server (within this device's scope; audited there)"),
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_similar_patients)


def cmd_similar_patients(args: argparse.Namespace) -> int:
    draft = RegistrationDraft.from_json(json_object(args.draft_file, "--draft-file")).checked()
    with clinic_from(args) as clinic:
        lookup = None
        if args.ask_server:
            from sync.remote_patients import RemotePatients

            lookup = RemotePatients(clinic)
        result = similar_patients(clinic, draft, lookup)
    if args.json:
        data = {
            "patients": [p.to_json() for p in result.patients],
            "server": result.server_note or "asked",
        }
        print(json.dumps(data, ensure_ascii=False, sort_keys=True))
        return 0
    for p in result.patients:
        where = p.patient_id if p.where == "device" else f"server:{p.server_id}"
        # The duplicate check's reasons are N_-marked in app/domain/duplicates.py.
        reasons = "; ".join(_(reason) for reason in p.reasons)
        print(f"{where}\t{p.display_name}\t{p.birth_date}\t{p.sex}\t{p.score}\t{reasons}")
    if not result.patients:
        print(_("No similar patient found."))
    if result.server_note:
        print(result.server_note)
    return 0
