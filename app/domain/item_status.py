"""What each event does to a chart item: the one table the domain fold (`chart.evolve`), the
read models (`chart_items`, `schedule`) and sync (`item_of`: which item, so which resource,
an event touches) all read, so the chart a command decides on, the chart a clinician sees
and what is pushed cannot drift apart.

An event either creates an item (`CREATES`: kind, id field, clinical-time field, initial
status; its whole payload is the item's data) or changes one (`CHANGES`: which item, the
status it sets or none, and the data fields it merges in). Events in neither table do not
touch items (patient events, audits, server versions; those have their own rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain import events as ev


@dataclass(frozen=True)
class Creates:
    """An event that adds an item: its whole payload becomes the item's data."""

    kind: str
    id_field: str
    time_field: str  # the payload field that is the item's clinical time
    status: str  # the status a new item starts with
    status_field: str | None = None  # ...unless this payload field holds it (a call's)


@dataclass(frozen=True)
class Changes:
    """An event that changes an existing item."""

    kind: str | None  # None: the payload field `kind_field` names the kind
    id_field: str
    status: str | None = None  # the status it sets; None leaves the status as it was
    status_field: str | None = None  # ...or the payload field holding the new status
    # item data key -> payload field merged into the item's data
    data: Mapping[str, str] = field(default_factory=dict)
    time_field: str | None = None  # a payload field that becomes the new clinical time
    marks_error: bool = False  # sets the item's entered-in-error flag
    kind_field: str | None = None


CREATES: Mapping[type[ev.DomainEvent], Creates] = {
    ev.EncounterStarted: Creates("encounter", "encounter_id", "started_at", "in-progress"),
    ev.VitalsRecorded: Creates("vitals", "vitals_id", "taken_at", "final"),
    ev.DiagnosisRecorded: Creates("diagnosis", "diagnosis_id", "recorded_at", "active"),
    ev.AllergyRecorded: Creates("allergy", "allergy_id", "recorded_at", "active"),
    ev.MedicationPrescribed: Creates("medication", "prescription_id", "prescribed_at", "active"),
    ev.NoteAdded: Creates("note", "note_id", "written_at", "current"),
    ev.TestResultRecorded: Creates("test_result", "result_id", "taken_at", "final"),
    ev.ImmunizationRecorded: Creates("immunization", "immunization_id", "given_at", "completed"),
    ev.AppointmentScheduled: Creates("appointment", "appointment_id", "start", "booked"),
    ev.PatientReferred: Creates("referral", "referral_id", "referred_at", "active"),
    # A follow-up call: "completed" (someone was reached) or "not-done", per its outcome.
    ev.CallAttemptRecorded: Creates("call", "call_id", "called_at", "completed", "status"),
    ev.RemovedFromWorklist: Creates("call", "call_id", "removed_at", "not-done", "status"),
}

CHANGES: Mapping[type[ev.DomainEvent], Changes] = {
    ev.EncounterFinished: Changes(
        "encounter", "encounter_id", "finished", data={"finished_at": "finished_at"}
    ),
    ev.DiagnosisResolved: Changes(
        "diagnosis", "diagnosis_id", "resolved", data={"resolved_at": "resolved_at"}
    ),
    ev.AllergyStatusChanged: Changes("allergy", "allergy_id", status_field="status"),
    ev.MedicationDoseChanged: Changes(
        "medication",
        "prescription_id",
        data={"dose": "dose", "dose_unit": "dose_unit", "frequency": "frequency"},
    ),
    ev.MedicationDiscontinued: Changes(
        "medication",
        "prescription_id",
        "stopped",
        data={"discontinued_at": "discontinued_at", "discontinue_reason": "reason"},
    ),
    ev.AppointmentRescheduled: Changes(
        "appointment", "appointment_id", data={"start": "start", "end": "end"}, time_field="start"
    ),
    # The reason travels with the item: the push of this cancellation carries it.
    ev.AppointmentCancelled: Changes(
        "appointment", "appointment_id", "cancelled", data={"cancel_reason": "reason"}
    ),
    ev.AppointmentAttended: Changes("appointment", "appointment_id", "fulfilled"),
    ev.AppointmentMissed: Changes("appointment", "appointment_id", "noshow"),
    # FHIR request-status "revoked"; when and why travel with the item (its push carries them).
    ev.ReferralCancelled: Changes(
        "referral",
        "referral_id",
        "revoked",
        data={"status_changed_at": "cancelled_at", "status_reason": "reason"},
    ),
    # The status stays: an entered-in-error item keeps what it was, flagged.
    ev.EnteredInError: Changes(
        None,
        "item_id",
        data={"entered_in_error_reason": "reason"},
        marks_error=True,
        kind_field="item_kind",
    ),
}

# Each kind's clinical-time field (what a server version's data is dated by).
# "other" items (records other systems wrote) are only received, never created here.
TIME_FIELD: Mapping[str, str] = {
    **{c.kind: c.time_field for c in CREATES.values()},
    "other": "date",
}


@dataclass(frozen=True)
class ItemCreated:
    """A new item, as `CREATES` describes it for one event."""

    kind: str
    item_id: str
    status: str
    clinical_time: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ItemChanged:
    """What one event changes on an existing item, as `CHANGES` describes it."""

    kind: str
    item_id: str
    status: str | None
    data: dict[str, Any]
    clinical_time: str | None
    entered_in_error: bool


def created_by(event: ev.DomainEvent, payload: dict[str, Any] | None = None) -> ItemCreated | None:
    """The item `event` creates, if it creates one. Its data is `payload` when given (a
    caller that only serialises it may pass the payload uncopied), else a fresh copy."""
    spec = CREATES.get(type(event))
    if spec is None:
        return None
    if payload is None:
        payload = event.to_payload()
    status = spec.status if spec.status_field is None else payload[spec.status_field]
    return ItemCreated(spec.kind, payload[spec.id_field], status, payload[spec.time_field], payload)


def changed_by(event: ev.DomainEvent) -> ItemChanged | None:
    """What `event` changes on an existing item, if it changes one."""
    spec = CHANGES.get(type(event))
    if spec is None:
        return None
    status = spec.status if spec.status_field is None else getattr(event, spec.status_field)
    return ItemChanged(
        kind=_kind(spec, event),
        item_id=getattr(event, spec.id_field),
        status=status,
        data={key: getattr(event, name) for key, name in spec.data.items()},
        clinical_time=None if spec.time_field is None else getattr(event, spec.time_field),
        entered_in_error=spec.marks_error,
    )


def item_of(event: ev.DomainEvent) -> tuple[str, str] | None:
    """(kind, item id) of the item `event` creates or changes, if any (sync: which resource
    the event touches)."""
    created = CREATES.get(type(event))
    if created is not None:
        return created.kind, str(getattr(event, created.id_field))
    spec = CHANGES.get(type(event))
    if spec is None:
        return None
    return _kind(spec, event), str(getattr(event, spec.id_field))


def _kind(spec: Changes, event: ev.DomainEvent) -> str:
    return spec.kind or str(getattr(event, spec.kind_field or ""))
