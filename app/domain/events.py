"""Events: what happened, in the past tense. Immutable; corrections are new events.

Each event is a frozen dataclass; its stored form is (type name, schema_version, payload dict).
`from_payload` applies upcasters so old payloads keep loading after a schema change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    SCHEMA_VERSION: ClassVar[int] = 1

    def to_payload(self) -> dict[str, Any]:
        """dataclasses.asdict(self), several times faster: events hold JSON values only, so a
        copy of dicts, lists and tuples is the whole of asdict's deep copy (a command folds
        a patient's whole history through this)."""
        return {name: _copy(getattr(self, name)) for name in field_names(type(self))}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type[DomainEvent]) -> tuple[str, ...]:
    """The payload keys of an event class, in field order (computed once per class)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


_ATOMS = (str, int, float, bool, type(None))


def _copy(value: Any) -> Any:
    if isinstance(value, _ATOMS):
        return value
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_copy(v) for v in value)
    return asdict(_Boxed(value))["value"]  # anything else: exactly what asdict would make


@dataclass(frozen=True)
class _Boxed:
    value: Any


# -- patients ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PatientRegistered(DomainEvent):
    patient_id: str
    given: str
    family: str
    birth_date: str
    sex: str
    phone: str | None = None
    address: str | None = None
    identifiers: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DemographicsUpdated(DomainEvent):
    changes: dict[str, str | None]
    previous: dict[str, str | None]


# -- encounters ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EncounterStarted(DomainEvent):
    encounter_id: str
    started_at: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class EncounterFinished(DomainEvent):
    encounter_id: str
    finished_at: str


# -- clinical items ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VitalsRecorded(DomainEvent):
    vitals_id: str
    taken_at: str
    measurements: dict[str, float]
    bmi: float | None = None
    encounter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DiagnosisRecorded(DomainEvent):
    diagnosis_id: str
    code: str | None
    text: str
    recorded_at: str
    onset: str | None = None
    encounter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DiagnosisResolved(DomainEvent):
    diagnosis_id: str
    resolved_at: str


@dataclass(frozen=True, kw_only=True)
class AllergyRecorded(DomainEvent):
    allergy_id: str
    substance: str
    substance_id: str | None
    category: str
    criticality: str
    recorded_at: str
    reaction: str | None = None
    severity: str | None = None
    # What the substance resolved to in the medicine list (empty in payloads recorded before
    # resolution existed; the prescribing check resolves the text again either way).
    ingredient_ids: list[str] = field(default_factory=list)  # ingredients it rules out
    class_ids: list[str] = field(default_factory=list)  # drug classes it rules out
    caution_class_ids: list[str] = field(default_factory=list)  # cross-reactivity cautions
    # "listed" | "name" | "combination" | "spelling" (a close misspelling); None: unresolved
    substance_match: str | None = None
    # A medication allergy the medicine list does not know: prescriptions are only checked
    # against its exact name, which the chart should say.
    unresolved: bool = False


@dataclass(frozen=True, kw_only=True)
class AllergyStatusChanged(DomainEvent):
    allergy_id: str
    status: str
    previous: str


@dataclass(frozen=True, kw_only=True)
class MedicationPrescribed(DomainEvent):
    prescription_id: str
    drug: str
    drug_id: str | None
    dose: float
    dose_unit: str
    route: str
    frequency: str
    prescribed_at: str
    duration_days: int | None = None
    encounter_id: str | None = None
    instructions: str | None = None
    override_reason: str | None = None
    overridden_allergy_ids: list[str] = field(default_factory=list)
    # The drug's ingredients as the allergy and duplicate checks saw them.
    ingredient_ids: list[str] = field(default_factory=list)
    # How the typed drug was recognised: "listed" | "name" (brand, synonym, other spelling) |
    # "combination" | "spelling" (a close misspelling, warned about); None when it was not.
    drug_match: str | None = None
    typed_drug: str | None = None  # what was typed, when `drug` is the corrected spelling
    # Prescribed although (part of) the drug is not in the medicine list, so allergies and
    # duplicates were checked against its name only; the prescriber acknowledged that.
    unchecked: bool = False


@dataclass(frozen=True, kw_only=True)
class MedicationDoseChanged(DomainEvent):
    prescription_id: str
    dose: float
    dose_unit: str
    frequency: str
    previous_dose: float
    previous_dose_unit: str
    previous_frequency: str
    changed_at: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class MedicationDiscontinued(DomainEvent):
    prescription_id: str
    reason: str
    discontinued_at: str


@dataclass(frozen=True, kw_only=True)
class NoteAdded(DomainEvent):
    note_id: str
    text: str
    written_at: str
    encounter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ImmunizationRecorded(DomainEvent):
    immunization_id: str
    vaccine_id: str | None  # None: a vaccine the bundled list does not know (pulled only)
    vaccine: str  # its name as people read it
    cvx: str | None
    dose_number: int | None
    given_at: str  # the clinical time (a date-only dose: noon UTC of that day)
    given_on: str  # the day it was given, as recorded
    time_known: bool = True  # False: only the day is known (a card says a date)
    historical: bool = False
    source: str | None = None
    lot: str | None = None
    lot_expiry: str | None = None
    site: str | None = None
    route: str | None = None
    encounter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TestResultRecorded(DomainEvent):
    """A point-of-care test result. Carries what the chart and FHIR need of the test (code,
    name, unit, reference range), so it reads the same after the bundled list changes."""

    result_id: str
    test: str  # the bundled test's key
    loinc: str
    name: str
    result_type: str  # qualitative | numeric | ordinal
    loinc_display: str | None  # the LOINC long common name
    taken_at: str
    specimen: str
    value: float | None = None  # numeric
    result: str | None = None  # qualitative and ordinal: a word of the test's scale
    unit: str | None = None  # numeric: UCUM
    unit_label: str | None = None
    reference_low: float | None = None
    reference_high: float | None = None
    interpretation: str | None = None  # HL7 v3 ObservationInterpretation code
    abnormal: bool = False
    encounter_id: str | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class ProtocolSuggestionDeclined(DomainEvent):
    """The hypertension protocol's suggestion for a reading was declined (the same decision
    adds the note `note_id` that says so, for the server and other devices)."""

    vitals_id: str
    suggestion: str
    reason: str
    declined_at: str
    note_id: str


# -- scheduling ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AppointmentScheduled(DomainEvent):
    appointment_id: str
    clinician: str
    start: str
    end: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class AppointmentRescheduled(DomainEvent):
    appointment_id: str
    start: str
    end: str
    previous_start: str


@dataclass(frozen=True, kw_only=True)
class AppointmentCancelled(DomainEvent):
    appointment_id: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class AppointmentAttended(DomainEvent):
    appointment_id: str


@dataclass(frozen=True, kw_only=True)
class AppointmentMissed(DomainEvent):
    appointment_id: str


# -- referrals ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PatientReferred(DomainEvent):
    referral_id: str
    to_facility: str
    reason: str
    urgency: str
    referred_at: str
    # The clinical summary as it was sent: one entry per chosen chart item (item_id, kind,
    # text; a vitals entry also its `signs`), so later chart changes do not rewrite it.
    summary: list[dict[str, Any]] = field(default_factory=list)
    facility_organization_id: str | None = None
    note: str | None = None
    encounter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReferralCancelled(DomainEvent):
    referral_id: str
    reason: str
    cancelled_at: str
    previous: str


# -- follow-up calls -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CallAttemptRecorded(DomainEvent):
    """A follow-up call (item kind "call"). `status` is "completed" when someone was reached,
    "not-done" when not (no answer, wrong number) -- FHIR Communication status."""

    call_id: str
    outcome: str
    status: str
    called_at: str
    appointment_id: str | None = None
    note: str | None = None
    next_call_on: str | None = None


@dataclass(frozen=True, kw_only=True)
class RemovedFromWorklist(DomainEvent):
    """The patient was taken off the follow-up worklist; recorded as a "call" item with
    outcome "removed" so it syncs the same way (docs/front-desk/follow-up-calls.md)."""

    call_id: str
    reason: str
    removed_at: str
    outcome: str = "removed"
    status: str = "not-done"


# -- corrections and audit -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EnteredInError(DomainEvent):
    item_id: str
    item_kind: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ChartViewed(DomainEvent):
    """Stored in the device's audit stream, not the patient's: reading is not a chart change."""

    patient_id: str


@dataclass(frozen=True, kw_only=True)
class ChartPrinted(DomainEvent):
    """A printout of a chart (prescription, referral letter, visit summary, appointment slip,
    patient card) written to paper or a PDF, in the device's audit stream like ChartViewed.
    Names the document and the item printed, never its content."""

    patient_id: str
    document: str  # prescription, referral, visit, slip, card
    item_ids: list[str] = field(default_factory=list)  # the items printed
    pending_changes: int = 0  # changes not yet sent that the page said it includes


@dataclass(frozen=True, kw_only=True)
class AdminActionRecorded(DomainEvent):
    """A change to users, passphrases or device settings, in the device's audit stream. Never
    carries a secret: names of users and of changed settings only."""

    action: str  # UserAdded, UserDisabled, UserEnabled, PassphraseChanged, PassphraseReset, ...
    subject: str = ""  # the user acted on
    detail: str = ""  # a role, "recovery secret", the names of the settings changed
    occurred_at: str = ""  # when it happened, if before this event was written (vault locked)


@dataclass(frozen=True, kw_only=True)
class UnlockFailed(DomainEvent):
    """A refused unlock, kept beside the locked vault and written here at the next unlock. The
    name is kept only if it is a user of the vault (a passphrase typed as a name is not)."""

    user: str  # "" when the name tried is not a user of this vault
    reason: str  # wrong-passphrase, wrong-recovery-secret, unknown-user, disabled-user, ...
    failed_at: str


# -- merging two records of one person (app/domain/merge.py) ----------------------------------


@dataclass(frozen=True, kw_only=True)
class PatientMerged(DomainEvent):
    """On the survivor's stream: `replaced_patient_id`'s record is linked into this chart
    (its items stay in its own stream). `source` is "local" for a merge recorded here,
    "server" for one another device made (read from the server's Patient.link)."""

    merge_id: str
    replaced_patient_id: str
    reason: str
    source: str = "local"


@dataclass(frozen=True, kw_only=True)
class MergeUndone(DomainEvent):
    """On the survivor's stream: the merge `merge_id` no longer holds; both records are
    separate charts again, each with exactly its own items."""

    merge_id: str
    replaced_patient_id: str
    reason: str
    source: str = "local"


# -- versions received from the central server ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PatientVersionReceived(DomainEvent):
    """The server's copy of the Patient, recorded as confirmed (pull, or a conflict re-read)."""

    resource_version: str
    demographics: dict[str, str | None]
    identifiers: list[dict[str, str]] = field(default_factory=list)
    # The records this Patient `replaces` on the server (replaced id -> merge id; None: none),
    # so a merge another device made is made here too (app/domain/merge.py).
    merges: dict[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class ItemVersionReceived(DomainEvent):
    """The server's copy of one chart item (written by another device or system)."""

    item_kind: str
    item_id: str
    resource_version: str
    status: str
    entered_in_error: bool
    data: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class SyncConflictResolved(DomainEvent):
    """A person decided a needs-attention conflict (the losing value stays in history)."""

    command_id: str
    resolution: str
    field: str | None = None
    value: str | None = None


@dataclass(frozen=True, kw_only=True)
class ServerChangeHeld(DomainEvent):
    """A server version that would change who the patient is, or move an item between
    patients' charts, was held for a person: nothing of it is applied until one decides.
    ``direction``: "out" (the item leaves this chart), "in" (it would come here), "" (the
    patient's own identity)."""

    hold_id: str
    kind: str  # identity-change, moved-between-patients
    item_kind: str | None = None
    item_id: str | None = None
    direction: str = ""
    fields: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ServerChangeDecided(DomainEvent):
    """A person decided a held server change: accepted the server's version (then applied as
    a pull would) or kept ours (sent back to the server)."""

    hold_id: str
    kind: str
    resolution: str  # accept-server, keep-ours
    item_kind: str | None = None
    item_id: str | None = None
    direction: str = ""


ALL_EVENTS: tuple[type[DomainEvent], ...] = (
    PatientRegistered,
    DemographicsUpdated,
    EncounterStarted,
    EncounterFinished,
    VitalsRecorded,
    DiagnosisRecorded,
    DiagnosisResolved,
    AllergyRecorded,
    AllergyStatusChanged,
    MedicationPrescribed,
    MedicationDiscontinued,
    MedicationDoseChanged,
    NoteAdded,
    TestResultRecorded,
    ImmunizationRecorded,
    AppointmentScheduled,
    AppointmentRescheduled,
    AppointmentCancelled,
    AppointmentAttended,
    AppointmentMissed,
    EnteredInError,
    ChartViewed,
    ChartPrinted,
    AdminActionRecorded,
    UnlockFailed,
    PatientVersionReceived,
    ItemVersionReceived,
    SyncConflictResolved,
    ServerChangeHeld,
    ServerChangeDecided,
    PatientReferred,
    ReferralCancelled,
    ProtocolSuggestionDeclined,
    CallAttemptRecorded,
    RemovedFromWorklist,
    PatientMerged,
    MergeUndone,
)
EVENTS_BY_NAME: dict[str, type[DomainEvent]] = {e.__name__: e for e in ALL_EVENTS}

# (type name, stored schema_version) -> function lifting the payload one version up.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownEventError(Exception):
    pass


def from_payload(type_name: str, schema_version: int, payload: Mapping[str, Any]) -> DomainEvent:
    """Rebuild a domain event from its stored form, upcasting old schema versions."""
    cls = EVENTS_BY_NAME.get(type_name)
    if cls is None:
        raise UnknownEventError(
            # i18n: ignore (internal: a programming error)
            f"unknown event type {type_name!r}"
        )
    data = dict(payload)
    version = schema_version
    while version < cls.SCHEMA_VERSION:
        data = UPCASTERS[(type_name, version)](data)
        version += 1
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


PATIENT_STREAM_PREFIX = "patient-"


def stream_of(patient_id: str) -> str:
    """The id of a patient's event stream (decoded by `patient_of_stream`)."""
    return f"{PATIENT_STREAM_PREFIX}{patient_id}"


def patient_of_stream(stream_id: str) -> str | None:
    """The patient whose stream this is; None for any other stream (a device's audit stream)."""
    if stream_id.startswith(PATIENT_STREAM_PREFIX):
        return stream_id[len(PATIENT_STREAM_PREFIX) :]
    return None


def patient_of_command_stream(stream_id: str) -> str:
    """The patient of a command's stream: commands are only ever recorded on a patient's."""
    patient_id = patient_of_stream(stream_id)
    if patient_id is None:
        raise ValueError(f"{stream_id!r} is not a patient's stream")
    return patient_id


def audit_stream_of(device_id: str) -> str:
    return f"audit-{device_id}"
