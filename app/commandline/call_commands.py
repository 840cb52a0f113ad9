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
from app.i18n import _
from app.services.call_worklist import ReturnFigure, WorklistRow, month_bounds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "calls", help=_("follow-up call worklist, or --month: returned within 30 days of a call")
    )
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--month", default=None, help=_("YYYY-MM: the monthly figure by outcome"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_calls)


def cmd_calls(args: argparse.Namespace) -> int:
    if args.month is not None:
        try:
            month_bounds(args.month)
        except ValueError:
            raise UsageError(
                _("--month {month!r} is not a month like 2026-11").format(month=args.month)
            ) from None
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
    print(
        _("patients to call: {count} ({total} due today)").format(
            count=len(rows), total=sum(r.due for r in rows)
        )
    )
    for r in rows:
        flag = "DUE" if r.due else "   "
        last = _(", last: {outcome}").format(outcome=r.last_outcome) if r.last_outcome else ""
        print(
            _(
                "  {flag} {patient_name}  {phone}  {missed} "
                "{appointment_start}  attempts {attempts}{last}  next call "
                "{next_call_on}"
            ).format(
                flag=flag,
                patient_name=r.patient_name,
                phone=r.phone or _("no phone"),
                missed=r.missed,
                appointment_start=r.appointment_start,
                attempts=r.attempts,
                last=last,
                next_call_on=r.next_call_on or "-",
            )
        )


def figure_json(f: ReturnFigure) -> dict[str, Any]:
    return {"outcome": f.outcome, "calls": f.calls, "returned": f.returned, "share": f.share}


def _show_figures(month: str, figures: list[ReturnFigure], as_json: bool) -> None:
    if as_json:
        _dump({"month": month, "returned": [figure_json(f) for f in figures]})
        return
    print(
        _("calls in {month}: returned within 30 days of the call, by outcome").format(month=month)
    )
    for f in figures:
        share = "-" if f.share is None else f"{f.share:.0%}"
        print(
            _("  {outcome:<15} {calls:>5} calls  {returned:>5} returned  {share:>5}").format(
                outcome=f.outcome, calls=f.calls, returned=f.returned, share=share
            )
        )
    total = sum(f.calls for f in figures)
    back = sum(f.returned for f in figures)
    print(
        _("  {value:<15} {total:>5} calls  {back:>5} returned  {value2:.0%}").format(
            value="all", total=total, back=back, value2=back / total if total else 0
        )
    )
