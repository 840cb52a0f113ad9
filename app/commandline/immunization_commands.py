"""`immunization-schedule check FILE` / `immunization-schedule show` (IT: check an edited
schedule before installing it; show the one in effect on this device), and the immunization
part of `schedule --immunizations`. docs/clinical/immunizations.md describes the file."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.commandline.context import add_data_dir, data_dir_of
from app.commandline.errors import CliError
from app.i18n import _
from app.services.immunization_queries import PatientDoseDue
from app.store.immunization_data import (
    SCHEDULE_FILE,
    ScheduleFileError,
    read_schedule_file,
    schedule_for,
    schedule_summary,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "immunization-schedule", help=_("check or show the immunization schedule file (IT)")
    )
    actions = p.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help=_("check a schedule file; exit 1 if unusable"))
    check.add_argument("file", type=Path)
    check.set_defaults(run=cmd_check)
    show = actions.add_parser("show", help=_("the schedule in effect on this device"))
    add_data_dir(show)
    show.add_argument("--file", type=Path, default=None, help=_("show this file instead"))
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=cmd_show)


def cmd_check(args: argparse.Namespace) -> int:
    try:
        schedule = read_schedule_file(args.file)
    except ScheduleFileError as exc:
        print(_("{name}: not usable").format(name=args.file.name), file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    doses = sum(len(s.doses) for s in schedule.series)
    print(
        _(
            "{name}: usable — version {version}, {count} series, {doses} "
            "doses; install it as {schedule_file} in the data directory"
        ).format(
            name=args.file.name,
            version=schedule.version,
            count=len(schedule.series),
            doses=doses,
            schedule_file=SCHEDULE_FILE,
        )
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if args.file is not None:
        try:
            schedule = read_schedule_file(args.file)
        except ScheduleFileError as exc:
            raise CliError(
                _("{name}: not usable: {exc}").format(name=args.file.name, exc=exc)
            ) from None
    else:
        # A broken override is not used (the bundled schedule is): say so, and why.
        installed = data_dir_of(args) / SCHEDULE_FILE
        if installed.is_file():
            try:
                read_schedule_file(installed)
            except ScheduleFileError as exc:
                print(
                    _("{schedule_file} in the data directory is not used: {exc}").format(
                        schedule_file=SCHEDULE_FILE, exc=exc
                    ),
                    file=sys.stderr,
                )
        schedule = schedule_for(data_dir_of(args))
    summary = schedule_summary(schedule)
    if args.json:
        json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print(
        _("{title}, version {version}").format(
            title=schedule.title or _("Immunization schedule"), version=schedule.version
        )
    )
    print(_("from: {source}").format(source=schedule.source))
    for series in summary["series"]:
        who = _(" ({sex} only)").format(sex=series["sex"]) if "sex" in series else ""
        print(f"{series['name']}{who} — {', '.join(series['vaccines'])}")
        for d in series["doses"]:
            upper = (
                _(", not after {max_age}").format(max_age=d["max_age"]) if "max_age" in d else ""
            )
            print(
                _(
                    "  dose {dose}: at {recommended_age} (from {min_age}, "
                    "{min_interval} after the previous), overdue {overdue_after} "
                    "later{upper}"
                ).format(
                    dose=d["dose"],
                    recommended_age=d["recommended_age"],
                    min_age=d["min_age"],
                    min_interval=d["min_interval"],
                    overdue_after=d["overdue_after"],
                    upper=upper,
                )
            )
    return 0


def due_json(rows: list[PatientDoseDue]) -> list[dict[str, Any]]:
    """`schedule --immunizations --json`: one object per dose due or overdue."""
    return [asdict(r) for r in rows]


def print_due(rows: list[PatientDoseDue]) -> None:
    """`schedule --immunizations`: one line per dose, overdue first."""
    print(_("immunizations due or overdue: {count}").format(count=len(rows)))
    for r in rows:
        flag = "OVERDUE" if r.status == "overdue" else "due"
        print(
            _(
                "  {due_on}  {flag:<7} {patient_name} (born {birth_date})  "
                "{series_name} dose {dose}"
            ).format(
                due_on=r.due_on,
                flag=flag,
                patient_name=r.patient_name,
                birth_date=r.birth_date,
                series_name=r.series_name,
                dose=r.dose,
            )
        )
