"""Plain data the services hand to the UI, the CLI and sync. No SQL rows, no domain state."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from app.domain.wording import text_from_json
from app.i18n import say


@dataclass(frozen=True)
class Changes:
    """What an executed command changed, so views refresh only what they show."""

    command_id: str
    patient_id: str
    command_type: str
    events: list[str]
    item_ids: list[str]
    warnings: list[str] = field(default_factory=list)
    areas: list[str] = field(default_factory=list)  # "patients", "chart", "schedule", "audit"
    duplicate: bool = False  # the same command_id was already executed; nothing new recorded

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PatientSummary:
    patient_id: str
    given: str
    family: str
    birth_date: str
    sex: str
    phone: str | None
    address: str | None
    identifiers: list[dict[str, str]]


@dataclass(frozen=True)
class ItemView:
    item_id: str
    kind: str
    status: str
    entered_in_error: bool
    clinical_time: str
    recorded_at: str
    recorded_by: str
    data: dict[str, Any]


@dataclass(frozen=True)
class TimelineEntry:
    position: int
    occurred_at: str
    recorded_at: str
    user: str
    role: str
    kind: str
    type: str
    item_id: str | None
    words: str  # the line as kept: the domain's Text as JSON (app/projections/timeline.py)
    entered_in_error: bool

    @cached_property
    def text(self) -> str:
        """The line in the reader's language, rendered when first read: a chart of a thousand
        entries opens without rendering the ones nobody scrolls to."""
        return say(text_from_json(self.words))


@dataclass(frozen=True)
class ImmunizationDue:
    """A scheduled dose not yet given that is due or overdue (app/domain/immunization_schedule)."""

    series_id: str
    series_name: str
    dose: int
    status: str  # "due" | "overdue"
    due_on: str  # ISO date
    overdue_on: str  # the first day it counts as overdue
    vaccines: list[str]  # vaccine ids that give it (the form's choices)


@dataclass(frozen=True)
class ChartView:
    patient: PatientSummary
    age_years: int
    allergy_banner: list[str]
    problems: list[ItemView]
    allergies: list[ItemView]
    medications: list[ItemView]
    last_vitals: ItemView | None
    encounters: list[ItemView]
    notes: list[ItemView]
    appointments: list[ItemView]
    timeline: list[TimelineEntry]
    vitals_series: dict[str, list[tuple[str, float]]]
    as_of: str | None = None
    age_label: str = ""  # "12 d", "7 mo", "34 y"
    # Referrals, newest last, including finished and revoked ones (their status says so).
    referrals: list[ItemView] = field(default_factory=list)
    # Immunizations given or copied from cards (entered-in-error ones left out), oldest first,
    # and the scheduled doses due or overdue on the chart's day.
    immunizations: list[ItemView] = field(default_factory=list)
    immunizations_due: list[ImmunizationDue] = field(default_factory=list)
    #: Records other systems wrote that FieldChart does not model (read-only; entered-in-error
    #: ones included, flagged).
    other_records: list[ItemView] = field(default_factory=list)
    # Point-of-care test results, oldest first; test key -> [(taken at, value)] of numeric ones.
    test_results: list[ItemView] = field(default_factory=list)
    results_series: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    # Merges (docs/front-desk/merge.md): the survivor whose chart this record was merged into
    # (then this record is shown only to say so), the records merged into this chart, the ids
    # of the items that came from them, and where they disagree about an allergy.
    replaced_by: str | None = None
    merges: list[MergeView] = field(default_factory=list)
    merged_item_ids: list[str] = field(default_factory=list)
    merge_warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain values; each timeline line as its English text (JSON is for programs)."""
        data = asdict(self)
        data["timeline"] = [
            {
                **{k: v for k, v in entry.items() if k != "words"},
                "text": str(text_from_json(entry["words"])),
            }
            for entry in data["timeline"]
        ]
        return data


@dataclass(frozen=True)
class AppointmentView:
    appointment_id: str
    patient_id: str
    patient_name: str
    clinician: str
    start: str
    end_utc: str
    status: str
    reason: str | None


@dataclass(frozen=True)
class AuditEntry:
    position: int
    at: str
    user: str
    role: str
    device_id: str
    action: str
    patient_id: str | None
    command_id: str
    patient_name: str | None = None  # "Family, Given" from the patient index, if known
    subject: str = ""  # the user an admin action was about
    detail: str = ""  # a role, "recovery secret", settings' names, why an unlock failed


@dataclass(frozen=True)
class SyncCommandState:
    command_id: str
    command_type: str
    patient_id: str | None
    recorded_at: str
    status: str
    attempts: int
    last_error: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class SyncOverview:
    pending: int
    synced: int
    needs_attention: int
    attention: list[SyncCommandState] = field(default_factory=list)


@dataclass(frozen=True)
class MergeView:
    """A record merged into a chart, while the merge holds."""

    merge_id: str
    replaced_patient_id: str
    name: str  # "Family, Given" of the replaced record
    birth_date: str
    merged_at: str
