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
    select,
)
from sqlalchemy import Text as TextColumn

from app.domain import events as ev
from app.domain.other_records import READ_ONLY_KIND, describe_other
from app.domain.poc_tests import result_text
from app.domain.reference import vitals_line
from app.domain.wording import N_, Text, as_text, joined, t, tn
from app.projections.base import Writes, in_time_order, in_time_order_sql, metadata, patient_of
from app.store.database import fetch_rows
from app.store.event_log import RecordedEvent

# Stored codes in words (N_-marked: rendered in the reader's language).
SEX_WORDS = {
    "female": N_("female"),
    "male": N_("male"),
    "other": N_("other"),
    "unknown": N_("unknown"),
}
FIELD_WORDS = {
    # Translators: a patient's given (first) name, in "given: Amina → Aminah"
    "given": N_("given"),
    # Translators: a patient's family name, in "family: Otieno → Otiende"
    "family": N_("family"),
    "birth_date": N_("birth date"),
    "sex": N_("sex"),
    "phone": N_("phone"),
    "address": N_("address"),
}
CALL_OUTCOME_WORDS = {
    "agreed-to-come": N_("agreed to come"),
    "remind-later": N_("remind later"),
    "wrong-number": N_("wrong number"),
    "no-answer": N_("no answer"),
    "moved": N_("moved away"),
    "died": N_("died"),
    "refused": N_("refused"),
}
# An allergy's recorded severity and criticality (the English is the stored code).
SEVERITY_WORDS = {"mild": N_("mild"), "moderate": N_("moderate"), "severe": N_("severe")}
CRITICALITY_WORDS = {
    "low": N_("low"),
    "high": N_("high"),
    # Translators: an allergy's criticality that could not be assessed
    "unable-to-assess": N_("unable-to-assess"),
}
KIND_WORDS = {
    "item": N_("Item"),
    "diagnosis": N_("Diagnosis"),
    "allergy": N_("Allergy"),
    "medication": N_("Medication"),
    "vitals": N_("Vitals"),
    "note": N_("Note"),
    "encounter": N_("Encounter"),
    "appointment": N_("Appointment"),
    "referral": N_("Referral"),
    "immunization": N_("Immunization"),
    "test_result": N_("Test result"),
}

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
    Column("words", TextColumn, nullable=False),  # a Text as JSON (wording.to_json)
    Column("entered_in_error", Boolean, nullable=False, default=False),
    # Clustered by patient (WITHOUT ROWID, patient first): one chart's entries share pages.
    PrimaryKeyConstraint("patient_id", "position"),
    Index("ix_tl_entries_item", "item_id"),
    sqlite_with_rowid=False,
)


def _n(x: float) -> str:
    return f"{x:g}"


# Each entry's words are kept as a Text (template and values, app/domain/wording.py) and
# rendered in the reader's language when the chart is read (services/clinic_queries.py):
# a French clinician reads "Constantes : TA 132/84 mmHg", an English one "Vitals: BP …".
Entry = tuple[str, str | None, Text]


@singledispatch
def describe(event: ev.DomainEvent) -> Entry:
    """(kind, item id, one-line text) for a timeline entry."""
    return "other", None, Text(type(event).__name__)


def _with(text: Text, detail: str | None, template: str) -> Text:
    """`text`, with `detail` (what a person typed: a reason) after it when there is one."""
    return Text(template, {"text": text, "detail": detail}) if detail else text


@describe.register
def _(e: ev.PatientRegistered) -> Entry:
    return (
        "patient",
        None,
        t(
            "Registered {given} {family}, born {birth_date}, {sex}",
            given=e.given,
            family=e.family,
            birth_date=e.birth_date,
            sex=as_text(SEX_WORDS.get(e.sex, e.sex)),
        ),
    )


