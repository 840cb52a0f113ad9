"""`remote-find` and `remote-fetch`: look a patient from elsewhere up on the central server and
bring their record onto this device (issue 14). Both are audited; staff and clinicians only."""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.services.remote_lookup import RemoteQuery


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "remote-find", help="look a patient up on the central server (any facility; audited)"
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--name", default="", help="words of the name (each must match)")
    p.add_argument("--identifier", default="", help="an identifier's value, or system|value")
    p.add_argument("--birth-date", default="", help="YYYY-MM-DD (with a name or an identifier)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_remote_find)

    p = sub.add_parser(
        "remote-fetch",
        help="bring a patient's record from the central server onto this device (audited)",
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("server_id", help="the patient's id on the server, as remote-find shows it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_remote_fetch)


def _print(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, sort_keys=True))


def cmd_remote_find(args: argparse.Namespace) -> int:
    from sync.remote_patients import RemotePatients

    query = RemoteQuery(args.name, args.identifier, args.birth_date)
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


def cmd_remote_fetch(args: argparse.Namespace) -> int:
    from sync.remote_patients import RemotePatients

    with clinic_from(args) as clinic:
        brought = RemotePatients(clinic).bring(args.server_id)
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
