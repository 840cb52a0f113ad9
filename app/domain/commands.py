"""Commands: what a user asks the chart to do, with the values they expected to replace.

Every command is a frozen, keyword-only dataclass. Fields use JSON-friendly types (ISO 8601
strings for dates and instants) so the CLI, the UI and sync can build them the same way.
`ALLOWED_ROLES` is enforced by the services before `decide` runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from app.domain.roles import Role
from app.domain.wording import N_

CLINICAL = frozenset({Role.CLINICIAN})
FRONT_DESK = frozenset({Role.CLINICIAN, Role.STAFF})


@dataclass(frozen=True, kw_only=True)
class Command:
    ALLOWED_ROLES: ClassVar[frozenset[Role]] = CLINICAL
    LABEL: ClassVar[str] = N_("change the chart")
    # Changes an item the server may also hold a newer version of, and so may need a rebase.
    # Commands that only create new items never do: their ids are new to the server.
    REBASABLE: ClassVar[bool] = False
    patient_id: str
    # Client-assigned so a retried submission (UI double click, CLI rerun) is recognisable.
    command_id: str | None = None


@dataclass(frozen=True)
class Identifier:
    system: str
    value: str


@dataclass(frozen=True)
class FieldChange:
    new: str | None
    expected: str | None


# -- patients ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RegisterPatient(Command):
    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("register patients")
    patient_id: str = ""  # optional: chosen by the client, generated when empty
    given: str
    family: str
    birth_date: str
    sex: str
    phone: str | None = None
    address: str | None = None
    identifiers: tuple[Identifier, ...] = ()


DEMOGRAPHIC_FIELDS = ("given", "family", "birth_date", "sex", "phone", "address")


@dataclass(frozen=True, kw_only=True)
class UpdateDemographics(Command):
    REBASABLE = True
    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("edit demographics")
    changes: Mapping[str, FieldChange] = field(default_factory=dict)


# -- encounters ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StartEncounter(Command):
    LABEL = N_("start encounters")
    encounter_id: str | None = None
    reason: str | None = None
    started_at: str | None = None


@dataclass(frozen=True, kw_only=True)
class FinishEncounter(Command):
    REBASABLE = True
    LABEL = N_("finish encounters")
    encounter_id: str
    finished_at: str | None = None


# -- observations and problems -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecordVitals(Command):
    LABEL = N_("record vitals")
    vitals_id: str | None = None
    encounter_id: str | None = None
    taken_at: str | None = None
    systolic: float | None = None
    diastolic: float | None = None
    heart_rate: float | None = None
    respiratory_rate: float | None = None
    temperature: float | None = None
    spo2: float | None = None
    weight: float | None = None
    height: float | None = None


VITAL_FIELDS = (
    "systolic",
    "diastolic",
    "heart_rate",
    "respiratory_rate",
    "temperature",
    "spo2",
    "weight",
    "height",
)


@dataclass(frozen=True, kw_only=True)
class RecordDiagnosis(Command):
    LABEL = N_("record diagnoses")
    diagnosis_id: str | None = None
    code: str | None = None
    text: str | None = None
    onset: str | None = None
    encounter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResolveDiagnosis(Command):
    REBASABLE = True
    LABEL = N_("resolve diagnoses")
    diagnosis_id: str
    resolved_at: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordAllergy(Command):
    LABEL = N_("record allergies")
    allergy_id: str | None = None
    substance: str
    category: str | None = None
    reaction: str | None = None
    severity: str | None = None
    criticality: str = "unable-to-assess"


@dataclass(frozen=True, kw_only=True)
class UpdateAllergyStatus(Command):
    REBASABLE = True
    LABEL = N_("update allergies")
    allergy_id: str
    status: str
    expected_status: str | None = None


@dataclass(frozen=True, kw_only=True)
class PrescribeMedication(Command):
    LABEL = N_("prescribe")
    prescription_id: str | None = None
    drug: str
    dose: float
    dose_unit: str
    route: str
    frequency: str
    duration_days: int | None = None
    encounter_id: str | None = None
    instructions: str | None = None
    override_reason: str | None = None
    # The prescriber confirms a drug that is not in the medicine list (its allergy and
    # duplicate checks could only compare the name); without it such a drug is refused.
    unchecked_acknowledged: bool = False


@dataclass(frozen=True, kw_only=True)
class ChangeDose(Command):
    """Change an active prescription's dose (and optionally unit and frequency).
    `expected_dose` is the dose the clinician saw, so a concurrent change is not overwritten."""

    REBASABLE = True

    LABEL = N_("change doses")
    prescription_id: str
    dose: float
    dose_unit: str | None = None
    frequency: str | None = None
    expected_dose: float | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class DiscontinueMedication(Command):
    REBASABLE = True
    LABEL = N_("discontinue medications")
    prescription_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class AddNote(Command):
    LABEL = N_("write notes")
    note_id: str | None = None
    text: str
    encounter_id: str | None = None


# -- immunizations -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecordImmunization(Command):
    """A vaccine dose given here, or (`historical`) one written on a card the patient brought:
    staff may record only the latter (checked in decide)."""

    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("record immunizations")
    immunization_id: str | None = None
    vaccine: str  # a vaccine of the bundled list: id, name or CVX code
    dose_number: int
    given_on: str | None = None  # a date (2026-11-30) or an instant; default now
    lot: str | None = None
    lot_expiry: str | None = None  # a date
    site: str | None = None
    route: str | None = None
    historical: bool = False
    source: str | None = None  # where a historical dose is known from ("card", a clinic)
    encounter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordTestResult(Command):
    """The result of a bundled point-of-care test (resources/codes/poc_tests.json). `test` is
    its key or LOINC code; `value` a numeric result (in the test's unit), `result` a word of
    its scale (negative, positive, invalid, trace, 1+ ...)."""

    LABEL = N_("record test results")
    result_id: str | None = None
    test: str
    value: float | None = None
    result: str | None = None
    specimen: str | None = None
    taken_at: str | None = None
    encounter_id: str | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordUrineDipstick(Command):
    """One urine test strip read at once: a grade for each pad read (None: not read). Each
    becomes its own test result, as if recorded one by one with RecordTestResult."""

    LABEL = N_("record test results")
    protein: str | None = None
    glucose: str | None = None
    leukocytes: str | None = None
    nitrite: str | None = None
    blood: str | None = None
    ketones: str | None = None
    taken_at: str | None = None
    encounter_id: str | None = None
    note: str | None = None


# -- scheduling ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ScheduleFollowUp(Command):
    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("schedule appointments")
    appointment_id: str | None = None
    clinician: str
    start: str
    duration_minutes: int = 15
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RescheduleAppointment(Command):
    REBASABLE = True
    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("move appointments")
    appointment_id: str
    start: str
    expected_start: str | None = None
    duration_minutes: int | None = None


@dataclass(frozen=True, kw_only=True)
class CancelAppointment(Command):
    REBASABLE = True
    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("cancel appointments")
    appointment_id: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class MarkAttended(Command):
    REBASABLE = True
    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("mark attendance")
    appointment_id: str


@dataclass(frozen=True, kw_only=True)
class MarkNoShow(Command):
    REBASABLE = True
    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("mark no-shows")
    appointment_id: str


# -- referrals ---------------------------------------------------------------------------

# FHIR request-priority codes, most routine first (docs/clinical/referrals.md).
URGENCIES = ("routine", "urgent", "asap", "stat")


@dataclass(frozen=True, kw_only=True)
class ReferPatient(Command):
    """Refer the patient to another facility. `summary_item_ids` are the chart items the
    clinician ticked for the clinical summary; decide snapshots their text."""

    LABEL = N_("refer patients")
    referral_id: str | None = None
    to_facility: str = ""
    # The receiving facility's Organization id on the central server, when IT knows it.
    facility_organization_id: str | None = None
    reason: str = ""
    urgency: str = "routine"
    summary_item_ids: tuple[str, ...] = ()
    note: str | None = None
    encounter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CancelReferral(Command):
    """Revoke a referral. `expected_status` is the status the clinician saw, so a referral
    the receiving facility completed meanwhile is not revoked behind its back."""

    REBASABLE = True
    LABEL = N_("cancel referrals")
    referral_id: str
    reason: str
    expected_status: str | None = None

    @property
    def status(self) -> str:
        """The status this command gives the referral (a rebase conflict shows it as mine)."""
        return "revoked"


# -- follow-up calls (docs/front-desk/follow-up-calls.md) ---------------------------------

# What a follow-up call came to. The first two need a next call date; the terminal ones
# (moved, died, refused) take the patient off the worklist and forbid one.
CALL_OUTCOMES = (
    "agreed-to-come",
    "remind-later",
    "wrong-number",
    "no-answer",
    "moved",
    "died",
    "refused",
)
CALL_NEEDS_NEXT_DATE = frozenset({"remind-later", "no-answer"})
CALL_ENDS_FOLLOW_UP = frozenset({"moved", "died", "refused"})


@dataclass(frozen=True, kw_only=True)
class RecordCallAttempt(Command):
    """A follow-up call to a patient, usually about a missed appointment."""

    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("record follow-up calls")
    call_id: str | None = None
    appointment_id: str | None = None
    outcome: str = ""
    note: str | None = None
    next_call_on: str | None = None  # a date, YYYY-MM-DD
    called_at: str | None = None  # defaults to now; never in the future


@dataclass(frozen=True, kw_only=True)
class RemoveFromWorklist(Command):
    """Take the patient off the follow-up worklist (they stay findable); a later missed
    appointment brings them back."""

    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("remove patients from the call list")
    call_id: str | None = None
    reason: str = ""


# -- merging two records of one person (app/domain/merge.py) ----------------------------------


@dataclass(frozen=True, kw_only=True)
class MergePatients(Command):
    """Make `replaced_patient_id`'s record part of this patient's chart (the survivor). Items
    stay in their own stream and are linked, so UndoMerge unlinks exactly. Staff may merge
    records that hold demographics only (checked in decide)."""

    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("merge patient records")
    replaced_patient_id: str = ""
    reason: str = ""
    merge_id: str | None = None  # chosen by the client, generated when empty


@dataclass(frozen=True, kw_only=True)
class UndoMerge(Command):
    """Undo a merge in effect on this (the surviving) patient's chart."""

    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("undo merges of patient records")
    merge_id: str = ""
    reason: str = ""


# -- corrections ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MarkEnteredInError(Command):
    REBASABLE = True
    # Staff may retract appointments; clinical items need a clinician (checked in decide).
    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("mark items entered in error")
    item_id: str
    reason: str


# -- hypertension protocol (app/domain/hearts) ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DeclineProtocolSuggestion(Command):
    """A clinician declines the hypertension protocol's suggestion for one blood pressure
    reading (`vitals_id`), with a reason; recorded as a note too, so it reaches the server."""

    LABEL = N_("decline protocol suggestions")
    vitals_id: str
    suggestion: str  # the suggestion as it was shown ("Increase amlodipine to 10 mg ...")
    reason: str
    note_id: str | None = None


# -- sync conflicts ------------------------------------------------------------------------

RESOLUTIONS = ("keep-mine", "take-servers", "edit")


@dataclass(frozen=True, kw_only=True)
class ResolveSyncConflict(Command):
    """A person decides a needs-attention conflict: keep this device's value, take the
    server's, or enter a new one. Keep-mine and edit re-apply the value on the server's base."""

    REBASABLE = True

    ALLOWED_ROLES = FRONT_DESK
    LABEL = N_("resolve sync conflicts")
    conflict_command_id: str
    resolution: str
    field: str | None = None
    value: str | None = None


ALL_COMMANDS: tuple[type[Command], ...] = (
    RegisterPatient,
    UpdateDemographics,
    StartEncounter,
    FinishEncounter,
    RecordVitals,
    RecordDiagnosis,
    ResolveDiagnosis,
    RecordAllergy,
    UpdateAllergyStatus,
    PrescribeMedication,
    DiscontinueMedication,
    ChangeDose,
    AddNote,
    RecordTestResult,
    RecordUrineDipstick,
    RecordImmunization,
    ScheduleFollowUp,
    RescheduleAppointment,
    CancelAppointment,
    MarkAttended,
    MarkNoShow,
    MarkEnteredInError,
    ResolveSyncConflict,
    DeclineProtocolSuggestion,
    ReferPatient,
    CancelReferral,
    RecordCallAttempt,
    RemoveFromWorklist,
    MergePatients,
    UndoMerge,
)
COMMANDS_BY_NAME: dict[str, type[Command]] = {c.__name__: c for c in ALL_COMMANDS}
