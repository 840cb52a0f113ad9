"""A patient's chart as the domain sees it, folded from the patient's events.

`evolve` is the only way state changes; `decide` (elsewhere) reads this state to validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any

from app.domain import events as ev
from app.domain.item_status import changed_by, created_by
from app.domain.other_records import OTHER_ACTIVE_STATUSES


@dataclass
class Item:
    """One thing recorded on the chart (an encounter, a set of vitals, a diagnosis, ...)."""

    kind: str
    id: str
    data: dict[str, Any]
    status: str
    entered_in_error: bool = False

    @property
    def active(self) -> bool:
        return not self.entered_in_error and self.status in ACTIVE_STATUSES[self.kind]


ACTIVE_STATUSES: dict[str, frozenset[str]] = {
    "encounter": frozenset({"in-progress", "finished"}),
    "vitals": frozenset({"final"}),
    "diagnosis": frozenset({"active"}),
    "allergy": frozenset({"active"}),
    "medication": frozenset({"active"}),
    "note": frozenset({"current"}),
    "test_result": frozenset({"final"}),
    "immunization": frozenset({"completed"}),
    "appointment": frozenset({"booked"}),
    # Open referrals: not yet completed, revoked or entered in error.
    "referral": frozenset({"draft", "active", "on-hold"}),
    # Follow-up calls (and worklist removals): every recorded attempt counts.
    "call": frozenset({"completed", "not-done"}),
    # Records other systems wrote (read-only, app/domain/other_records.py): all but the
    # statuses that say it did not happen or no longer holds.
    "other": OTHER_ACTIVE_STATUSES,
}


@dataclass
class PatientChart:
    patient_id: str
    demographics: dict[str, Any] = field(default_factory=dict)
    identifiers: list[dict[str, str]] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)
    registered: bool = False
    # Vitals id -> the declined hypertension protocol suggestion for it (app/domain/hearts).
    protocol_declines: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Records merged into this chart and still linked: replaced patient id -> merge id
    # (app/domain/merge.py). Their items stay in their own streams.
    merged: dict[str, str] = field(default_factory=dict)

    def item(self, item_id: str, kind: str | None = None) -> Item | None:
        found = self.items.get(item_id)
        if found is None or (kind is not None and found.kind != kind):
            return None
        return found

    def of_kind(self, kind: str) -> list[Item]:
        return [i for i in self.items.values() if i.kind == kind]


def fold(patient_id: str, history: list[ev.DomainEvent]) -> PatientChart:
    chart = PatientChart(patient_id)
    for event in history:
        evolve(chart, event)
    return chart


def evolve(chart: PatientChart, event: ev.DomainEvent) -> PatientChart:
    """Apply one event to the chart (in place) and return it. What an event does to an item
    is in app.domain.item_status (shared with the read models); the rest is below."""
    if not _change_item(event, chart):
        _apply(event, chart)
    return chart


@singledispatch
def _apply(event: ev.DomainEvent, chart: PatientChart) -> None:
    # singledispatch picks the rule by the type of the first argument: the event.
    raise TypeError(f"no evolve rule for {type(event).__name__}")


def _change_item(event: ev.DomainEvent, chart: PatientChart) -> bool:
    """Apply the item_status table's rule for `event`, if it has one (True if it had)."""
    created = created_by(event)
    if created is not None:
        chart.items[created.item_id] = Item(
            created.kind, created.item_id, created.data, created.status
        )
        return True
    change = changed_by(event)
    if change is None:
        return False
    item = chart.items.get(change.item_id)
    if item is not None:
        if change.status is not None:
            item.status = change.status
        item.data.update(change.data)
        if change.entered_in_error:
            item.entered_in_error = True
    return True


@_apply.register
def _(event: ev.PatientRegistered, chart: PatientChart) -> None:
    chart.registered = True
    chart.demographics = {
        k: getattr(event, k) for k in ("given", "family", "birth_date", "sex", "phone", "address")
    }
    chart.identifiers = list(event.identifiers)


@_apply.register
def _(event: ev.DemographicsUpdated, chart: PatientChart) -> None:
    chart.demographics.update(event.changes)


@_apply.register
def _(event: ev.ChartViewed, chart: PatientChart) -> None:
    return None


@_apply.register
def _(event: ev.ChartPrinted, chart: PatientChart) -> None:
    return None


@_apply.register
def _(event: ev.PatientVersionReceived, chart: PatientChart) -> None:
    chart.registered = True
    chart.demographics = {
        k: event.demographics.get(k)
        for k in ("given", "family", "birth_date", "sex", "phone", "address")
    }
    chart.identifiers = list(event.identifiers)


def received_data(existing: dict[str, Any] | None, event: ev.ItemVersionReceived) -> dict[str, Any]:
    """The item's data after a server version arrived. A vitals set arrives one Observation
    (one sign) at a time, so its measurements merge; every other kind is replaced whole."""
    if event.item_kind != "vitals" or existing is None:
        return dict(event.data)
    merged = {**existing, **event.data}
    merged["measurements"] = {
        **(existing.get("measurements") or {}),
        **(event.data.get("measurements") or {}),
    }
    if event.data.get("bmi") is None and existing.get("bmi") is not None:
        merged["bmi"] = existing["bmi"]
    return merged


@_apply.register
def _(event: ev.ItemVersionReceived, chart: PatientChart) -> None:
    existing = chart.items.get(event.item_id)
    data = received_data(existing.data if existing else None, event)
    chart.items[event.item_id] = Item(
        event.item_kind, event.item_id, data, event.status, event.entered_in_error
    )


@_apply.register
def _(event: ev.ProtocolSuggestionDeclined, chart: PatientChart) -> None:
    chart.protocol_declines[event.vitals_id] = event.to_payload()


@_apply.register
def _(event: ev.SyncConflictResolved, chart: PatientChart) -> None:
    return None


@_apply.register
def _(event: ev.ServerChangeHeld | ev.ServerChangeDecided, chart: PatientChart) -> None:
    # A note for people (timeline, audit): what the chart holds changes only when an accepted
    # server version is recorded (app/services/sync_gateway.py).
    return None


@_apply.register
def _(event: ev.PatientMerged, chart: PatientChart) -> None:
    chart.merged[event.replaced_patient_id] = event.merge_id


@_apply.register
def _(event: ev.MergeUndone, chart: PatientChart) -> None:
    if chart.merged.get(event.replaced_patient_id) == event.merge_id:
        del chart.merged[event.replaced_patient_id]
