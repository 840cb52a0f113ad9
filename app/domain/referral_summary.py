"""The clinical summary a referral carries: a snapshot of the chart items a clinician ticked.

Each entry keeps the item's id and kind (so the FHIR ServiceRequest can point at the item's
resources) and one line of text as the item read when the referral was made. The snapshot is
part of the PatientReferred event, so what was sent stays recorded even if the chart changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.domain.chart import Item, PatientChart
from app.domain.errors import ValidationError
from app.domain.reference import vitals_line
from app.domain.wording import N_, t

# Kinds a clinician may put in a summary, in the order the summary lists them.
SUMMARY_KINDS = ("diagnosis", "allergy", "medication", "vitals", "test_result", "immunization")
KIND_HEADINGS = {
    "diagnosis": N_("Problem"),
    "allergy": N_("Allergy"),
    "medication": N_("Medication"),
    "vitals": N_("Vitals"),
    "test_result": N_("Test result"),
    "immunization": N_("Immunization"),
}
FIELD = "summary_item_ids"


def chosen_items(chart: PatientChart, item_ids: Iterable[str]) -> list[Item]:
    """The chart items named by `item_ids` (duplicates dropped), in summary order; refuses an
    id that is not a summarisable, current item of this chart."""
    if isinstance(item_ids, str):
        raise ValidationError(t("Clinical summary must be a list of chart item ids"), FIELD)
    found: dict[str, Item] = {}
    for item_id in item_ids:
        if not isinstance(item_id, str) or not item_id.strip():
            raise ValidationError(t("Clinical summary lists an empty item id"), FIELD)
        item = chart.items.get(item_id)
        if item is None:
            raise ValidationError(
                t(
                    "Clinical summary: there is no item {item_id!r} on this patient's chart",
                    item_id=item_id[:64],
                ),
                FIELD,
            )
        if item.entered_in_error:
            raise ValidationError(
                t(
                    "Clinical summary: item {item_id!r} was marked as entered in error",
                    item_id=item_id[:64],
                ),
                FIELD,
            )
        if item.kind not in SUMMARY_KINDS:
            raise ValidationError(
                t(
                    "Clinical summary: a {kind} cannot be part of a referral summary "
                    "(only {items})",
                    kind=item.kind,
                    items=", ".join(KIND_HEADINGS[k].lower() + "s" for k in SUMMARY_KINDS),
                ),
                FIELD,
            )
        found[item_id] = item
    return sorted(found.values(), key=lambda i: SUMMARY_KINDS.index(i.kind))


def summary_entry(item: Item) -> dict[str, Any]:
    """One summary entry: the item's id, kind and text (and, for vitals, which signs)."""
    entry: dict[str, Any] = {"item_id": item.id, "kind": item.kind, "text": line_of(item)}
    if item.kind == "vitals":
        signs = sorted((item.data.get("measurements") or {}).keys())
        if item.data.get("bmi") is not None:
            signs.append("bmi")
        entry["signs"] = signs
    return entry


def line_of(item: Item) -> str:
    """What the item says, in one line, prefixed by its heading."""
    return f"{KIND_HEADINGS.get(item.kind, item.kind)}: {_describe(item.kind, item.data)}"


def summary_text(entries: Iterable[Mapping[str, Any]]) -> str:
    """The summary as plain lines (what the ServiceRequest's note and the chart show)."""
    return "\n".join(str(e.get("text") or "") for e in entries)


def _describe(kind: str, d: Mapping[str, Any]) -> str:
    if kind == "diagnosis":
        code = f" ({d['code']})" if d.get("code") else ""
        return f"{d.get('text') or ''}{code}"
    if kind == "allergy":
        extra = [str(x) for x in (d.get("reaction"), d.get("severity")) if x]
        if d.get("criticality") == "high":
            extra.append("high criticality")
        return str(d.get("substance") or "?") + (f" ({', '.join(extra)})" if extra else "")
    if kind == "medication":
        dose = d.get("dose")
        dose_text = f"{dose:g}" if isinstance(dose, int | float) else str(dose or "")
        parts = [d.get("drug"), dose_text, d.get("dose_unit"), d.get("route"), d.get("frequency")]
        return " ".join(str(p) for p in parts if p)
    if kind == "vitals":
        # the referral's summary is kept in its event: its English words, as recorded
        line = str(vitals_line(d.get("measurements") or {}, d.get("bmi"))) or "no measurements"
        return f"{line} ({_day(d.get('taken_at'))})" if d.get("taken_at") else line
    if kind == "test_result":
        return _test_result(d)
    return _immunization(d)


def _test_result(d: Mapping[str, Any]) -> str:
    value = d.get("value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        shown = f"{value:g} {d.get('unit_label') or d.get('unit') or ''}".strip()
    else:
        shown = str(d.get("result") or "")
    text = f"{d.get('name') or d.get('test') or '?'} {shown}".strip()
    if d.get("abnormal"):
        text += f" [abnormal{', ' + str(d['interpretation']) if d.get('interpretation') else ''}]"
    return f"{text} ({_day(d.get('taken_at'))})" if d.get("taken_at") else text


def _immunization(d: Mapping[str, Any]) -> str:
    text = str(d.get("vaccine") or "?")
    if d.get("dose_number"):
        text += f" dose {d['dose_number']}"
    day = d.get("given_on") or d.get("given_at")
    return f"{text} ({_day(day)})" if day else text


def _day(moment: object) -> str:
    return str(moment)[:10]
