"""`exec`, `patients`, `chart`, `schedule`, `audit` and `rebuild`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from app.commandline import immunization_commands
from app.commandline.context import add_credentials, add_data_dir, clinic_from, data_dir_of
from app.commandline.errors import EXIT_UNAVAILABLE, CliError, UsageError
from app.commandline.private_input import add_file_option, one_of
from app.domain.codec import command_from_json
from app.domain.errors import DomainError, PreconditionError
from app.i18n import _, say
from app.services.clock import local_now
from app.store.errors import DiskFullError, StorageUnavailableError, StoreError, VaultBusyError
from app.store.storage_errors import STORAGE_EXCEPTIONS, storage_failure


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("exec", help=_("run JSON commands from stdin, one per line"))
    add_data_dir(p)
    add_credentials(p)
    p.set_defaults(run=cmd_exec)

    p = sub.add_parser("patients", help=_("list or search patients"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--search", default="", help=_("name prefix, identifier or birth date"))
    add_file_option(p, "--search-file", "the search")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_patients)

    p = sub.add_parser("chart", help=_("show a patient's chart (optionally as it was)"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("patient_id", nargs="?", default=None, help=_("or --patient-file"))
    add_file_option(p, "--patient-file", _("the patient id"))
    p.add_argument("--as-of", default=None, help=_("ISO 8601 instant with time zone"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_chart)

    p = sub.add_parser("schedule", help=_("appointments of a day, and overdue follow-ups"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--day", default=None, help=_("YYYY-MM-DD (default: today)"))
    p.add_argument("--days", type=int, default=1)
    p.add_argument(
        "--immunizations", action="store_true", help=_("also the immunizations due or overdue")
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_schedule)

    p = sub.add_parser("audit", help=_("who did what and who viewed which chart"))
    add_data_dir(p)
    add_credentials(p)
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--patient", default=None)
    add_file_option(p, "--patient-file", _("the patient id"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_audit)

    p = sub.add_parser("rebuild", help=_("rebuild every read model from the log; prints a digest"))
    add_data_dir(p)
    add_credentials(p)
    p.set_defaults(run=cmd_rebuild)


def _print(data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate echoed from the input (a field name)
        text = json.dumps(data, ensure_ascii=True, sort_keys=True)
    print(text)


def refusal(exc: DomainError) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ok": False,
        "error": say(exc.text),
        "field": exc.field,
        "kind": type(exc).__name__,
    }
    if isinstance(exc, PreconditionError):
        result["expected"], result["actual"] = exc.expected, exc.actual
    return result


def cmd_exec(args: argparse.Namespace) -> int:
    refused = not_stored = 0
    with clinic_from(args) as clinic:
        actor = clinic.actor
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except (ValueError, RecursionError):  # RecursionError: nested thousands deep
                _print(
                    {
                        "ok": False,
                        "error": _("line {number} is not valid JSON").format(number=number),
                        "field": None,
                        "kind": "ValidationError",
                    }
                )
                refused += 1
                continue
            try:
                changes = clinic.commands.execute(command_from_json(data), actor)
            except DomainError as exc:
                _print(refusal(exc))
                refused += 1
                continue
            except StorageUnavailableError as exc:
                _print(not_saved(exc))
                sys.stdout.flush()
                refused, not_stored = refused + 1, not_stored + 1
                continue
            except StoreError as exc:
                _print({"ok": False, "error": str(exc), "field": None, "kind": type(exc).__name__})
                refused += 1
                continue
            except STORAGE_EXCEPTIONS as exc:
                # The commit failed, so nothing of the line is stored: say why, and go on
                # (each line stands alone, as with any refusal; space may come back).
                unavailable = storage_failure(exc, data_dir_of(args))
                if unavailable is None:
                    raise
                _print(not_saved(unavailable))
                sys.stdout.flush()
                refused, not_stored = refused + 1, not_stored + 1
                continue
            _print({"ok": True, **changes.to_json()})
            sys.stdout.flush()  # each line is an acknowledgement: the command is durable
    if not_stored:
        return EXIT_UNAVAILABLE
    return 1 if refused else 0


def not_saved(unavailable: StorageUnavailableError) -> dict[str, Any]:
    """The result of an exec line whose commit the vault's disk or lock refused."""
    if isinstance(unavailable, DiskFullError):
        error = _("the disk is full: this command was not saved")
    elif isinstance(unavailable, VaultBusyError):
        error = _(
            "the vault is busy (another FieldChart process holds it): this command was not saved"
        )
    else:
        error = _("the disk could not be written: this command was not saved")
    return {"ok": False, "error": error, "field": None, "kind": type(unavailable).__name__}


