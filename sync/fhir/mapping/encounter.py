"""Encounter <-> an encounter item (EncounterStarted / EncounterFinished)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.common import (
    ACT_CODE,
    Base,
    Json,
    child,
    coding,
    concept_text,
    drop_if_empty,
    expect_kind,
    mark_item,
    start_from,
    update_first_text_concept,
    update_instant,
    update_reference,
    update_status,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single

# `class` is written only when the server copy has none (another system may know better).
OWNED = frozenset({"status", "class", "subject", "period", "reasonCode", "extension"})
CODES = frozenset(
    {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
# Server codes that mean a domain status; other codes are kept as the item's status.
EQUIVALENTS = {"arrived": "in-progress", "triaged": "in-progress", "onleave": "in-progress"}


def to_fhir_encounter(patient_id: str, item: Item, base: Base) -> Json:
    """The Encounter to PUT for an encounter item, starting from the server's copy."""
    expect_kind(item, "encounter")
    resource = start_from(base, "Encounter", item.id)
    update_status(resource, "status", item, EQUIVALENTS, "entered-in-error")
    mark_item(resource, item)
    if "class" not in resource:
        resource["class"] = coding(ACT_CODE, "AMB", "ambulatory")
    update_reference(resource, "subject", "Patient", patient_id)
    period = child(resource, "period")
    update_instant(period, "start", item.data["started_at"])
    update_instant(period, "end", item.data.get("finished_at"))
    drop_if_empty(resource, "period")
    update_first_text_concept(resource, "reasonCode", item.data.get("reason"))
    return resource


def from_fhir_encounter(resource: Mapping[str, Any]) -> RemoteItem:
    """An encounter item from a server Encounter."""
    r = Reader(resource, "Encounter")
    code = r.code(resource.get("status"), "status", CODES)
    if code is None:
        r.fail("status", "is missing")
    patient_id = r.patient(resource.get("subject"))
    period = r.obj(resource.get("period"), "period") or {}
    started = r.date_time(period.get("start"), "period.start")
    if started is None:
        r.unsupported("period.start", "is missing; the chart needs a start time")
    finished = r.date_time(period.get("end"), "period.end")
    reasons = r.array(resource.get("reasonCode"), "reasonCode")
    inferred = "finished" if finished else "in-progress"
    status, in_error, extra = r.status(code, EQUIVALENTS, "entered-in-error", inferred)
    data: dict[str, Any] = {
        "encounter_id": r.id,
        "started_at": started,
        "reason": concept_text(r.concept(reasons[0], "reasonCode[0]")) if reasons else None,
    }
    if status == "finished":
        data["finished_at"] = finished
    data.update(extra)
    return single("encounter", "Encounter", r.id, patient_id, r.version_id, status, in_error, data)
