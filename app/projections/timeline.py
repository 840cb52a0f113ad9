"""Timeline: every change to a chart, with who and when, newest first; items later marked
entered-in-error stay (struck through in the UI) with a flag."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    select,
)

from app.domain import events as ev
from app.domain.other_records import READ_ONLY_KIND, describe_other
from app.domain.poc_tests import result_text
from app.domain.reference import vitals_line
from app.projections.base import Writes, in_time_order, in_time_order_sql, metadata, patient_of
from app.store.database import fetch_rows
from app.store.event_log import RecordedEvent

entries = Table(
    "tl_entries",
    metadata,
    Column("position", Integer, nullable=False),
    Column("patient_id", String, nullable=False),
    Column("occurred_at", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("user", String, nullable=False),
    Column("role", String, nullable=False),
    Column("type", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("item_id", String),
    Column("text", Text, nullable=False),
    Column("entered_in_error", Boolean, nullable=False, default=False),
    # Clustered by patient (WITHOUT ROWID, patient first): one chart's entries share pages.
    PrimaryKeyConstraint("patient_id", "position"),
    Index("ix_tl_entries_item", "item_id"),
    sqlite_with_rowid=False,
)


def _n(x: float) -> str:
    return f"{x:g}"


@singledispatch
def describe(event: ev.DomainEvent) -> tuple[str, str | None, str]:
    """(kind, item id, one-line text) for a timeline entry."""
    return "other", None, type(event).__name__


@describe.register
def _(e: ev.PatientRegistered) -> tuple[str, str | None, str]:
    return "patient", None, f"Registered {e.given} {e.family}, born {e.birth_date}, {e.sex}"


@describe.register
def _(e: ev.DemographicsUpdated) -> tuple[str, str | None, str]:
    parts = [
        f"{k.replace('_', ' ')}: {e.previous.get(k) or '—'} → {v or '—'}"
        for k, v in sorted(e.changes.items())
    ]
    return "patient", None, "Demographics changed: " + "; ".join(parts)


@describe.register
def _(e: ev.EncounterStarted) -> tuple[str, str | None, str]:
    return "encounter", e.encounter_id, "Encounter started" + (f": {e.reason}" if e.reason else "")


@describe.register
def _(e: ev.EncounterFinished) -> tuple[str, str | None, str]:
    return "encounter", e.encounter_id, "Encounter finished"


@describe.register
def _(e: ev.VitalsRecorded) -> tuple[str, str | None, str]:
    return "vitals", e.vitals_id, "Vitals: " + vitals_line(e.measurements, e.bmi)


@describe.register
def _(e: ev.DiagnosisRecorded) -> tuple[str, str | None, str]:
    code = f"{e.code} " if e.code else ""
    return "diagnosis", e.diagnosis_id, f"Diagnosis: {code}{e.text}"


@describe.register
def _(e: ev.DiagnosisResolved) -> tuple[str, str | None, str]:
    return "diagnosis", e.diagnosis_id, "Diagnosis resolved"


@describe.register
def _(e: ev.AllergyRecorded) -> tuple[str, str | None, str]:
    extra = ", ".join(x for x in (e.reaction, e.severity, f"criticality {e.criticality}") if x)
    return "allergy", e.allergy_id, f"Allergy: {e.substance} ({extra})"


@describe.register
def _(e: ev.AllergyStatusChanged) -> tuple[str, str | None, str]:
    return "allergy", e.allergy_id, f"Allergy status: {e.previous} → {e.status}"


@describe.register
def _(e: ev.MedicationPrescribed) -> tuple[str, str | None, str]:
    text = f"Prescribed {e.drug} {_n(e.dose)} {e.dose_unit} {e.route} {e.frequency}"
    if e.duration_days:
        text += f" for {e.duration_days} days"
    if e.override_reason:
        text += f" (allergy override: {e.override_reason})"
    return "medication", e.prescription_id, text


@describe.register
def _(e: ev.MedicationDoseChanged) -> tuple[str, str | None, str]:
    text = (
        f"Dose changed: {_n(e.previous_dose)} {e.previous_dose_unit} {e.previous_frequency}"
        f" → {_n(e.dose)} {e.dose_unit} {e.frequency}"
    )
    return "medication", e.prescription_id, text + (f" ({e.reason})" if e.reason else "")


@describe.register
def _(e: ev.MedicationDiscontinued) -> tuple[str, str | None, str]:
    return "medication", e.prescription_id, f"Medication stopped: {e.reason}"


@describe.register
def _(e: ev.NoteAdded) -> tuple[str, str | None, str]:
    first = e.text.splitlines()[0] if e.text else ""
    return "note", e.note_id, f"Note: {first[:120]}"


@describe.register
def _(e: ev.TestResultRecorded) -> tuple[str, str | None, str]:
    flag = " — abnormal" if e.abnormal else ""
    return "test_result", e.result_id, f"Test: {e.name} {result_text(e.to_payload())}{flag}"


@describe.register
def _(e: ev.ImmunizationRecorded) -> tuple[str, str | None, str]:
    how = " (historical, from a card)" if e.historical else ""
    dose = f" dose {e.dose_number}" if e.dose_number else ""
    return "immunization", e.immunization_id, f"Immunization: {e.vaccine}{dose}{how}"


@describe.register
def _(e: ev.ProtocolSuggestionDeclined) -> tuple[str, str | None, str]:
    # The note the same decision adds carries the suggestion and the reason in full.
    return "protocol", None, f"Hypertension protocol suggestion declined: {e.reason}"


@describe.register
def _(e: ev.AppointmentScheduled) -> tuple[str, str | None, str]:
    return "appointment", e.appointment_id, f"Follow-up booked with {e.clinician} at {e.start}"


@describe.register
def _(e: ev.AppointmentRescheduled) -> tuple[str, str | None, str]:
    return "appointment", e.appointment_id, f"Follow-up moved {e.previous_start} → {e.start}"


@describe.register
def _(e: ev.AppointmentCancelled) -> tuple[str, str | None, str]:
    return (
        "appointment",
        e.appointment_id,
        "Follow-up cancelled" + (f": {e.reason}" if e.reason else ""),
    )


@describe.register
def _(e: ev.AppointmentAttended) -> tuple[str, str | None, str]:
    return "appointment", e.appointment_id, "Attended follow-up"


@describe.register
def _(e: ev.AppointmentMissed) -> tuple[str, str | None, str]:
    return "appointment", e.appointment_id, "Missed follow-up (no-show)"


@describe.register
def _(e: ev.PatientReferred) -> tuple[str, str | None, str]:
    return "referral", e.referral_id, f"Referred to {e.to_facility} ({e.urgency}): {e.reason}"


@describe.register
def _(e: ev.ReferralCancelled) -> tuple[str, str | None, str]:
    return "referral", e.referral_id, f"Referral cancelled: {e.reason}"


@describe.register
def _(e: ev.CallAttemptRecorded) -> tuple[str, str | None, str]:
    then = f"; call again {e.next_call_on}" if e.next_call_on else ""
    return "call", e.call_id, f"Follow-up call: {e.outcome.replace('-', ' ')}{then}"


@describe.register
def _(e: ev.RemovedFromWorklist) -> tuple[str, str | None, str]:
    return "call", e.call_id, f"Removed from the call list: {e.reason}"


@describe.register
def _(e: ev.EnteredInError) -> tuple[str, str | None, str]:
    return "correction", None, f"Marked {e.item_kind} as entered in error: {e.reason}"


@describe.register
def _(e: ev.PatientVersionReceived) -> tuple[str, str | None, str]:
    d = e.demographics
    parts = [f"{d.get('given')} {d.get('family')}", f"born {d.get('birth_date')}"]
    parts += [f"{k} {d[k]}" for k in ("sex", "phone", "address") if d.get(k)]
    return "patient", None, "Demographics from the server: " + ", ".join(parts)


@describe.register
def _(e: ev.ItemVersionReceived) -> tuple[str, str | None, str]:
    state = "entered in error" if e.entered_in_error else e.status
    if e.item_kind == READ_ONLY_KIND:  # a record another system wrote: say what it is
        flag = " (entered in error)" if e.entered_in_error else ""
        return e.item_kind, e.item_id, describe_other(e.data) + flag
    if e.item_kind == "test_result":  # what the test showed, as for one recorded here
        flag = " — abnormal" if e.data.get("abnormal") else ""
        name = e.data.get("name") or "Test"
        text = f"Test from the server: {name} {result_text(e.data)}{flag} ({state})"
        return e.item_kind, e.item_id, text
    if e.item_kind == "immunization":  # which vaccine, as for one recorded here
        dose = f" dose {e.data['dose_number']}" if e.data.get("dose_number") else ""
        text = f"Immunization from the server: {e.data.get('vaccine') or '?'}{dose} ({state})"
        return e.item_kind, e.item_id, text
    return e.item_kind, e.item_id, f"{e.item_kind.capitalize()} from the server ({state})"


@describe.register
def _(e: ev.SyncConflictResolved) -> tuple[str, str | None, str]:
    what = {
        "keep-mine": "kept this device's value",
        "take-servers": "took the server's value",
        "edit": "entered a new value",
    }.get(e.resolution, e.resolution)
    return "sync", None, f"Sync conflict resolved: {what}" + (f" for {e.field}" if e.field else "")


_HELD_TEXT = {
    "out": "{kind} moved to another patient by the server — needs review",
    "in": "{kind} of another patient moved here by the server — needs review",
}
_DECIDED_TEXT = {
    ("out", "accept-server"): "{kind} moved to another patient by the server (accepted)",
    ("in", "accept-server"): "{kind} moved here from another patient by the server (accepted)",
    ("out", "keep-ours"): "{kind} kept in this chart; the server's move was undone",
    ("in", "keep-ours"): "{kind} stays in the other patient's chart; the server's move was undone",
    ("", "accept-server"): "The server's change of who this patient is was accepted",
    ("", "keep-ours"): "The server's change of who this patient is was refused; ours sent back",
}


@describe.register
def _(e: ev.ServerChangeHeld) -> tuple[str, str | None, str]:
    if e.direction in _HELD_TEXT:
        kind = (e.item_kind or "item").capitalize()
        return "sync", None, _HELD_TEXT[e.direction].format(kind=kind)
    changed = ", ".join(f.replace("_", " ") for f in e.fields)
    return "sync", None, f"The server changed who this patient is ({changed}) — needs review"


@describe.register
def _(e: ev.ServerChangeDecided) -> tuple[str, str | None, str]:
    text = _DECIDED_TEXT.get((e.direction, e.resolution), f"Server change: {e.resolution}")
    return "sync", None, text.format(kind=(e.item_kind or "item").capitalize())


@describe.register
def _(e: ev.PatientMerged) -> tuple[str, str | None, str]:
    where = " on another device" if e.source == "server" else ""
    return (
        "patient",
        None,
        f"Another record of this patient merged into this chart{where}: {e.reason}",
    )


@describe.register
def _(e: ev.MergeUndone) -> tuple[str, str | None, str]:
    where = " on another device" if e.source == "server" else ""
    return "patient", None, f"Merge undone{where}: the other record is separate again ({e.reason})"


def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    patient_id = patient_of(record)
    if patient_id is None:
        return
    kind, item_id, text = describe(event)
    meta = record.metadata
    w.insert(
        entries,
        {
            "position": record.position,
            "patient_id": patient_id,
            "occurred_at": meta.occurred_at,
            "recorded_at": meta.recorded_at,
            "user": meta.user,
            "role": meta.role,
            "type": record.type,
            "kind": kind,
            "item_id": item_id,
            "text": text,
            "entered_in_error": False,
        },
    )
    if isinstance(event, ev.EnteredInError):
        w.update(entries, {"item_id": event.item_id}, {"entered_in_error": True})


def for_patient(conn: Connection, patient_id: str, limit: int | None = None) -> list[Any]:
    query = (
        select(entries)
        .where(entries.c.patient_id == patient_id)
        .order_by(in_time_order(entries.c.occurred_at).desc(), entries.c.position.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).all())


# The columns of a chart's timeline, in the order of services.dto.TimelineEntry's fields.
CHART_COLUMNS = (
    "position",
    "occurred_at",
    "recorded_at",
    "user",
    "role",
    "kind",
    "type",
    "item_id",
    "text",
    "entered_in_error",
)


_CHART_SQL = (
    f"SELECT {', '.join(CHART_COLUMNS)} FROM {entries.name} WHERE patient_id = ?"
    f" ORDER BY {in_time_order_sql('occurred_at')} DESC, position DESC"
)


def for_chart(conn: Connection, patient_id: str) -> list[tuple[Any, ...]]:
    """for_patient's entries as rows of CHART_COLUMNS (plain tuples from the DB-API cursor
    are several times cheaper to read than named rows when a chart has a thousand entries)."""
    return fetch_rows(conn, _CHART_SQL, (patient_id,))