@describe.register
def _(e: ev.DemographicsUpdated) -> Entry:
    parts = [
        t(
            "{field}: {before} → {after}",
            field=as_text(FIELD_WORDS.get(k, k.replace("_", " "))),
            before=str(e.previous.get(k) or "—"),
            after=str(v or "—"),
        )
        for k, v in sorted(e.changes.items())
    ]
    return "patient", None, t("Demographics changed: {changes}", changes=joined(parts))


@describe.register
def _(e: ev.EncounterStarted) -> Entry:
    started = t(N_("Encounter started"))
    return "encounter", e.encounter_id, _with(started, e.reason, N_("{text}: {detail}"))


@describe.register
def _(e: ev.EncounterFinished) -> Entry:
    return "encounter", e.encounter_id, t(N_("Encounter finished"))


@describe.register
def _(e: ev.VitalsRecorded) -> Entry:
    line = vitals_line(e.measurements, e.bmi)
    return "vitals", e.vitals_id, t("Vitals: {measurements}", measurements=line)


@describe.register
def _(e: ev.DiagnosisRecorded) -> Entry:
    what = f"{e.code} {e.text}" if e.code else e.text
    return "diagnosis", e.diagnosis_id, t("Diagnosis: {diagnosis}", diagnosis=what)


@describe.register
def _(e: ev.DiagnosisResolved) -> Entry:
    return "diagnosis", e.diagnosis_id, t(N_("Diagnosis resolved"))


@describe.register
def _(e: ev.AllergyRecorded) -> Entry:
    extra: list[Text] = [Text(e.reaction)] if e.reaction else []
    if e.severity:
        extra.append(as_text(SEVERITY_WORDS.get(e.severity, e.severity)))
    if e.criticality:
        criticality = as_text(CRITICALITY_WORDS.get(e.criticality, e.criticality))
        extra.append(t("criticality {criticality}", criticality=criticality))
    return (
        "allergy",
        e.allergy_id,
        t("Allergy: {substance} ({details})", substance=e.substance, details=joined(extra, ", ")),
    )


@describe.register
def _(e: ev.AllergyStatusChanged) -> Entry:
    return (
        "allergy",
        e.allergy_id,
        t(
            "Allergy status: {before} → {after}",
            before=as_text(e.previous),
            after=as_text(e.status),
        ),
    )


@describe.register
def _(e: ev.MedicationPrescribed) -> Entry:
    what = f"{e.drug} {_n(e.dose)} {e.dose_unit} {e.route} {e.frequency}"
    text = t("Prescribed {prescription}", prescription=what)
    if e.duration_days:
        text = tn(
            "Prescribed {prescription} for {count} day",
            "Prescribed {prescription} for {count} days",
            e.duration_days,
            prescription=what,
        )
    return (
        "medication",
        e.prescription_id,
        _with(text, e.override_reason or "", N_("{text} (allergy override: {detail})")),
    )


@describe.register
def _(e: ev.MedicationDoseChanged) -> Entry:
    before = f"{_n(e.previous_dose)} {e.previous_dose_unit} {e.previous_frequency}"
    after = f"{_n(e.dose)} {e.dose_unit} {e.frequency}"
    text = t("Dose changed: {before} → {after}", before=before, after=after)
    return "medication", e.prescription_id, _with(text, e.reason, N_("{text} ({detail})"))


@describe.register
def _(e: ev.MedicationDiscontinued) -> Entry:
    return "medication", e.prescription_id, t("Medication stopped: {reason}", reason=e.reason)


@describe.register
def _(e: ev.NoteAdded) -> Entry:
    first = e.text.splitlines()[0] if e.text else ""
    return "note", e.note_id, t("Note: {text}", text=first[:120])


@describe.register
def _(e: ev.TestResultRecorded) -> Entry:
    result = as_text(result_text(e.to_payload()))
    template = N_("Test: {name} {result} — abnormal") if e.abnormal else N_("Test: {name} {result}")
    return "test_result", e.result_id, Text(template, {"name": e.name, "result": result})


