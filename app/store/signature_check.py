"""Checking every event's signature and the role its author held at its log position.

Run after the hash chain was checked (EventLog.verify), which vouches that each row's chain
link is the one the row and its predecessors give. For every event after the vault's anchor
grant (app/store/role_grants.py) this checks:

- it has a signature, by a user who held an active key at that position, that matches;
- a command's event (a clinical or front-desk change to a chart) is attributed to its signer,
  with the role the grants gave the signer, and that role may issue it. An event re-decided by
  a rebase (metadata extra rebased=true) is written by whoever syncs, for the command's
  author: that author must have issued the same command earlier in the log;
- a grant follows from the grants before it.

Events before the anchor grant are "unsigned legacy" (written before this FieldChart). Events
the server vouches for (pulled versions, origin=server) and audit records are checked for a
valid signature only: any signed-in user may write them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from app.store import signatures
from app.store.event_log import EventLog
from app.store.role_grants import (
    GRANT_RECORD,
    GRANTS_STREAM,
    Grant,
    GrantRefused,
    GrantState,
    metadata_of,
)

CLINICAL_EVENTS = frozenset(
    {
        "EncounterStarted",
        "EncounterFinished",
        "VitalsRecorded",
        "DiagnosisRecorded",
        "DiagnosisResolved",
        "AllergyRecorded",
        "AllergyStatusChanged",
        "MedicationPrescribed",
        "MedicationDiscontinued",
        "MedicationDoseChanged",
        "NoteAdded",
        "TestResultRecorded",
        "ProtocolSuggestionDeclined",
    }
)
# Events of commands a clinician or the front desk (staff) may issue (app/domain/commands.py).
FRONT_DESK_EVENTS = frozenset(
    {
        "PatientRegistered",
        "DemographicsUpdated",
        "SyncConflictResolved",
        "AppointmentScheduled",
        "AppointmentRescheduled",
        "AppointmentCancelled",
        "AppointmentAttended",
        "AppointmentMissed",
        "EnteredInError",
        "CallAttemptRecorded",
        "RemovedFromWorklist",
    }
)
# Not listed: PatientMerged and MergeUndone. Sync records them too, when another device's
# merge arrives as a Patient.link (app/domain/merge.py), like a received version; a merge
# recorded here had its role checked by decide (staff only for demographics-only records).
ALLOWED_ROLES: Mapping[str, frozenset[str]] = {
    **{name: frozenset({"clinician"}) for name in CLINICAL_EVENTS},
    **{name: frozenset({"clinician", "staff"}) for name in FRONT_DESK_EVENTS},
}
_SELECT = (
    "SELECT e.position, e.type, e.metadata, e.chain, e.stream_id, s.signer, s.signature "
    "FROM events e LEFT JOIN event_signatures s ON s.position = e.position "
)
# Two look-ups rather than one with OR, so each uses its index (position; stream).
_GRANTS_UP_TO = _SELECT + "WHERE e.stream_id = ? AND e.position <= ? ORDER BY e.position"
_AFTER = _SELECT + "WHERE e.position > ? ORDER BY e.position"


@dataclass
class SignatureReport:
    signed: int = 0  # events after the baseline whose signature and role checked
    legacy: int = 0  # unsigned events written before the baseline
    baseline_position: int | None = None  # of the anchor grant; None: not migrated yet
    anchor: str | None = None  # fingerprint of the trust anchor
    problems: list[tuple[int, str]] = field(default_factory=list)  # (position, what)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Walk:
    def __init__(
        self, vault_id: str, state: GrantState, report: SignatureReport, authors: bool
    ) -> None:
        self.vault_id = vault_id
        self.check_authors = authors
        self.state = state
        self.report = report
        self.authors: dict[str, set[str]] = {}  # command id -> who issued it

    def problem(self, position: int, what: str) -> None:
        self.report.problems.append((position, f"event at position {position} {what}"))

    def signature_ok(
        self, position: int, link: bytes, signer: str | None, signature: bytes | None, key: Any
    ) -> bool:
        if signer is None or signature is None:
            self.problem(position, "is not signed (its signature was removed)")
            return False
        if key is None:
            self.problem(position, f"is signed by '{signer}', who held no active key there")
            return False
        message = signatures.event_message(self.vault_id, signer, position, link)
        if not signatures.is_valid(key, message, signature):
            self.problem(
                position,
                f"has a signature that does not match it (signer '{signer}'): it or an earlier "
                "event was altered, or the signature was copied from another event",
            )
            return False
        return True

    def grant(self, row: Any, payload: Mapping[str, Any] | None) -> None:
        position, signer = int(row[0]), row[5]
        if payload is None:
            self.problem(position, "is a grant outside the vault's grant stream")
            return
        try:
            grant = Grant.from_payload(payload)
        except GrantRefused as exc:
            self.problem(position, f"is a refused grant: {exc}")
            return
        key = None if signer is None else self.state.signing_key_of(grant, signer)
        if not self.signature_ok(position, bytes(row[3]), signer, row[6], key):
            return
        try:
            self.state.apply(grant, signer)
        except GrantRefused as exc:
            self.problem(position, f"is a refused grant ({grant.action} '{grant.user}'): {exc}")
            return
        if self.report.baseline_position is None:
            self.report.baseline_position = position
        self.report.signed += 1

    def event(self, row: Any) -> None:
        position, type_, signer = int(row[0]), str(row[1]), row[5]
        meta = metadata_of(row[2])
        command_id, user = str(meta.get("command_id", "")), str(meta.get("user", ""))
        if not self.state.started:
            self.report.legacy += 1
            self.authors.setdefault(command_id, set()).add(user)
            return
        key = None if signer is None else self.state.key_of(signer)
        if not self.signature_ok(position, bytes(row[3]), signer, row[6], key):
            return
        allowed = ALLOWED_ROLES.get(type_)
        if (
            self.check_authors
            and allowed is not None
            and not self.author_ok(position, type_, signer, meta, allowed)
        ):
            return
        self.authors.setdefault(command_id, set()).add(signer)
        self.report.signed += 1

    def author_ok(
        self,
        position: int,
        type_: str,
        signer: str,
        meta: Mapping[str, Any],
        allowed: frozenset[str],
    ) -> bool:
        user, role = str(meta.get("user", "")), str(meta.get("role", ""))
        extra = meta.get("extra") or {}
        if isinstance(extra, dict) and extra.get("rebased") == "true":
            if user in self.authors.get(str(meta.get("command_id", "")), set()):
                return True
            self.problem(position, f"re-decides a command '{user}' never issued before it")
            return False
        held = self.state.principals[signer].role
        if user != signer:
            self.problem(position, f"is attributed to '{user}' but signed by '{signer}'")
        elif held not in allowed:
            self.problem(position, f"is a {type_} by '{signer}', whose role {held} may not")
        elif role != held:
            self.problem(position, f"claims the role {role}, but '{signer}' held {held}")
        else:
            return True
        return False


def check_signatures(
    conn: Connection,
    log: EventLog,
    vault_id: str,
    anchor: bytes | None,
    first_admin: str,
    from_position: int = 0,
    genesis_recovery: bytes | None = None,
    *,
    authors: bool = True,
) -> tuple[SignatureReport, GrantState]:
    """Signatures and roles of every event after `from_position` (and every grant, which
    decide who may sign); the grant rows are authenticated against the chain first. Without
    `authors`, only signatures and grants (unlock: whom a command is attributed to is
    `verify`'s business; the session's own role comes from the grants either way)."""
    log.authenticate(conn, GRANTS_STREAM)  # TamperError if a grant row was altered
    payloads = {r.position: r.payload for r in log.read_stream(GRANTS_STREAM, conn)}
    state = GrantState(anchor, first_admin, genesis_recovery)
    report = SignatureReport(anchor=signatures.fingerprint(anchor) if anchor else None)
    if state.started:  # created with signing keys: signed from its first event
        report.baseline_position = 0
    walk = _Walk(vault_id, state, report, authors)
    earlier = conn.exec_driver_sql(_GRANTS_UP_TO, (GRANTS_STREAM, from_position))
    for row in itertools.chain(earlier, conn.exec_driver_sql(_AFTER, (from_position,))):
        if row[1] == GRANT_RECORD:
            walk.grant(row, payloads.get(int(row[0])) if row[4] == GRANTS_STREAM else None)
        elif int(row[0]) > from_position:
            walk.event(row)
    return report, state


def users_table_mismatches(conn: Connection, state: GrantState) -> list[str]:
    """Where the (editable) users table disagrees with the signed grants."""
    if not state.started:
        return []
    found: list[str] = []
    rows = conn.exec_driver_sql("SELECT name, role, disabled FROM users ORDER BY name").all()
    for name, role, disabled in rows:
        principal = state.principals.get(name)
        if principal is None:
            found.append(f"the users table lists '{name}', whom no signed grant added")
        elif principal.role != role:
            found.append(
                f"the users table gives '{name}' the role {role}; the signed grants give "
                f"{principal.role}"
            )
        elif bool(disabled) != principal.disabled:
            state_word = "disabled" if principal.disabled else "active"
            found.append(
                f"the users table disagrees with the signed grants: '{name}' is {state_word}"
            )
    return found
