"""`suggest` (the hypertension protocol's suggestion for a patient) and `protocol check` /
`protocol show` (IT: check an edited protocol file before installing it, show the one in
effect). docs/clinical/hypertension-protocol.md describes the file; docs/commands.md the
commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.commandline.context import add_credentials, add_data_dir, clinic_from, data_dir_of
from app.commandline.errors import CliError
from app.commandline.private_input import add_file_option, one_of
from app.domain.errors import DomainError
from app.domain.hearts.protocol import Protocol
from app.i18n import _, say
from app.services.protocol_queries import ProtocolQueries
from app.store.protocol_data import (
    LOCAL_PROTOCOL_FILE,
    ProtocolFileError,
    load_protocol,
    read_protocol_file,
)
from app.store.reference_data import catalog_for


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("suggest", help=_("the hypertension protocol's suggestion for a patient"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("patient_id", nargs="?", default=None, help=_("or --patient-file"))
    add_file_option(p, "--patient-file", _("the patient id"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_suggest)

    p = sub.add_parser("protocol", help=_("check or show the hypertension protocol file (IT)"))
    protocol_sub = p.add_subparsers(dest="protocol_command", metavar="ACTION", required=True)
    check = protocol_sub.add_parser("check", help=_("check a protocol file; exit 1 if unusable"))
    check.add_argument("file", type=Path)
    add_data_dir(check)
    check.set_defaults(run=cmd_protocol_check)
    show = protocol_sub.add_parser("show", help=_("the protocol in effect on this device"))
    add_data_dir(show)
    show.add_argument("--file", type=Path, default=None, help=_("show this file instead"))
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=cmd_protocol_show)


def cmd_suggest(args: argparse.Namespace) -> int:
    patient_id = one_of(args.patient_id, args.patient_file, "a patient id", "--patient-file")
    with clinic_from(args) as clinic:
        try:
            advice = ProtocolQueries.of(clinic).advice(patient_id, clinic.actor)
        except DomainError as exc:
            raise CliError(say(exc.text)) from None
    if args.json:
        json.dump(advice.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    if advice.problem:
        raise CliError(advice.problem)
    s = advice.suggestion
    assert s is not None
    print(f"{s.kind}: {say(s.summary)}")
    print(say(s.explanation))
    if s.follow_up:
        print(_("follow-up: {follow_up}").format(follow_up=s.follow_up))
    if s.declined_reason is not None:
        print(
            _("declined for this reading: {declined_reason}").format(
                declined_reason=s.declined_reason
            )
        )
    return 0


def _catalog(args: argparse.Namespace) -> Any:
    data_dir = data_dir_of(args)
    return catalog_for(data_dir)


def cmd_protocol_check(args: argparse.Namespace) -> int:
    try:
        protocol = read_protocol_file(args.file, _catalog(args))
    except ProtocolFileError as exc:
        print(_("{name}: not usable").format(name=exc.name), file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(
        _(
            "{name}: usable — {name2}, version {version}, {count} steps; "
            "install it as {local_protocol_file} in the data directory"
        ).format(
            name=args.file.name,
            name2=protocol.name,
            version=protocol.version,
            count=len(protocol.steps),
            local_protocol_file=LOCAL_PROTOCOL_FILE,
        )
    )
    return 0


def cmd_protocol_show(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    try:
        if args.file is not None:
            protocol, origin = read_protocol_file(args.file, catalog), args.file.name
        else:
            loaded = load_protocol(data_dir_of(args), catalog)
            protocol, origin = loaded.protocol, loaded.origin
    except ProtocolFileError as exc:
        raise CliError(f"{exc}") from None
    if args.json:
        json.dump(_as_json(protocol, origin), sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print(
        _("{name}, version {version} ({origin})").format(
            name=protocol.name, version=protocol.version, origin=origin
        )
    )
    print(
        _("target: below {systolic_below:g}/{diastolic_below:g} mmHg").format(
            systolic_below=protocol.systolic_below, diastolic_below=protocol.diastolic_below
        )
    )
    print(
        _("urgent: {urgent_systolic:g}/{urgent_diastolic:g} or above — {urgent_advice}").format(
            urgent_systolic=protocol.urgent_systolic,
            urgent_diastolic=protocol.urgent_diastolic,
            urgent_advice=protocol.urgent_advice,
        )
    )
    for step in protocol.steps:
        component = protocol.component(step.component)
        options = " or ".join(
            f"{o.medicine} {o.doses[step.level - 1]:g} {o.unit} {o.frequency}"
            for o in component.options
        )
        print(
            _("step {number}: {name}: {options}").format(
                number=step.number, name=component.name, options=options
            )
        )
    print(_("then: {after_last_step}").format(after_last_step=protocol.after_last_step))
    print(
        _(
            "follow-up: {follow_up_uncontrolled} days while "
            "uncontrolled, {follow_up_controlled} days when controlled"
        ).format(
            follow_up_uncontrolled=protocol.follow_up_uncontrolled,
            follow_up_controlled=protocol.follow_up_controlled,
        )
    )
    print(_("source: {source}").format(source=protocol.source))
    return 0


def _as_json(protocol: Protocol, origin: str) -> dict[str, Any]:
    return {
        "origin": origin,
        "id": protocol.id,
        "name": protocol.name,
        "version": protocol.version,
        "source": protocol.source,
        "target": [protocol.systolic_below, protocol.diastolic_below],
        "urgent": [protocol.urgent_systolic, protocol.urgent_diastolic],
        "steps": [
            {
                "step": s.number,
                "component": s.component,
                "options": [
                    {
                        "medicine": o.medicine,
                        "dose": o.doses[s.level - 1],
                        "unit": o.unit,
                        "route": o.route,
                        "frequency": o.frequency,
                    }
                    for o in protocol.component(s.component).options
                ],
            }
            for s in protocol.steps
        ],
        "follow_up_days": {
            "uncontrolled": protocol.follow_up_uncontrolled,
            "controlled": protocol.follow_up_controlled,
            "urgent": protocol.follow_up_urgent,
        },
    }
