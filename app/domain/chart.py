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


@singledispatch
def evolve(chart: PatientChart, event: ev.DomainEvent) -> PatientChart:
    """Apply one event to the chart (in place) and return it."""
    raise TypeError(f"no evolve rule for {type(event).__name__}")


def _add(chart: PatientChart, kind: str, item_id: str, data: dict[str, Any], status: str) -> None:
    chart.items[item_id] = Item(kind, item_id, data, status)


def _set_status(chart: PatientChart, item_id: str, status: str, **data: Any) -> None:
    item = chart.items.get(item_id)
    if item is not None:
        item.status = status
        item.data.update(data)


@evolve.register
def _(chart: PatientChart, event: ev.PatientRegistered) -> PatientChart:
    chart.registered = True
    chart.demographics = {
        k: getattr(event, k) for k in ("given", "family", "birth_date", "sex", "phone", "address")
    }
    chart.identifiers = list(event.identifiers)
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.DemographicsUpdated) -> PatientChart:
    chart.demographics.update(event.changes)
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.EncounterStarted) -> PatientChart:
    _add(chart, "encounter", event.encounter_id, event.to_payload(), "in-progress")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.EncounterFinished) -> PatientChart:
    _set_status(chart, event.encounter_id, "finished", finished_at=event.finished_at)
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.VitalsRecorded) -> PatientChart:
    _add(chart, "vitals", event.vitals_id, event.to_payload(), "final")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.DiagnosisRecorded) -> PatientChart:
    _add(chart, "diagnosis", event.diagnosis_id, event.to_payload(), "active")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.DiagnosisResolved) -> PatientChart:
    _set_status(chart, event.diagnosis_id, "resolved", resolved_at=event.resolved_at)
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.AllergyRecorded) -> PatientChart:
    _add(chart, "allergy", event.allergy_id, event.to_payload(), "active")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.AllergyStatusChanged) -> PatientChart:
    _set_status(chart, event.allergy_id, event.status)
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.MedicationPrescribed) -> PatientChart:
    _add(chart, "medication", event.prescription_id, event.to_payload(), "active")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.MedicationDiscontinued) -> PatientChart:
    _set_status(
        chart,
        event.prescription_id,
        "stopped",
        discontinued_at=event.discontinued_at,
        discontinue_reason=event.reason,
    )
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.NoteAdded) -> PatientChart:
    _add(chart, "note", event.note_id, event.to_payload(), "current")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.AppointmentScheduled) -> PatientChart:
    _add(chart, "appointment", event.appointment_id, event.to_payload(), "booked")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.AppointmentRescheduled) -> PatientChart:
    item = chart.items.get(event.appointment_id)
    if item is not None:
        item.data.update(start=event.start, end=event.end)
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.AppointmentCancelled) -> PatientChart:
    _set_status(chart, event.appointment_id, "cancelled")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.AppointmentAttended) -> PatientChart:
    _set_status(chart, event.appointment_id, "fulfilled")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.AppointmentMissed) -> PatientChart:
    _set_status(chart, event.appointment_id, "noshow")
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.EnteredInError) -> PatientChart:
    item = chart.items.get(event.item_id)
    if item is not None:
        item.entered_in_error = True
        item.data["entered_in_error_reason"] = event.reason
    return chart


@evolve.register
def _(chart: PatientChart, event: ev.ChartViewed) -> PatientChart:
    return chart
