"""One-line descriptions of chart items, shared by the summary, pickers and lists."""

from __future__ import annotations

from typing import Any

from app.domain.poc_tests import result_text
from app.domain.reference import vitals_line
from app.services.dto import ItemView
from app.ui.formatting import number, time_of_day, when

KIND_LABELS = {
    "encounter": "Encounter",
    "vitals": "Vitals",
    "diagnosis": "Problem",
    "allergy": "Allergy",
    "medication": "Medication",
    "note": "Note",
    "appointment": "Follow-up",
    "referral": "Referral",
    "test_result": "Test result",
    "immunization": "Immunization",
    "call": "Follow-up call",
}


def vitals_text(measurements: dict[str, Any], bmi: Any = None) -> str:
    """A set of vitals in one line, as the timeline writes it."""
    return vitals_line(measurements, bmi) or "no measurements"


def describe(item: ItemView) -> str:
    """What the item is, in one line a clinician recognises."""
    d = item.data
    if item.kind == "diagnosis":
        code = f"{d['code']} " if d.get("code") else ""
        return f"{code}{d.get('text') or ''}".strip()
    if item.kind == "allergy":
        extra = [x for x in (d.get("reaction"), d.get("severity")) if x]
        if d.get("criticality") == "high":
            extra.append("HIGH criticality")
        text = d.get("substance", "?")
        text = f"{text} ({', '.join(extra)})" if extra else str(text)
        if d.get("unresolved"):
            text += " — not matched to the medicine list: only its exact name is checked"
        return text
    if item.kind == "medication":
        text = (
            f"{d.get('drug')} {number(d.get('dose') or 0)} {d.get('dose_unit', '')} "
            f"{d.get('route', '')} {d.get('frequency', '')}"
        )
        if d.get("duration_days"):
            text += f" for {d['duration_days']} days"
        return " ".join(text.split()) + "".join(medication_markers(d))
    if item.kind == "vitals":
        return vitals_text(d.get("measurements") or {}, d.get("bmi"))
    if item.kind == "note":
        first = (d.get("text") or "").splitlines()
        return (first[0][:90] + ("…" if len(first[0]) > 90 else "")) if first else "(empty)"
    if item.kind == "encounter":
        reason = f" — {d['reason']}" if d.get("reason") else ""
        return f"{when(d.get('started_at'))}{reason} ({item.status})"
    if item.kind == "test_result":
        flag = " — abnormal" if d.get("abnormal") else ""
        return f"{d.get('name', '?')}: {result_text(d)}{flag} ({when(item.clinical_time)})"
    if item.kind == "immunization":
        dose = f" dose {d['dose_number']}" if d.get("dose_number") else ""
        how = " (card)" if d.get("historical") else ""
        day = d.get("given_on") or when(item.clinical_time)
        return f"{d.get('vaccine', '?')}{dose}, {day}{how}"
    if item.kind == "referral":
        return f"to {d.get('to_facility') or '—'}: {d.get('reason') or '—'} ({item.status})"
    if item.kind == "call":
        then = f", call again {d['next_call_on']}" if d.get("next_call_on") else ""
        return f"{str(d.get('outcome', '?')).replace('-', ' ')}{then} ({when(item.clinical_time)})"
    if item.kind == "appointment":
        return f"{time_of_day(d.get('start', ''))} with {d.get('clinician', '?')} ({item.status})"
    return item.item_id


def medication_markers(data: dict[str, Any]) -> list[str]:
    """What a clinician must see next to a prescription: a given-despite-allergy override with
    its reason, and a drug no allergy or duplicate check could look at."""
    markers = []
    if data.get("override_reason"):
        markers.append(f" — given despite allergy: {data['override_reason']}")
    if data.get("unchecked"):
        markers.append(" — ⚠ not in the medicine list: allergies and duplicates not checked")
    return markers


def labelled(item: ItemView) -> str:
    return f"{KIND_LABELS.get(item.kind, item.kind)}: {describe(item)}"
