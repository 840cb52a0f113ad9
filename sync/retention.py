"""Who leaves the device (issue 14): patients held here that are out of the device's scope.

Run at the end of a sync cycle (`apply_retention`). A patient leaves when

- **transferred**: a membership check (at most daily, and at once after a re-scope) finds the
  server no longer counts them in the device's Organization (`Patient?organization=
  Organization/<id>`, ids only, paged) or Group (`GET Group/<id>`, its active members);
- **re-scoped**: the device's scope changed and the new one does not hold them;
- **visit ended**: a patient from elsewhere (`scope_visiting`) with no open encounter and no
  activity on the device for `visit_days` (default VISIT_DAYS, IT can set another).

Removal happens only when nothing of theirs is pending (app/services/retention.py); otherwise
they are kept, the report says why, and every later cycle tries again (no server query) until
they go or the next membership check finds them back in scope. The report is kept in the
sync journal (`retention_report`) for `status`; it holds ids, reasons and counts, never
patient data.
A device with no membership scope (pull everything, or an enrolment from before scopes)
removes nobody. Patients removed here who come back into scope are pulled again whole
(`refetch`, the pull's `pull_patients`), since the watermarks have passed their old resources.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.i18n import _
from app.services.clinic import Clinic
from app.services.retention import Leaving, RetentionService
from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError
from sync.scope import SyncScope

log = logging.getLogger(__name__)

VISITING_KEY = "scope_visiting"  # {server id: {"local_id": ..., "since": ...}} (remote_patients)
REPORT_KEY = "retention_report"
CHECK_KEY = "retention_membership"  # {"at": instant of the last check, "scope": what it used}
LEAVING_KEY = "retention_leaving"  # {our patient id: reason}: should leave, something held
REMOVED_KEY = "retention_removed"  # {server id: {"local_id": ..., "at": ...}}
MEMBERSHIP_EVERY = timedelta(days=1)
VISIT_DAYS = 30
PAGE_SIZE = "1000"

TRANSFERRED = "transferred: no longer a patient of this facility on the server"
RESCOPED = "outside the device's scope (first check, or the scope changed)"
VISIT_ENDED = "visit ended: no open encounter and no activity for {days} days"
EMPTY_MEMBERSHIP = (
    "the server counts no patient in {scope}; nobody was removed for it (check the scope and "
    "the device's access on the server)"
)


class Journal(Protocol):
    """What retention needs of the sync gateway: the sync journal."""

    def journal(self, key: str) -> Any: ...

    def set_journal(self, key: str, value: Any) -> None: ...

    def update_journal(self, key: str, change: Callable[[Any], Any]) -> Any: ...


@dataclass(frozen=True)
class RetentionEntry:
    patient_id: str
    server_id: str | None
    reason: str
    held_by: tuple[str, ...] = ()  # what keeps a patient who should have left

    def to_json(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "server_id": self.server_id,
            "reason": self.reason,
            "held_by": list(self.held_by),
        }


@dataclass(frozen=True)
class RetentionReport:
    at: str
    scope: str | None  # the membership source, None when the device has none
    membership_checked: bool
    members: int | None
    removed: tuple[RetentionEntry, ...] = ()
    kept: tuple[RetentionEntry, ...] = ()
    refetched: tuple[str, ...] = ()  # server ids of removed patients back in scope, pulled again
    problem: str = ""  # why the membership could not be checked this time
    visiting: int = 0  # patients from elsewhere still here

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "scope": self.scope,
            "membership_checked": self.membership_checked,
            "members": self.members,
            "removed": [e.to_json() for e in self.removed],
            "kept": [e.to_json() for e in self.kept],
            "refetched": list(self.refetched),
            "problem": self.problem,
            "visiting": self.visiting,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetentionReport:
        def entries(key: str) -> tuple[RetentionEntry, ...]:
            return tuple(
                RetentionEntry(
                    e["patient_id"], e.get("server_id"), e["reason"], tuple(e.get("held_by") or ())
                )
                for e in data.get(key) or []
            )

        return cls(
            at=data["at"],
            scope=data.get("scope"),
            membership_checked=bool(data.get("membership_checked")),
            members=data.get("members"),
            removed=entries("removed"),
            kept=entries("kept"),
            refetched=tuple(data.get("refetched") or ()),
            problem=str(data.get("problem") or ""),
            visiting=int(data.get("visiting") or 0),
        )

    @property
    def eventful(self) -> bool:
        """Whether this run checked, removed, kept, pulled back or hit a problem."""
        return bool(
            self.membership_checked or self.removed or self.kept or self.refetched or self.problem
        )

    def lines(self) -> list[str]:
        """What `status` shows a person: counts, then each patient by id with the reason."""
        if self.scope is None:
            return [_("Retention: this device has no facility scope; no patient is removed.")]
        if self.membership_checked:
            head = _(
                "Retention ({at}): removed {removed}, kept {kept}; {members} patients of "
                "{scope} on the server."
            ).format(
                at=self.at,
                removed=len(self.removed),
                kept=len(self.kept),
                members=self.members,
                scope=self.scope,
            )
        else:
            head = _("Retention ({at}): removed {removed}, kept {kept}.").format(
                at=self.at, removed=len(self.removed), kept=len(self.kept)
            )
        out = [head]
        if self.problem:
            out.append(_("  Membership not checked: {problem}").format(problem=self.problem))
        out += [
            _("  removed {patient}: {reason}").format(patient=e.patient_id, reason=e.reason)
            for e in self.removed
        ]
        out += [
            _("  kept {patient}: {reason}; kept because of {holds}").format(
                patient=e.patient_id, reason=e.reason, holds=", ".join(e.held_by)
            )
            for e in self.kept
        ]
        return out


def latest_retention_report(journal: Journal) -> RetentionReport | None:
    """The report of the last retention run (for `status`), or None before the first."""
    data = journal.journal(REPORT_KEY)
    return None if not isinstance(data, dict) else RetentionReport.from_json(data)


@dataclass
class _Run:
    now: datetime
    local: dict[str, str | None]  # our patient id -> server id
    visiting: dict[str, dict[str, Any]]
    leaving: dict[str, Leaving] = field(default_factory=dict)  # by our patient id
    gone_visitors: set[str] = field(default_factory=set)  # visiting entries to drop


def apply_retention(
    retention: RetentionService,
    journal: Journal,
    client: FhirClient,
    scope: SyncScope,
    clock: Callable[[], datetime],
    *,
    visit_days: int = VISIT_DAYS,
    refetch: Callable[[list[str]], object] | None = None,
) -> RetentionReport:
    """Remove the patients out of `scope` with nothing pending, keep the others with the
    reason, store and return the report. Never raises for a server problem: the membership
    is then left for the next cycle and the report says so."""
    now = clock()
    source = scope.organization or scope.group
    if scope.everything or source is None:
        report = RetentionReport(now.isoformat(timespec="seconds"), None, False, None)
        previous = latest_retention_report(journal)
        if previous is None or previous.scope is not None:  # once, not every cycle
            journal.set_journal(REPORT_KEY, report.to_json())
        return report
    visiting = dict(journal.journal(VISITING_KEY) or {})
    members, problem, rescoped = _membership_if_due(journal, client, source, now)
    if members is None and not problem and not visiting and not journal.journal(LEAVING_KEY):
        # Most cycles: no check due, nobody waiting to leave, no visitor: nothing to read.
        return RetentionReport(
            now.isoformat(timespec="seconds"), source, False, None, visiting=len(visiting)
        )
    local = retention.local_patients()
    # Read again after the patients held here: a patient brought here from elsewhere is
    # recorded as visiting before their record arrives, so every visitor among `local` is in
    # this copy and none of them is mistaken for one who left the facility.
    visiting = dict(journal.journal(VISITING_KEY) or {})
    run = _Run(now, local, visiting)
    if members is not None and not members and any(run.local.values()):
        # An empty answer while we hold the facility's patients is far likelier a server or
        # permission problem than a facility with no patients left: remove nobody for it.
        members, problem = None, EMPTY_MEMBERSHIP.format(scope=source)
    if members is not None:
        _leaving_by_membership(run, members, RESCOPED if rescoped else TRANSFERRED)
    else:  # those a check found leaving but something held: tried again every cycle
        for patient_id, reason in dict(journal.journal(LEAVING_KEY) or {}).items():
            if patient_id in run.local:
                run.leaving[patient_id] = Leaving(patient_id, str(reason))
    _leaving_visitors(run, retention, members, visit_days)
    outcome = retention.remove(list(run.leaving.values()))
    removed = tuple(RetentionEntry(p.patient_id, p.server_id, p.reason) for p in outcome.removed)
    kept = tuple(
        RetentionEntry(k.patient_id, k.server_id, k.reason, k.held_by) for k in outcome.kept
    )
    journal.set_journal(LEAVING_KEY, {k.patient_id: k.reason for k in outcome.kept})
    _forget_visitors(journal, run, [e.server_id for e in removed if e.server_id])
    refetched = _remember_removed(journal, removed, members, run, refetch)
    if members is not None:
        journal.set_journal(CHECK_KEY, {"at": now.isoformat(), "scope": source})
    report = RetentionReport(
        at=now.isoformat(timespec="seconds"),
        scope=source,
        membership_checked=members is not None,
        members=None if members is None else len(members),
        removed=removed,
        kept=kept,
        refetched=refetched,
        problem=problem,
        visiting=len(journal.journal(VISITING_KEY) or {}),
    )
    if report.eventful or journal.journal(REPORT_KEY) is None:
        # A quiet cycle (most of them) keeps the last report that said something for status.
        journal.set_journal(REPORT_KEY, report.to_json())
    return report


def _membership_if_due(
    journal: Journal, client: FhirClient, source: str, now: datetime
) -> tuple[set[str] | None, str, bool]:
    """(server ids of the scope's patients, or None when not due or not possible; the
    problem; whether the scope changed since the last check)."""
    last = journal.journal(CHECK_KEY) or {}
    # The first check of a device, or one after the settings named another scope: those not
    # in it leave because of the scope, not because the server moved them.
    rescoped = last.get("scope") != source
    at = last.get("at")
    # (A check "from the future" was made by a clock since set back: check again.)
    if at and not rescoped and timedelta(0) <= now - datetime.fromisoformat(at) < MEMBERSHIP_EVERY:
        return None, "", False
    try:
        return set(_members(client, source)), "", rescoped
    except FhirError as exc:
        log.info("retention: the membership check failed (%s)", type(exc).__name__)
        return None, f"the server did not answer the membership query ({exc})", rescoped


def _members(client: FhirClient, source: str) -> Iterable[str]:
    kind, _sep, ident = source.partition("/")
    if kind == "Group":
        group = client.read("Group", ident)
        for member in [] if group is None else group.resource.get("member") or []:
            reference = (member.get("entity") or {}).get("reference") or ""
            if reference.startswith("Patient/") and not member.get("inactive"):
                yield reference.removeprefix("Patient/")
        return
    # The typed reference: the real server matches nothing with a bare id.
    params = {"organization": source, "_elements": "id", "_count": PAGE_SIZE}
    for page in client.iter_pages("Patient", params):
        for entry in page.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and isinstance(resource.get("id"), str):
                yield resource["id"]


def _leaving_by_membership(run: _Run, members: set[str], reason: str) -> None:
    for patient_id, server_id in run.local.items():
        # Not on the server yet: its registration is pending, nothing to compare.
        if server_id is None or server_id in members or server_id in run.visiting:
            continue
        run.leaving[patient_id] = Leaving(patient_id, reason)


def _leaving_visitors(
    run: _Run, retention: RetentionService, members: set[str] | None, visit_days: int
) -> None:
    for server_id, entry in list(run.visiting.items()):
        patient_id = str(entry.get("local_id") or "")
        since = datetime.fromisoformat(str(entry.get("since") or run.now.isoformat()))
        if members is not None and server_id in members:
            run.gone_visitors.add(server_id)  # one of ours now
            continue
        if patient_id not in run.local:
            # Being brought here right now (recorded before the record arrives), or a fetch
            # that failed: the pull brings visitors, so only a stale entry is dropped.
            if run.now - since >= timedelta(days=visit_days):
                run.gone_visitors.add(server_id)
            continue
        active = retention.last_activity(patient_id)
        last = max(since, active) if active is not None else since
        if run.now - last < timedelta(days=visit_days):
            continue
        if retention.has_open_encounter(patient_id):
            continue
        run.leaving[patient_id] = Leaving(patient_id, VISIT_ENDED.format(days=visit_days))


def _forget_visitors(journal: Journal, run: _Run, removed_server_ids: list[str]) -> None:
    """Drop only the entries this run decided on: one recorded meanwhile stays."""
    gone = run.gone_visitors | set(removed_server_ids)
    if gone & set(run.visiting):
        journal.update_journal(
            VISITING_KEY, lambda kept: {k: v for k, v in (kept or {}).items() if k not in gone}
        )


def _remember_removed(
    journal: Journal,
    removed: tuple[RetentionEntry, ...],
    members: set[str] | None,
    run: _Run,
    refetch: Callable[[list[str]], object] | None,
) -> tuple[str, ...]:
    """Keep the server ids of removed patients; those the membership counts again (and not
    here) are pulled again whole through `refetch`, then forgotten."""
    known: dict[str, Any] = dict(journal.journal(REMOVED_KEY) or {})
    for entry in removed:
        if entry.server_id:
            known[entry.server_id] = {"local_id": entry.patient_id, "at": run.now.isoformat()}
    back: list[str] = []
    gone = {entry.patient_id for entry in removed}
    here = {s for pid, s in run.local.items() if s and pid not in gone}
    for server_id in [s for s in known if s in here]:
        known.pop(server_id)  # back already (the pull brought them): nothing to remember
    if members is not None:
        back = sorted(s for s in known if s in members)
        if back and refetch is not None:
            try:
                refetch(back)
            except FhirError as exc:
                log.info("retention: pulling returning patients failed (%s)", type(exc).__name__)
                back = []
        elif refetch is None:
            back = []
        for server_id in back:
            known.pop(server_id, None)
    journal.set_journal(REMOVED_KEY, known)
    return tuple(back)


def retention_hook(
    clinic: Clinic, client: FhirClient, visit_days: int = VISIT_DAYS
) -> Callable[[SyncScope, Callable[[list[str]], object]], list[str]]:
    """What SyncEngine's `retention` takes: run at the end of a cycle with the cycle's scope
    and `pull_patients`; returns the server ids of the patients removed (the puller forgets
    them)."""
    service = RetentionService(clinic.vault, clinic.runner, clinic.clock)

    def run(scope: SyncScope, pull_patients: Callable[[list[str]], object]) -> list[str]:
        report = apply_retention(
            service,
            clinic.sync_gateway,
            client,
            scope,
            clinic.clock,
            visit_days=visit_days,
            refetch=pull_patients,
        )
        return [entry.server_id for entry in report.removed if entry.server_id]

    return run
