"""What `decide` may know besides the chart: injected clock, ids, reference data, schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from app.domain.chart import PatientChart
from app.domain.reference import Catalog
from app.domain.roles import Actor

# (clinician, start, end, appointment to ignore) -> id of a clashing booked appointment, or None
SlotLookup = Callable[[str, datetime, datetime, str | None], str | None]


# item id -> True if any chart on this device already has an item with that id
ItemIdLookup = Callable[[str], bool]


def _no_clash(clinician: str, start: datetime, end: datetime, ignore: str | None) -> str | None:
    return None


def _never_taken(item_id: str) -> bool:
    return False


# -> the names of the clinicians one may book on this device, or None when it cannot know
ClinicianLookup = Callable[[], frozenset[str] | None]


def _unknown_clinicians() -> frozenset[str] | None:
    return None


# patient id -> that patient's chart on this device (None: not here); a merge reads both.
ChartLookup = Callable[[str], "PatientChart | None"]
# patient id -> the survivor whose chart this record was merged into, or None.
ReplacedLookup = Callable[[str], str | None]


def _no_chart(patient_id: str) -> PatientChart | None:
    return None


def _not_replaced(patient_id: str) -> str | None:
    return None


@dataclass(frozen=True)
class DecisionContext:
    now: datetime
    actor: Actor
    new_id: Callable[[], str]
    catalog: Catalog = field(default_factory=Catalog)
    clashing_appointment: SlotLookup = _no_clash
    # Item ids become FHIR resource ids, so a client-chosen id must be unused on every chart.
    item_id_taken: ItemIdLookup = _never_taken
    # A follow-up is booked with one of these (None: the device has no clinician users to
    # check against, e.g. a front-desk-only device).
    clinicians: ClinicianLookup = _unknown_clinicians
    # The calendar day where the device is (the services know its time zone; the domain does
    # not): near the date line it differs from the UTC day of `now`.
    local_today: date | None = None
    # Merging (app/domain/merge.py): the other record's chart, and who replaced a record.
    chart_of: ChartLookup = _no_chart
    replaced_by: ReplacedLookup = _not_replaced

    @property
    def today(self) -> date:
        return self.local_today if self.local_today is not None else self.now.date()