def cmd_patients(args: argparse.Namespace) -> int:
    search = args.search
    if args.search_file is not None:
        search = one_of(args.search or None, args.search_file, "--search", "--search-file")
    with clinic_from(args) as clinic:
        found = clinic.queries.search_patients(search, args.limit)
    if args.json:
        _print([asdict(p) for p in found])
    else:
        for p in found:
            print(f"{p.patient_id}\t{p.family}, {p.given}\t{p.birth_date}\t{p.sex}")
    return 0


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            _("--as-of {text!r} is not an ISO 8601 date and time").format(text=text)
        ) from None
    if moment.tzinfo is None:
        raise UsageError(_("--as-of needs a time zone, e.g. 2026-11-21T09:00:00+00:00"))
    return moment


def cmd_chart(args: argparse.Namespace) -> int:
    patient_id = one_of(args.patient_id, args.patient_file, "a patient id", "--patient-file")
    as_of = _instant(args.as_of) if args.as_of else None
    with clinic_from(args) as clinic:
        try:
            view = clinic.queries.chart(patient_id, clinic.actor, as_of)
        except DomainError as exc:
            raise CliError(say(exc.text)) from None
    if args.json:
        _print(view.to_json())
    else:
        p = view.patient
        age = view.age_label or _("{years} y").format(years=view.age_years)
        print(
            _("{family}, {given} ({age}, {sex})  id {patient_id}").format(
                family=p.family, given=p.given, age=age, sex=p.sex, patient_id=p.patient_id
            )
        )
        if view.replaced_by:
            print(
                _("REPLACED BY {replaced_by}: merged into that chart").format(
                    replaced_by=view.replaced_by
                )
            )
        for merged in view.merges:
            print(
                _("MERGED: {name} (id {replaced_patient_id}, {merge_id})").format(
                    name=merged.name,
                    replaced_patient_id=merged.replaced_patient_id,
                    merge_id=merged.merge_id,
                )
            )
        for warning in view.merge_warnings:
            print(_("WARNING: {warning}").format(warning=warning))
        if view.allergy_banner:
            print(_("ALLERGIES: {allergies}").format(allergies=", ".join(view.allergy_banner)))
        for entry in view.timeline:
            mark = _(" [entered in error]") if entry.entered_in_error else ""
            print(f"{entry.occurred_at}  {entry.user:<12} {entry.text}{mark}")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    try:
        day = date.fromisoformat(args.day) if args.day else None
    except ValueError:
        raise UsageError(
            _("--day {day!r} is not a date like 2026-11-21").format(day=args.day)
        ) from None
    with clinic_from(args) as clinic:
        day = day or local_now(clinic.clock).date()
        booked = clinic.queries.schedule(day, args.days)
        overdue = clinic.queries.overdue_followups()
        # Immunizations due on the day asked (default today), by the schedule in effect.
        doses = clinic.queries.immunizations_due(day) if args.immunizations else None
    if args.json:
        shown: dict[str, Any] = {
            "day": day.isoformat(),
            "days": args.days,
            "appointments": [asdict(a) for a in booked],
            "overdue": [asdict(a) for a in overdue],
        }
        if doses is not None:
            shown["immunizations_due"] = immunization_commands.due_json(doses)
        _print(shown)
    else:
        for a in booked:
            print(f"{a.start}  {a.clinician:<12} {a.patient_name}  [{a.status}]")
        if overdue:
            print(_("overdue follow-ups: {count}").format(count=len(overdue)))
        if doses is not None:
            immunization_commands.print_due(doses)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    patient = args.patient
    if args.patient_file is not None:
        patient = one_of(args.patient, args.patient_file, "--patient", "--patient-file")
    with clinic_from(args) as clinic:
        entries = clinic.queries.audit(args.limit, patient)
    if args.json:
        _print([asdict(e) for e in entries])
    else:
        for e in entries:
            print(f"{e.at}  {e.user:<12} {e.role:<9} {e.action:<22} {e.patient_id or ''}")
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    with clinic_from(args) as clinic:
        events = clinic.vault.events.head_position()
        started = time.monotonic()  # a duration, not a date: the monotonic timer
        digest = clinic.runner.rebuild()
        seconds = time.monotonic() - started
    print(
        _("rebuilt read models from {events} events in {seconds:.2f} s").format(
            events=events, seconds=seconds
        )
    )
    print(_("digest {digest}").format(digest=digest))
    return 0