@describe.register
def _(e: ev.ImmunizationRecorded) -> Entry:
    if e.dose_number:
        text = t("Immunization: {vaccine} dose {dose}", vaccine=e.vaccine, dose=e.dose_number)
    else:
        text = t("Immunization: {vaccine}", vaccine=e.vaccine)
    if e.historical:
        text = t("{text} (historical, from a card)", text=text)
    return "immunization", e.immunization_id, text


@describe.register
def _(e: ev.ProtocolSuggestionDeclined) -> Entry:
    # The note the same decision adds carries the suggestion and the reason in full.
    return (
        "protocol",
        None,
        t("Hypertension protocol suggestion declined: {reason}", reason=e.reason),
    )


@describe.register
def _(e: ev.AppointmentScheduled) -> Entry:
    return (
        "appointment",
        e.appointment_id,
        t("Follow-up booked with {clinician} at {start}", clinician=e.clinician, start=e.start),
    )


@describe.register
def _(e: ev.AppointmentRescheduled) -> Entry:
    return (
        "appointment",
        e.appointment_id,
        t("Follow-up moved {before} → {after}", before=e.previous_start, after=e.start),
    )


@describe.register
def _(e: ev.AppointmentCancelled) -> Entry:
    cancelled = t(N_("Follow-up cancelled"))
    return "appointment", e.appointment_id, _with(cancelled, e.reason, N_("{text}: {detail}"))


@describe.register
def _(e: ev.AppointmentAttended) -> Entry:
    return "appointment", e.appointment_id, t(N_("Attended follow-up"))


@describe.register
def _(e: ev.AppointmentMissed) -> Entry:
    return "appointment", e.appointment_id, t(N_("Missed follow-up (no-show)"))


@describe.register
def _(e: ev.PatientReferred) -> Entry:
    return (
        "referral",
        e.referral_id,
        t(
            "Referred to {facility} ({urgency}): {reason}",
            facility=e.to_facility,
            urgency=as_text(e.urgency),
            reason=e.reason,
        ),
    )


@describe.register
def _(e: ev.ReferralCancelled) -> Entry:
    return "referral", e.referral_id, t("Referral cancelled: {reason}", reason=e.reason)


@describe.register
def _(e: ev.CallAttemptRecorded) -> Entry:
    outcome = as_text(CALL_OUTCOME_WORDS.get(e.outcome, e.outcome.replace("-", " ")))
    text = t("Follow-up call: {outcome}", outcome=outcome)
    if e.next_call_on:
        text = t("{text}; call again {day}", text=text, day=e.next_call_on)
    return "call", e.call_id, text


@describe.register
def _(e: ev.RemovedFromWorklist) -> Entry:
    return "call", e.call_id, t("Removed from the call list: {reason}", reason=e.reason)


@describe.register
def _(e: ev.EnteredInError) -> Entry:
    return (
        "correction",
        None,
        t(
            "Marked {kind} as entered in error: {reason}",
            kind=as_text(e.item_kind),
            reason=e.reason,
        ),
    )


@describe.register
def _(e: ev.PatientVersionReceived) -> Entry:
    d = e.demographics
    parts = [
        Text(f"{d.get('given')} {d.get('family')}"),
        t("born {day}", day=str(d.get("birth_date"))),
    ]
    parts += [Text(f"{d[k]}") for k in ("sex", "phone", "address") if d.get(k)]
    return "patient", None, t("Demographics from the server: {facts}", facts=joined(parts, ", "))


