"""Follow-up calls: the staff's worklist of patients to call about a missed or overdue
appointment, and the monthly "returned within 30 days of a call" figure by outcome
(docs/front-desk/follow-up-calls.md). Read from the schedule, patient index and chart items
read models; no chart is folded.

Who is on the list: a patient with a missed (no-show, not rebooked) or overdue (booked, time
passed, not marked) appointment, unless a call or a removal AFTER their latest such
appointment ended the follow-up (moved, died, refused, removed). A new booking ends it too
(the missed appointment is then rebooked, so the schedule no longer lists it). A later missed
appointment brings a removed patient back: the removal was about the earlier one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.domain.commands import CALL_ENDS_FOLLOW_UP, CALL_OUTCOMES
from app.projections import call_rows, patient_index, patient_links, schedule
from app.store.database import Transaction

REMOVED = "removed"
ENDS_LIST = CALL_ENDS_FOLLOW_UP | {REMOVED}
RETURN_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class CallView:
    """One recorded call (or removal) as the worklist reads it."""

    call_id: str
    patient_id: str
    outcome: str
    called_at: str
    next_call_on: str | None
    note: str | None


@dataclass(frozen=True)
class WorklistRow:
    patient_id: str
    patient_name: str
    phone: str | None
    appointment_id: str  # the latest missed or overdue appointment
    appointment_start: str
    missed: str  # "missed" (marked no-show) or "overdue" (never marked)
    attempts: int  # calls since the first missed/overdue appointment still open
    last_outcome: str | None
    last_called_at: str | None
    next_call_on: str | None
    due: bool  # to call today: never called yet, or the next call date has come


@dataclass(frozen=True)
class ReturnFigure:
    outcome: str
    calls: int
    returned: int

    @property
    def share(self) -> float | None:
        return None if self.calls == 0 else self.returned / self.calls


def _instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


def call_items(conn: Transaction, patient_ids: Iterable[str] | None = None) -> list[CallView]:
    """Calls and removals (not entered in error), oldest first; of some patients or all."""
    found = [_call(*row) for row in call_rows.calls(conn, patient_ids)]
    return sorted(found, key=lambda call: (_instant(call.called_at), call.call_id))


def _call(call_id: str, patient_id: str, data: dict[str, Any]) -> CallView:
    # A removal is dated removed_at; a call (also one received from the server) called_at.
    return CallView(
        call_id=call_id,
        patient_id=patient_id,
        outcome=str(data.get("outcome") or "unknown"),
        called_at=str(data.get("called_at") or data.get("removed_at")),
        next_call_on=data.get("next_call_on"),
        note=data.get("note") or data.get("reason"),
    )


def worklist(conn: Transaction, now: datetime, today: date) -> list[WorklistRow]:
    """The patients to call, those due today first, then by next call date."""
    # A record merged into another chart is that chart now: its appointments and calls are
    # the survivor's, listed once under the survivor.
    replaced = patient_links.replacements(conn)
    open_appointments: dict[str, list[Any]] = defaultdict(list)
    for row in [*schedule.missed(conn, limit=5000), *schedule.overdue(conn, now)]:
        open_appointments[replaced.get(row.patient_id, row.patient_id)].append(row)
    calls: dict[str, list[CallView]] = defaultdict(list)
    for call in call_items(conn, [*open_appointments, *replaced]):
        calls[replaced.get(call.patient_id, call.patient_id)].append(call)
    rows = []
    for patient_id, appointments in open_appointments.items():
        row = _row(conn, patient_id, appointments, calls[patient_id], today)
        if row is not None:
            rows.append(row)
    return sorted(rows, key=lambda r: (not r.due, r.next_call_on or "", r.appointment_start))


def _row(
    conn: Transaction,
    patient_id: str,
    appointments: Sequence[Any],
    calls: Sequence[CallView],
    today: date,
) -> WorklistRow | None:
    ordered = sorted(appointments, key=lambda a: a.start_utc)
    first, latest = _instant(ordered[0].start_utc), _instant(ordered[-1].start_utc)
    if any(c.outcome in ENDS_LIST and _instant(c.called_at) >= latest for c in calls):
        return None
    attempts = sorted(  # in time order: a merged record's calls come from two charts
        (c for c in calls if _instant(c.called_at) >= first and c.outcome != REMOVED),
        key=lambda c: _instant(c.called_at),
    )
    last = attempts[-1] if attempts else None
    next_call = last.next_call_on if last else None
    patient = patient_index.get(conn, patient_id)
    return WorklistRow(
        patient_id=patient_id,
        patient_name=f"{patient.family}, {patient.given}" if patient else "?",
        phone=patient.phone if patient else None,
        appointment_id=ordered[-1].appointment_id,
        appointment_start=ordered[-1].start,
        missed="missed" if ordered[-1].status == "noshow" else "overdue",
        attempts=len(attempts),
        last_outcome=last.outcome if last else None,
        last_called_at=last.called_at if last else None,
        next_call_on=next_call,
        due=last is None or (next_call is not None and next_call <= today.isoformat()),
    )


def month_bounds(month: str) -> tuple[date, date]:
    """The first day of `month` (YYYY-MM) and of the month after. ValueError if malformed."""
    first = date.fromisoformat(f"{month}-01")
    if len(month) != 7:
        raise ValueError(month)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following


def returned_within_30_days(conn: Transaction, month: str) -> list[ReturnFigure]:
    """For the calls of `month` (by the call's own calendar day), per outcome: how many, and
    how many of their patients had an attended appointment or an encounter within 30 days
    after the call. Removals are not calls and do not count. Every outcome is listed."""
    first, following = month_bounds(month)
    calls = [
        c
        for c in call_items(conn)
        if c.outcome != REMOVED and first.isoformat() <= c.called_at[:10] < following.isoformat()
    ]
    visits = _visits(conn, {c.patient_id for c in calls})
    counts: dict[str, list[int]] = {o: [0, 0] for o in CALL_OUTCOMES}
    for call in calls:
        at = _instant(call.called_at)
        came = any(at < v <= at + RETURN_WINDOW for v in visits.get(call.patient_id, ()))
        tally = counts.setdefault(call.outcome, [0, 0])
        tally[0] += 1
        tally[1] += int(came)
    return [ReturnFigure(o, calls_, back) for o, (calls_, back) in counts.items()]


def _visits(conn: Transaction, patient_ids: set[str]) -> dict[str, list[datetime]]:
    """When each patient came: attended appointments and encounters (not in error)."""
    visits: dict[str, list[datetime]] = defaultdict(list)
    if patient_ids:
        for patient_id, at in call_rows.visits(conn, patient_ids):
            visits[patient_id].append(_instant(at))
    return visits
