"""Communication <-> a "call" item (CallAttemptRecorded / RemovedFromWorklist).

Why Communication and not Task: a call attempt is a record of a conversation that happened
(or was tried) at a time, with a person, about something -- Communication's `sent`, `subject`,
`about` and `status` (completed / not-done with a `statusReason`) say exactly that. A Task
would describe work still to do with an owner and a lifecycle (requested, in-progress, ...);
the "call again on" date is one date on the attempt, not a separate piece of work that other
systems would pick up, so it travels as an extension instead.

Written: status (completed when someone answered; not-done for no answer or wrong number,
with `statusReason` saying which), category (a FieldChart code: follow-up-call, or
worklist-removal for a removal from the call list, which is a not-done Communication whose
statusReason is the reason), medium PHONE (v3-ParticipationMode), subject and recipient the
Patient, `sent` the call time, `about` the Appointment it was about, `note` the staff's note,
and two FieldChart extensions: the outcome code and the next call date. Our identifier is
added by push like on every resource (sync/server_ids.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.common import (
    FIELDCHART,
    Base,
    Json,
    coding,
    concept_text,
    expect_kind,
    find_extension,
    mark_item,
    put,
    reference_to,
    referenced_id,
    set_extension,
    start_from,
    update_instant,
    update_reference,
    update_status,
    update_text_concept,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single

CATEGORY_SYSTEM = f"{FIELDCHART}:communication-category"
FOLLOW_UP_CALL = ("follow-up-call", "Follow-up call")
WORKLIST_REMOVAL = ("worklist-removal", "Removed from the follow-up call list")
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
PHONE = ("PHONE", "telephone")
EXT_OUTCOME = f"{FIELDCHART}:extension:call-outcome"
EXT_NEXT_CALL = f"{FIELDCHART}:extension:next-call-on"
OWNED = frozenset(
    {
        "status",
        "statusReason",
        "category",
        "medium",
        "subject",
        "recipient",
        "sent",
        "about",
        "note",
        "extension",
    }
)
CODES = frozenset(
    {
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    }
)
REMOVED = "removed"


def to_fhir_communication(patient_id: str, item: Item, base: Base) -> Json:
    """The Communication to PUT for a call item, starting from the server's copy."""
    expect_kind(item, "call")
    data = item.data
    removal = data.get("outcome") == REMOVED
    resource = start_from(base, "Communication", item.id)
    update_status(resource, "status", item, {}, "entered-in-error")
    mark_item(resource, item)
    if base is None:
        category = WORKLIST_REMOVAL if removal else FOLLOW_UP_CALL
        resource["category"] = [{"coding": [coding(CATEGORY_SYSTEM, *category)]}]
        if not removal:
            resource["medium"] = [{"coding": [coding(PARTICIPATION_MODE, *PHONE)]}]
    update_reference(resource, "subject", "Patient", patient_id)
    if not removal and not _recipients(resource):
        resource["recipient"] = [reference_to("Patient", patient_id)]
    update_instant(resource, "sent", data["removed_at"] if removal else data["called_at"])
    _update_about(resource, data.get("appointment_id"))
    reason = data.get("reason") if removal else _not_reached(data)
    update_text_concept(resource, "statusReason", reason)
    _update_note(resource, None if removal else data.get("note"))
    _set_value_extension(resource, EXT_OUTCOME, "valueCode", data.get("outcome"))
    _set_value_extension(resource, EXT_NEXT_CALL, "valueDate", data.get("next_call_on"))
    return resource


def _not_reached(data: Mapping[str, Any]) -> str | None:
    """statusReason of a not-done call: why nobody was reached."""
    outcome = data.get("outcome")
    return {"no-answer": "No answer", "wrong-number": "Wrong number"}.get(str(outcome))


def _recipients(resource: Mapping[str, Any]) -> list[Any]:
    found = resource.get("recipient")
    return list(found) if isinstance(found, list) else []


def _update_about(resource: Json, appointment_id: str | None) -> None:
    current = resource.get("about")
    entries = list(current) if isinstance(current, list) else []
    others = [e for e in entries if referenced_id(e, "Appointment") is None]
    ours = [reference_to("Appointment", appointment_id)] if appointment_id else []
    if [referenced_id(e, "Appointment") for e in entries if e not in others] == (
        [appointment_id] if appointment_id else []
    ):
        return
    put(resource, "about", ours + others)


def _update_note(resource: Json, text: str | None) -> None:
    current = resource.get("note")
    notes = list(current) if isinstance(current, list) else []
    first = notes[0].get("text") if notes and isinstance(notes[0], Mapping) else None
    if first == text:
        return
    rest = notes[1:] if notes else []
    put(resource, "note", ([{"text": text}] if text else []) + rest)


def _set_value_extension(resource: Json, url: str, key: str, value: str | None) -> None:
    current = find_extension(resource, url)
    if (current.get(key) if current else None) == value:
        return
    set_extension(resource, url, {"url": url, key: value} if value else None)


def is_call(resource: Mapping[str, Any]) -> bool:
    """True if a Communication is one of FieldChart's follow-up calls or removals."""
    return find_extension(resource, EXT_OUTCOME) is not None


def from_fhir_communication(resource: Mapping[str, Any]) -> RemoteItem:
    """A call item from a server Communication FieldChart wrote (others' are not modelled)."""
    r = Reader(resource, "Communication")
    code = r.code(resource.get("status"), "status", CODES)
    if code is None:
        r.fail("status", "is missing")
    patient_id = r.patient(resource.get("subject"))
    if not is_call(resource):
        r.unsupported("extension", "is not a FieldChart follow-up call")
    outcome_ext = find_extension(resource, EXT_OUTCOME) or {}
    outcome = r.string(outcome_ext.get("valueCode"), "extension(call-outcome)")
    next_ext = find_extension(resource, EXT_NEXT_CALL)
    next_call = r.date(next_ext.get("valueDate"), "extension(next-call-on)") if next_ext else None
    sent = r.recorded(resource.get("sent"), "sent")
    status, in_error, extra = r.status(code, {}, "entered-in-error", "completed")
    notes = r.array(resource.get("note"), "note")
    first = r.obj(notes[0], "note[0]") if notes else None
    note = first.get("text") if first else None
    abouts = r.array(resource.get("about"), "about")
    appointment = next(
        (i for i in (referenced_id(a, "Appointment") for a in abouts) if i is not None), None
    )
    data: dict[str, Any]
    if outcome == REMOVED:
        data = {
            "call_id": r.id,
            "reason": concept_text(resource.get("statusReason")) or "",
            "removed_at": sent,
            "outcome": REMOVED,
            "status": status,
        }
    else:
        data = {
            "call_id": r.id,
            "outcome": outcome,
            "status": status,
            "called_at": sent,
            "appointment_id": appointment,
            "note": note if isinstance(note, str) else None,
            "next_call_on": next_call,
        }
    data.update(extra)
    return single("call", "Communication", r.id, patient_id, r.version_id, status, in_error, data)
