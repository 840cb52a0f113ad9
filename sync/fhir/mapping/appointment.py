"""Appointment <-> an appointment item (AppointmentScheduled and what follows it).

The patient and the clinician are participants; the clinician is a FieldChart user, so their
participant names them by display only (there is no Practitioner resource for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.common import (
    PARTICIPATION_TYPE,
    Base,
    Json,
    coding,
    concept_text,
    expect_kind,
    mark_item,
    parse_reference,
    reference_to,
    referenced_id,
    start_from,
    update_first_text_concept,
    update_instant,
    update_status,
    update_text_concept,
    update_value,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single
from sync.fhir.mapping.times import instant_key, parse_instant

# In `participant`, ours are the patient and the first clinician; others are kept.
OWNED = frozenset(
    {
        "status",
        "start",
        "end",
        "minutesDuration",
        "participant",
        "reasonCode",
        "cancelationReason",
        "extension",
    }
)
CODES = frozenset(
    {
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    }
)
EQUIVALENTS = {"arrived": "booked", "checked-in": "booked"}
_NOT_CLINICIANS = frozenset(
    {"Patient", "Location", "Device", "HealthcareService", "RelatedPerson", "Group"}
)


def to_fhir_appointment(patient_id: str, item: Item, base: Base) -> Json:
    """The Appointment to PUT for an appointment item, starting from the server's copy."""
    expect_kind(item, "appointment")
    data = item.data
    resource = start_from(base, "Appointment", item.id)
    update_status(resource, "status", item, EQUIVALENTS, "entered-in-error")
    mark_item(resource, item)
    moved = any(instant_key(resource.get(k)) != instant_key(data[k]) for k in ("start", "end"))
    update_instant(resource, "start", data["start"])
    update_instant(resource, "end", data["end"])
    start, end = parse_instant(data["start"]), parse_instant(data["end"])
    # minutesDuration follows start and end; another system's copy without one stays so
    if start and end and (base is None or moved or "minutesDuration" in resource):
        update_value(resource, "minutesDuration", int((end - start).total_seconds() // 60))
    _update_participants(resource, patient_id, data["clinician"])
    if _reason(resource) != data.get("reason"):
        update_first_text_concept(resource, "reasonCode", data.get("reason"))
    # app-4: a cancelation reason only on cancelled or no-show appointments
    keeps_reason = not item.entered_in_error and item.status in ("cancelled", "noshow")
    update_text_concept(
        resource, "cancelationReason", data.get("cancel_reason") if keeps_reason else None
    )
    return resource


def _reason(resource: Mapping[str, Any]) -> str | None:
    reasons = resource.get("reasonCode")
    found = concept_text(reasons[0]) if isinstance(reasons, list) and reasons else None
    description = resource.get("description")
    return found or (description if isinstance(description, str) and description else None)


def _actor(participant: Any) -> Mapping[str, Any]:
    actor = participant.get("actor") if isinstance(participant, Mapping) else None
    return actor if isinstance(actor, Mapping) else {}


def _patient_of(participants: list[Any]) -> str | None:
    return next(filter(None, (referenced_id(_actor(p), "Patient") for p in participants)), None)


def _clinician_index(participants: list[Any]) -> int | None:
    for i, participant in enumerate(participants):
        actor = _actor(participant)
        parsed = parse_reference(actor.get("reference"))
        if parsed is not None and parsed[0] not in _NOT_CLINICIANS:
            return i
        if parsed is None and isinstance(actor.get("display"), str) and actor["display"]:
            return i
    return None


def _clinician_name(participant: Any) -> str | None:
    actor = _actor(participant)
    display = actor.get("display")
    if isinstance(display, str) and display:
        return display
    reference = actor.get("reference")
    return reference if isinstance(reference, str) and reference else None


def _update_participants(resource: Json, patient_id: str, clinician: str) -> None:
    current = resource.get("participant")
    participants = list(current) if isinstance(current, list) else []
    if not any(referenced_id(_actor(p), "Patient") == patient_id for p in participants):
        participants.insert(0, {"actor": reference_to("Patient", patient_id), "status": "accepted"})
    index = _clinician_index(participants)
    if index is None or _clinician_name(participants[index]) != clinician:
        ours = {
            "type": [{"coding": [coding(PARTICIPATION_TYPE, "PPRF", "primary performer")]}],
            "actor": {"display": clinician},
            "status": "accepted",
        }
        if index is None:
            participants.append(ours)
        else:
            participants[index] = ours
    resource["participant"] = participants


def from_fhir_appointment(resource: Mapping[str, Any]) -> RemoteItem:
    """An appointment item from a server Appointment."""
    r = Reader(resource, "Appointment")
    code = r.code(resource.get("status"), "status", CODES)
    if code is None:
        r.fail("status", "is missing")
    participants = r.array(resource.get("participant"), "participant")
    for i, participant in enumerate(participants):
        entry = r.obj(participant, f"participant[{i}]") or {}
        r.obj(entry.get("actor"), f"participant[{i}].actor")
    patient_id = _patient_of(participants)
    if patient_id is None:
        r.unsupported("participant", "names no patient")
    index = _clinician_index(participants)
    if index is None:
        r.unsupported("participant", "names no clinician")
    start = r.instant(resource.get("start"), "start")
    end = r.instant(resource.get("end"), "end")
    if start is None or end is None:
        r.unsupported("start/end", "is missing; the schedule needs both")
    for i, reason in enumerate(r.array(resource.get("reasonCode"), "reasonCode")):
        r.concept(reason, f"reasonCode[{i}]")
    cancel = r.concept(resource.get("cancelationReason"), "cancelationReason")
    inferred = "cancelled" if cancel else "booked"
    status, in_error, extra = r.status(code, EQUIVALENTS, "entered-in-error", inferred)
    data: dict[str, Any] = {
        "appointment_id": r.id,
        "clinician": _clinician_name(participants[index]),
        "start": start,
        "end": end,
        "reason": _reason(resource),
    }
    if cancel is not None:
        data["cancel_reason"] = concept_text(cancel)
    data.update(extra)
    return single(
        "appointment", "Appointment", r.id, patient_id, r.version_id, status, in_error, data
    )