@describe.register
def _(e: ev.ItemVersionReceived) -> Entry:
    state = t(N_("entered in error")) if e.entered_in_error else as_text(e.status)
    if e.item_kind == READ_ONLY_KIND:  # a record another system wrote: say what it is
        other = Text(describe_other(e.data))
        if e.entered_in_error:
            other = t("{entry} (entered in error)", entry=other)
        return e.item_kind, e.item_id, other
    if e.item_kind == "test_result":  # what the test showed, as for one recorded here
        name = str(e.data.get("name") or "Test")
        result = as_text(result_text(e.data))
        template = (
            N_("Test from the server: {name} {result} — abnormal ({state})")
            if e.data.get("abnormal")
            else N_("Test from the server: {name} {result} ({state})")
        )
        return (
            e.item_kind,
            e.item_id,
            Text(template, {"name": name, "result": result, "state": state}),
        )
    if e.item_kind == "immunization":  # which vaccine, as for one recorded here
        vaccine = str(e.data.get("vaccine") or "?")
        if e.data.get("dose_number"):
            text = t(
                "Immunization from the server: {vaccine} dose {dose} ({state})",
                vaccine=vaccine,
                dose=e.data["dose_number"],
                state=state,
            )
        else:
            text = t(
                "Immunization from the server: {vaccine} ({state})", vaccine=vaccine, state=state
            )
        return e.item_kind, e.item_id, text
    kind = as_text(KIND_WORDS.get(e.item_kind, e.item_kind.capitalize()))
    return e.item_kind, e.item_id, t("{kind} from the server ({state})", kind=kind, state=state)


_RESOLUTIONS = {
    "keep-mine": N_("kept this device's value"),
    "take-servers": N_("took the server's value"),
    "edit": N_("entered a new value"),
}


@describe.register
def _(e: ev.SyncConflictResolved) -> Entry:
    what = as_text(_RESOLUTIONS.get(e.resolution, e.resolution))
    if e.field:
        return (
            "sync",
            None,
            t("Sync conflict resolved: {what} for {field}", what=what, field=e.field),
        )
    return "sync", None, t("Sync conflict resolved: {what}", what=what)


_HELD_TEXT = {
    "out": N_("{kind} moved to another patient by the server — needs review"),
    "in": N_("{kind} of another patient moved here by the server — needs review"),
}
_DECIDED_TEXT = {
    ("out", "accept-server"): N_("{kind} moved to another patient by the server (accepted)"),
    ("in", "accept-server"): N_("{kind} moved here from another patient by the server (accepted)"),
    ("out", "keep-ours"): N_("{kind} kept in this chart; the server's move was undone"),
    ("in", "keep-ours"): N_(
        "{kind} stays in the other patient's chart; the server's move was undone"
    ),
    ("", "accept-server"): N_("The server's change of who this patient is was accepted"),
    ("", "keep-ours"): N_("The server's change of who this patient is was refused; ours sent back"),
}


def _kind(item_kind: str | None) -> Text:
    return as_text(KIND_WORDS.get(item_kind or "item", (item_kind or "item").capitalize()))


@describe.register
def _(e: ev.ServerChangeHeld) -> Entry:
    if e.direction in _HELD_TEXT:
        return "sync", None, Text(_HELD_TEXT[e.direction], {"kind": _kind(e.item_kind)})
    changed = ", ".join(f.replace("_", " ") for f in e.fields)
    return (
        "sync",
        None,
        t("The server changed who this patient is ({changed}) — needs review", changed=changed),
    )


@describe.register
def _(e: ev.ServerChangeDecided) -> Entry:
    template = _DECIDED_TEXT.get((e.direction, e.resolution))
    if template is None:
        return "sync", None, t("Server change: {resolution}", resolution=e.resolution)
    kind = _kind(e.item_kind)
    return "sync", None, Text(template, {"kind": kind}) if "{kind}" in template else Text(template)


@describe.register
def _(e: ev.PatientMerged) -> Entry:
    template = (
        N_("Another record of this patient merged into this chart on another device: {reason}")
        if e.source == "server"
        else N_("Another record of this patient merged into this chart: {reason}")
    )
    return "patient", None, Text(template, {"reason": e.reason})


@describe.register
def _(e: ev.MergeUndone) -> Entry:
    template = (
        N_("Merge undone on another device: the other record is separate again ({reason})")
        if e.source == "server"
        else N_("Merge undone: the other record is separate again ({reason})")
    )
    return "patient", None, Text(template, {"reason": e.reason})


def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    patient_id = patient_of(record)
    if patient_id is None:
        return
    kind, item_id, words = describe(event)
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
            "words": words.to_json(),
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
    "words",
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
