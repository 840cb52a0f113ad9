"""`remote-find` and `remote-fetch`: look a patient from elsewhere up on the central server and
bring their record onto this device (issue 14). Both are audited; staff and clinicians only."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.commandline.errors import UsageError
from app.commandline.private_input import add_file_option, json_object, one_of
from app.i18n import _
from app.services.remote_lookup import RemoteQuery

QUERY_KEYS = ("name", "identifier", "birth_date")  # RemoteQuery's fields, in order


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "remote-find", help=_("look a patient up on the central server (any facility; audited)")
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--name", default="", help=_("words of the name (each must match)"))
    p.add_argument("--identifier", default="", help=_("an identifier's value, or system|value"))
    p.add_argument("--birth-date", default="", help=_("YYYY-MM-DD (with a name or an identifier)"))
    p.add_argument(
        "--query-file",
        default=None,
        metavar="FILE",
        help=_(
            'the search as JSON, {"name": .., "identifier": .., '
            "\"birth_date\": ..}, from FILE ('-': stdin), not the command "
            "line"
        ),
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_remote_find)

    p = sub.add_parser(
        "remote-fetch",
        help=_("bring a patient's record from the central server onto this device (audited)"),
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument(
        "server_id",
        nargs="?",
        default=None,
        help=_("the patient's id on the server, as remote-find shows it (or --server-id-file)"),
    )
    add_file_option(p, "--server-id-file", _("the patient's server id"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_remote_fetch)


def _print(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, sort_keys=True))


def cmd_remote_find(args: argparse.Namespace) -> int:
    from sync.remote_patients import RemotePatients

    query = _query(args)
    with clinic_from(args) as clinic:
        result = RemotePatients(clinic).search(query)
    if args.json:
        _print(result.to_json())
        return 0
    for p in result.patients:
        here = _("  [on this device: {local_id}]").format(local_id=p.local_id) if p.local_id else ""
        ids = "; ".join(p.identifiers) or "-"
        print(
            _(
                "{server_id}  {display_name}  {sex}  born {birth_date}  {ids}  {organization}{here}"
            ).format(
                server_id=p.server_id,
                display_name=p.display_name,
                sex=p.sex,
                birth_date=p.birth_date or "?",
                ids=ids,
                organization=p.organization or _("no organization"),
                here=here,
            )
        )
    print(result.summary())
    return 0


def _query(args: argparse.Namespace) -> RemoteQuery:
    """The search from the flags, or from --query-file (then no search flag may be given)."""
    if args.query_file is None:
        return RemoteQuery(args.name, args.identifier, args.birth_date)
    if args.name or args.identifier or args.birth_date:
        raise UsageError(_("give the search as flags or in --query-file, not both"))
    given = json_object(args.query_file, "--query-file")
    unknown = sorted(set(given) - set(QUERY_KEYS))
    if unknown:
        raise UsageError(
            _("--query-file: unknown key {unknown!r} (known: {items})").format(
                unknown=unknown[0], items=", ".join(QUERY_KEYS)
            )
        )
    if not all(isinstance(v, str) for v in given.values()):
        raise UsageError(_("--query-file: every value must be a string"))
    return RemoteQuery(*(str(given.get(key, "")) for key in QUERY_KEYS))


def cmd_remote_fetch(args: argparse.Namespace) -> int:
    from sync.remote_patients import RemotePatients

    server_id = one_of(args.server_id, args.server_id_file, "a server id", "--server-id-file")

    with clinic_from(args) as clinic:
        brought = RemotePatients(clinic).bring(server_id)
    if args.json:
        _print(brought.to_json())
        return 0
    stays = (
        _("kept as visiting while they are being seen")
        if brought.visiting
        else _("in this device's scope")
    )
    print(
        _(
            "brought patient {patient_id} onto this device: {received} records ({new} new); {stays}"
        ).format(
            patient_id=brought.patient_id, received=brought.received, new=brought.new, stays=stays
        )
    )
    return 0
