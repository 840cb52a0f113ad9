"""A patient's chart as the domain sees it, folded from the patient's events.

`evolve` is the only way state changes; `decide` (elsewhere) reads this state to validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any

from app.domain import events as ev

ITEM_KINDS = ("encounter", "vitals", "diagnosis", "allergy", "medication", "note", "appointment")


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
    "appointment": frozenset({"booked"}),
}


@dataclass
class PatientChart:
    patient_id: str
    demographics: dict[str, Any] = field(default_factory=dict)
    identifiers: list[dict[str, str]] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)
    registered: bool = False

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
    """Apply one event to the chart (in place) and return it."""
    _apply(event, chart)
    return chart


@singledispatch
def _apply(event: ev.DomainEvent, chart: PatientChart) -> None:
    # singledispatch picks the rule by the type of the first argument: the event.
    raise TypeError(f"no evolve rule for {type(event).__name__}")


def _add(chart: PatientChart, kind: str, item_id: str, data: dict[str, Any], status: str) -> None:
    chart.items[item_id] = Item(kind, item_id, data, status)


def _set_status(chart: PatientChart, item_id: str, status: str, **data: Any) -> None:
    item = chart.items.get(item_id)
    if item is not None:
        item.status = status
        item.data.update(data)


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
def _(event: ev.EncounterStarted, chart: PatientChart) -> None:
    _add(chart, "encounter", event.encounter_id, event.to_payload(), "in-progress")


@_apply.register
def _(event: ev.EncounterFinished, chart: PatientChart) -> None:
    _set_status(chart, event.encounter_id, "finished", finished_at=event.finished_at)


@_apply.register
def _(event: ev.VitalsRecorded, chart: PatientChart) -> None:
    _add(chart, "vitals", event.vitals_id, event.to_payload(), "final")


@_apply.register
def _(event: ev.DiagnosisRecorded, chart: PatientChart) -> None:
    _add(chart, "diagnosis", event.diagnosis_id, event.to_payload(), "active")


@_apply.register
def _(event: ev.DiagnosisResolved, chart: PatientChart) -> None:
    _set_status(chart, event.diagnosis_id, "resolved", resolved_at=event.resolved_at)


@_apply.register
def _(event: ev.AllergyRecorded, chart: PatientChart) -> None:
    _add(chart, "allergy", event.allergy_id, event.to_payload(), "active")


@_apply.register
def _(event: ev.AllergyStatusChanged, chart: PatientChart) -> None:
    _set_status(chart, event.allergy_id, event.status)


@_apply.register
def _(event: ev.MedicationPrescribed, chart: PatientChart) -> None:
    _add(chart, "medication", event.prescription_id, event.to_payload(), "active")


@_apply.register
def _(event: ev.MedicationDoseChanged, chart: PatientChart) -> None:
    item = chart.items.get(event.prescription_id)
    if item is not None:
        item.data.update(dose=event.dose, dose_unit=event.dose_unit, frequency=event.frequency)


@_apply.register
def _(event: ev.MedicationDiscontinued, chart: PatientChart) -> None:
    _set_status(
        chart,
        event.prescription_id,
        "stopped",
        discontinued_at=event.discontinued_at,
        discontinue_reason=event.reason,
    )


@_apply.register
def _(event: ev.NoteAdded, chart: PatientChart) -> None:
    _add(chart, "note", event.note_id, event.to_payload(), "current")


@_apply.register
def _(event: ev.AppointmentScheduled, chart: PatientChart) -> None:
    _add(chart, "appointment", event.appointment_id, event.to_payload(), "booked")


@_apply.register
def _(event: ev.AppointmentRescheduled, chart: PatientChart) -> None:
    item = chart.items.get(event.appointment_id)
    if item is not None:
        item.data.update(start=event.start, end=event.end)


@_apply.register
def _(event: ev.AppointmentCancelled, chart: PatientChart) -> None:
    # The reason travels with the item: the push of this cancellation carries it.
    _set_status(chart, event.appointment_id, "cancelled", cancel_reason=event.reason)


@_apply.register
def _(event: ev.AppointmentAttended, chart: PatientChart) -> None:
    _set_status(chart, event.appointment_id, "fulfilled")


@_apply.register
def _(event: ev.AppointmentMissed, chart: PatientChart) -> None:
    _set_status(chart, event.appointment_id, "noshow")


@_apply.register
def _(event: ev.EnteredInError, chart: PatientChart) -> None:
    item = chart.items.get(event.item_id)
    if item is not None:
        item.entered_in_error = True
        item.data["entered_in_error_reason"] = event.reason


@_apply.register
def _(event: ev.ChartViewed, chart: PatientChart) -> None:
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
def _(event: ev.SyncConflictResolved, chart: PatientChart) -> None:
    return None
