"""`remote-find` and `remote-fetch`: look a patient from elsewhere up on the central server and
bring their record onto this device (issue 14). Both are audited; staff and clinicians only."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.commandline.errors import UsageError
from app.commandline.private_input import add_file_option, json_object, one_of
from app.services.remote_lookup import RemoteQuery

QUERY_KEYS = ("name", "identifier", "birth_date")  # RemoteQuery's fields, in order


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "remote-find", help="look a patient up on the central server (any facility; audited)"
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--name", default="", help="words of the name (each must match)")
    p.add_argument("--identifier", default="", help="an identifier's value, or system|value")
    p.add_argument("--birth-date", default="", help="YYYY-MM-DD (with a name or an identifier)")
    p.add_argument(
        "--query-file",
        default=None,
        metavar="FILE",
        help='the search as JSON, {"name": .., "identifier": .., "birth_date": ..}, from FILE '
        "('-': stdin), not the command line",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_remote_find)

    p = sub.add_parser(
        "remote-fetch",
        help="bring a patient's record from the central server onto this device (audited)",
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument(
        "server_id",
        nargs="?",
        default=None,
        help="the patient's id on the server, as remote-find shows it (or --server-id-file)",
    )
    add_file_option(p, "--server-id-file", "the patient's server id")
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
        here = f"  [on this device: {p.local_id}]" if p.local_id else ""
        ids = "; ".join(p.identifiers) or "-"
        print(
            f"{p.server_id}  {p.display_name}  {p.sex}  born {p.birth_date or '?'}  {ids}  "
            f"{p.organization or 'no organization'}{here}"
        )
    print(result.summary())
    return 0


def _query(args: argparse.Namespace) -> RemoteQuery:
    """The search from the flags, or from --query-file (then no search flag may be given)."""
    if args.query_file is None:
        return RemoteQuery(args.name, args.identifier, args.birth_date)
    if args.name or args.identifier or args.birth_date:
        raise UsageError("give the search as flags or in --query-file, not both")
    given = json_object(args.query_file, "--query-file")
    unknown = sorted(set(given) - set(QUERY_KEYS))
    if unknown:
        raise UsageError(
            f"--query-file: unknown key {unknown[0]!r} (known: {', '.join(QUERY_KEYS)})"
        )
    if not all(isinstance(v, str) for v in given.values()):
        raise UsageError("--query-file: every value must be a string")
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
        "kept as visiting while they are being seen"
        if brought.visiting
        else "in this device's scope"
    )
    print(
        f"brought patient {brought.patient_id} onto this device: {brought.received} records "
        f"({brought.new} new); {stays}"
    )
    return 0
