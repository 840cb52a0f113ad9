"""`fieldchart calls`: the follow-up call worklist, or with `--month` the monthly "returned
within 30 days of a call" figure by outcome (docs/front-desk/follow-up-calls.md)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from app.commandline.context import add_credentials, add_data_dir, clinic_from
from app.commandline.errors import UsageError
from app.services.call_worklist import ReturnFigure, WorklistRow, month_bounds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "calls", help="follow-up call worklist, or --month: returned within 30 days of a call"
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--month", default=None, help="YYYY-MM: the monthly figure by outcome")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_calls)


def cmd_calls(args: argparse.Namespace) -> int:
    if args.month is not None:
        try:
            month_bounds(args.month)
        except ValueError:
            raise UsageError(f"--month {args.month!r} is not a month like 2026-11") from None
    with clinic_from(args) as clinic:
        if args.month is None:
            rows = clinic.queries.call_worklist()
        else:
            figures = clinic.queries.calls_returned(args.month)
    if args.month is None:
        _show_worklist(rows, args.json)
    else:
        _show_figures(args.month, figures, args.json)
    return 0


def _dump(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, sort_keys=True, indent=2)
    print()


def _show_worklist(rows: list[WorklistRow], as_json: bool) -> None:
    if as_json:
        _dump({"worklist": [asdict(r) for r in rows]})
        return
    print(f"patients to call: {len(rows)} ({sum(r.due for r in rows)} due today)")
    for r in rows:
        flag = "DUE" if r.due else "   "
        last = f", last: {r.last_outcome}" if r.last_outcome else ""
        print(
            f"  {flag} {r.patient_name}  {r.phone or 'no phone'}  {r.missed} {r.appointment_start}"
            f"  attempts {r.attempts}{last}  next call {r.next_call_on or '-'}"
        )


def figure_json(f: ReturnFigure) -> dict[str, Any]:
    return {"outcome": f.outcome, "calls": f.calls, "returned": f.returned, "share": f.share}


def _show_figures(month: str, figures: list[ReturnFigure], as_json: bool) -> None:
    if as_json:
        _dump({"month": month, "returned": [figure_json(f) for f in figures]})
        return
    print(f"calls in {month}: returned within 30 days of the call, by outcome")
    for f in figures:
        share = "-" if f.share is None else f"{f.share:.0%}"
        print(f"  {f.outcome:<15} {f.calls:>5} calls  {f.returned:>5} returned  {share:>5}")
    total = sum(f.calls for f in figures)
    back = sum(f.returned for f in figures)
    print(
        f"  {'all':<15} {total:>5} calls  {back:>5} returned  {(back / total if total else 0):.0%}"
    )
