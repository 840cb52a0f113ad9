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
        "immunization-schedule", help="check or show the immunization schedule file (IT)"
    )
    actions = p.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="check a schedule file; exit 1 if unusable")
    check.add_argument("file", type=Path)
    check.set_defaults(run=cmd_check)
    show = actions.add_parser("show", help="the schedule in effect on this device")
    add_data_dir(show)
    show.add_argument("--file", type=Path, default=None, help="show this file instead")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=cmd_show)


def cmd_check(args: argparse.Namespace) -> int:
    try:
        schedule = read_schedule_file(args.file)
    except ScheduleFileError as exc:
        print(f"{args.file.name}: not usable", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    doses = sum(len(s.doses) for s in schedule.series)
    print(
        f"{args.file.name}: usable — version {schedule.version}, {len(schedule.series)} series, "
        f"{doses} doses; install it as {SCHEDULE_FILE} in the data directory"
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if args.file is not None:
        try:
            schedule = read_schedule_file(args.file)
        except ScheduleFileError as exc:
            raise CliError(f"{args.file.name}: not usable: {exc}") from None
    else:
        # A broken override is not used (the bundled schedule is): say so, and why.
        installed = data_dir_of(args) / SCHEDULE_FILE
        if installed.is_file():
            try:
                read_schedule_file(installed)
            except ScheduleFileError as exc:
                print(f"{SCHEDULE_FILE} in the data directory is not used: {exc}", file=sys.stderr)
        schedule = schedule_for(data_dir_of(args))
    summary = schedule_summary(schedule)
    if args.json:
        json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print(f"{schedule.title or 'Immunization schedule'}, version {schedule.version}")
    print(f"from: {schedule.source}")
    for series in summary["series"]:
        who = f" ({series['sex']} only)" if "sex" in series else ""
        print(f"{series['name']}{who} — {', '.join(series['vaccines'])}")
        for d in series["doses"]:
            upper = f", not after {d['max_age']}" if "max_age" in d else ""
            print(
                f"  dose {d['dose']}: at {d['recommended_age']} (from {d['min_age']}, "
                f"{d['min_interval']} after the previous), overdue {d['overdue_after']} "
                f"later{upper}"
            )
    return 0


def due_json(rows: list[PatientDoseDue]) -> list[dict[str, Any]]:
    """`schedule --immunizations --json`: one object per dose due or overdue."""
    return [asdict(r) for r in rows]


def print_due(rows: list[PatientDoseDue]) -> None:
    """`schedule --immunizations`: one line per dose, overdue first."""
    print(f"immunizations due or overdue: {len(rows)}")
    for r in rows:
        flag = "OVERDUE" if r.status == "overdue" else "due"
        print(
            f"  {r.due_on}  {flag:<7} {r.patient_name} (born {r.birth_date})  "
            f"{r.series_name} dose {r.dose}"
        )
