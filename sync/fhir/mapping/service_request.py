"""ServiceRequest <-> a referral item (PatientReferred / ReferralCancelled).

A referral is a ServiceRequest with intent "order", category SNOMED CT 3457005 "Patient
referral" and code 306206005 "Referral to service" (docs/clinical/referrals.md cites them);
priority is the urgency (request-priority), performer the receiving facility (an Organization
reference when its server id is known, else a display), reasonCode the reason as text.

Ours in `note` are two Annotations, each marked by a FieldChart extension: the clinical
summary as it was sent (its text, and in the extension which chart items it came from) and
the clinician's note. Annotations without our marks are the receiving facility's notes: kept,
and read as `facility_notes`. `supportingInfo` points at the summarised items' resources (our
references are added, others' kept). Only the first performer and the first reasonCode are
ours.

R4 ServiceRequest has no element for when or why its status changed, so a revocation's time
and reason travel in a FieldChart extension (with the status they belong to); a status another
system set is dated by the server's meta.lastUpdated, the best the resource says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.common import (
    FIELDCHART,
    Base,
    Json,
    ResourceKey,
    coding,
    concept_text,
    expect_kind,
    find_extension,
    has_code,
    mark_item,
    parse_reference,
    put,
    reference_to,
    referenced_id,
    set_extension,
    start_from,
    sub_extensions,
    update_first_text_concept,
    update_recorded,
    update_reference,
    update_status,
    update_value,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single
from sync.fhir.mapping.times import instant_key

SNOMED = "http://snomed.info/sct"
PATIENT_REFERRAL = ("3457005", "Patient referral")
REFERRAL_TO_SERVICE = ("306206005", "Referral to service")
EXT_STATUS_CHANGE = f"{FIELDCHART}:extension:status-change"  # status, at, reason
EXT_SUMMARY = f"{FIELDCHART}:extension:referral-summary"  # on the summary Annotation: item*
EXT_NOTE = f"{FIELDCHART}:extension:referral-note"  # on the clinician's note Annotation
# `intent`, `category` and `code` are written only on ServiceRequests FieldChart creates.
OWNED = frozenset(
    {
        "status",
        "intent",
        "category",
        "code",
        "priority",
        "subject",
        "encounter",
        "authoredOn",
        "performer",
        "reasonCode",
        "supportingInfo",
        "note",
        "extension",
    }
)
CODES = frozenset(
    {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
)
PRIORITIES = frozenset({"routine", "urgent", "asap", "stat"})


def to_fhir_service_request(
    patient_id: str, item: Item, base: Base, *, supporting: Sequence[ResourceKey] = ()
) -> Json:
    """The ServiceRequest to PUT for a referral item, starting from the server's copy.
    `supporting`: the resources of the items its clinical summary was made from."""
    expect_kind(item, "referral")
    data = item.data
    resource = start_from(base, "ServiceRequest", item.id)
    update_status(resource, "status", item, {}, "entered-in-error")
    mark_item(resource, item)
    _update_status_change(resource, item)
    if "intent" not in resource:
        resource["intent"] = "order"
    if base is None:
        resource["category"] = [{"coding": [coding(SNOMED, *PATIENT_REFERRAL)]}]
        resource["code"] = {"coding": [coding(SNOMED, *REFERRAL_TO_SERVICE)]}
    update_value(resource, "priority", data.get("urgency"))
    update_reference(resource, "subject", "Patient", patient_id)
    update_reference(resource, "encounter", "Encounter", data.get("encounter_id"))
    update_recorded(resource, "authoredOn", data["referred_at"], base)
    _update_performer(resource, data.get("to_facility"), data.get("facility_organization_id"))
    update_first_text_concept(resource, "reasonCode", data.get("reason"))
    _update_supporting(resource, supporting)
    _update_notes(resource, data)
    return resource


def summary_items(item: Item) -> list[Item]:
    """The summarised chart items as far as the summary knows them (id, kind, and which
    signs of a vitals set), so the caller can name their resources."""
    found = []
    for entry in item.data.get("summary") or []:
        signs = list(entry.get("signs") or [])
        data: dict[str, Any] = {}
        if entry.get("kind") == "vitals":
            data = {
                "measurements": {s: 0 for s in signs if s != "bmi"},
                "bmi": 0 if "bmi" in signs else None,
            }
        found.append(Item(str(entry.get("kind")), str(entry.get("item_id")), data, ""))
    return found


def _performer(resource: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(facility name, Organization id) of the first performer."""
    performers = resource.get("performer")
    first = performers[0] if isinstance(performers, list) and performers else None
    if not isinstance(first, Mapping):
        return None, None
    display = first.get("display")
    name = display if isinstance(display, str) and display else None
    return name, referenced_id(first, "Organization")


def _update_performer(resource: Json, facility: str | None, organization: str | None) -> None:
    if _performer(resource) == (facility, organization):
        return
    current = resource.get("performer")
    rest = list(current[1:]) if isinstance(current, list) else []
    ours: Json = {"display": facility} if facility else {}
    if organization:
        ours = {**reference_to("Organization", organization), **ours}
    put(resource, "performer", ([ours] if ours else []) + rest)


def _update_supporting(resource: Json, keys: Sequence[ResourceKey]) -> None:
    current = resource.get("supportingInfo")
    entries = list(current) if isinstance(current, list) else []
    present = {parse_reference(e.get("reference")) for e in entries if isinstance(e, Mapping)}
    missing = [reference_to(*key) for key in dict.fromkeys(keys) if (key[0], key[1]) not in present]
    if missing:
        resource["supportingInfo"] = entries + missing


def _marked(annotation: Any, url: str) -> bool:
    return isinstance(annotation, Mapping) and find_extension(annotation, url) is not None


def _summary_annotation(data: Mapping[str, Any]) -> Json | None:
    entries = data.get("summary") or []
    if not entries:
        return None
    items = []
    for entry in entries:
        parts: list[Json] = [
            {"url": "id", "valueString": entry["item_id"]},
            {"url": "kind", "valueCode": entry["kind"]},
            {"url": "text", "valueString": entry["text"]},
        ]
        parts += [{"url": "sign", "valueCode": s} for s in entry.get("signs") or []]
        items.append({"url": "item", "extension": parts})
    return {
        "extension": [{"url": EXT_SUMMARY, "extension": items}],
        "time": data["referred_at"],
        "text": "Clinical summary:\n" + "\n".join(str(e["text"]) for e in entries),
    }


def _update_notes(resource: Json, data: Mapping[str, Any]) -> None:
    current = resource.get("note")
    notes = list(current) if isinstance(current, list) else []
    others = [n for n in notes if not (_marked(n, EXT_SUMMARY) or _marked(n, EXT_NOTE))]
    summary = next((n for n in notes if _marked(n, EXT_SUMMARY)), None)
    note = next((n for n in notes if _marked(n, EXT_NOTE)), None)
    if _read_summary(summary) != list(data.get("summary") or []):
        summary = _summary_annotation(data)
    wanted_note = data.get("note")
    if (note.get("text") if isinstance(note, Mapping) else None) != wanted_note:
        note = (
            {"extension": [{"url": EXT_NOTE, "valueBoolean": True}], "text": wanted_note}
            if wanted_note
            else None
        )
    ours = [n for n in (summary, note) if n is not None]
    put(resource, "note", ours + others)


def _read_summary(annotation: Any) -> list[dict[str, Any]]:
    """The summary entries our extension on the summary Annotation holds."""
    if not isinstance(annotation, Mapping):
        return []
    entries = []
    for item in sub_extensions(find_extension(annotation, EXT_SUMMARY), "item"):
        values = {}
        for part in item.get("extension") or []:
            if isinstance(part, Mapping) and part.get("url") in ("id", "kind", "text"):
                values[part["url"]] = part.get("valueString", part.get("valueCode"))
        entry: dict[str, Any] = {
            "item_id": values.get("id"),
            "kind": values.get("kind"),
            "text": values.get("text"),
        }
        if entry["kind"] == "vitals":
            entry["signs"] = [
                s.get("valueCode") for s in sub_extensions(item, "sign") if "valueCode" in s
            ]
        entries.append(entry)
    return entries


def _update_status_change(resource: Json, item: Item) -> None:
    at = item.data.get("status_changed_at")
    wanted: Json | None = None
    if at and item.status != "active":
        parts: list[Json] = [
            {"url": "status", "valueCode": item.status},
            {"url": "at", "valueDateTime": at},
        ]
        if item.data.get("status_reason"):
            parts.append({"url": "reason", "valueString": item.data["status_reason"]})
        wanted = {"url": EXT_STATUS_CHANGE, "extension": parts}
    current = find_extension(resource, EXT_STATUS_CHANGE)
    if _status_change(current) == _status_change(wanted):
        return
    set_extension(resource, EXT_STATUS_CHANGE, wanted)


def _status_change(extension: Mapping[str, Any] | None) -> tuple[Any, Any, Any]:
    """(status, instant key of the time, reason) of our status-change extension."""
    values: dict[str, Any] = {}
    for url, key in (("status", "valueCode"), ("at", "valueDateTime"), ("reason", "valueString")):
        found = sub_extensions(extension, url)
        values[url] = found[0].get(key) if found else None
    return values["status"], instant_key(values["at"]), values["reason"]


def is_referral(resource: Mapping[str, Any]) -> bool:
    """True if a ServiceRequest is a patient referral (by category or code)."""
    categories = resource.get("category")
    return any(
        has_code(c, SNOMED, PATIENT_REFERRAL[0])
        for c in (categories if isinstance(categories, list) else [])
    ) or has_code(resource.get("code"), SNOMED, REFERRAL_TO_SERVICE[0])


def from_fhir_service_request(resource: Mapping[str, Any]) -> RemoteItem:
    """A referral item from a server ServiceRequest."""
    r = Reader(resource, "ServiceRequest")
    code = r.code(resource.get("status"), "status", CODES)
    if code is None:
        r.fail("status", "is missing")
    patient_id = r.patient(resource.get("subject"))
    for i, category in enumerate(r.array(resource.get("category"), "category")):
        r.concept(category, f"category[{i}]")
    r.concept(resource.get("code"), "code")
    if not is_referral(resource):
        r.unsupported("category", "is not a patient referral (SNOMED CT 3457005)")
    priority = r.code(resource.get("priority"), "priority", PRIORITIES)
    performers = r.array(resource.get("performer"), "performer")
    if performers:
        r.obj(performers[0], "performer[0]")
    facility, organization = _performer(resource)
    reasons = r.array(resource.get("reasonCode"), "reasonCode")
    reason = concept_text(r.concept(reasons[0], "reasonCode[0]")) if reasons else None
    notes = r.array(resource.get("note"), "note")
    for i, note in enumerate(notes):
        r.obj(note, f"note[{i}]")
    status, in_error, extra = r.status(code, {}, "entered-in-error", "active")
    note = next((n.get("text") for n in notes if _marked(n, EXT_NOTE)), None)
    data: dict[str, Any] = {
        "referral_id": r.id,
        "to_facility": facility,
        "reason": reason,
        "urgency": priority,
        "referred_at": r.recorded(resource.get("authoredOn"), "authoredOn"),
        "summary": _read_summary(next((n for n in notes if _marked(n, EXT_SUMMARY)), None)),
        "facility_organization_id": organization,
        "note": note if isinstance(note, str) else None,
        "encounter_id": r.reference(resource.get("encounter"), "encounter", "Encounter"),
    }
    facility_notes = [
        n["text"]
        for n in notes
        if not (_marked(n, EXT_SUMMARY) or _marked(n, EXT_NOTE)) and isinstance(n.get("text"), str)
    ]
    if facility_notes:
        data["facility_notes"] = facility_notes
    data.update(_status_changed(r, status))
    data.update(extra)
    return single(
        "referral", "ServiceRequest", r.id, patient_id, r.version_id, status, in_error, data
    )


def _status_changed(r: Reader, status: str) -> dict[str, Any]:
    """When (and why) the referral got its status: our extension when it is about this
    status, else the server's last update for any status but the initial "active"."""
    ext_status, _, reason = _status_change(find_extension(r.resource, EXT_STATUS_CHANGE))
    if ext_status == status:
        found = sub_extensions(find_extension(r.resource, EXT_STATUS_CHANGE), "at")
        at = r.date_time(found[0].get("valueDateTime") if found else None, "extension(at)")
        return {"status_changed_at": at, "status_reason": reason}
    if status == "active":
        return {}
    meta = r.obj(r.resource.get("meta"), "meta")
    at = r.instant(meta.get("lastUpdated"), "meta.lastUpdated") if meta else None
    return {"status_changed_at": at, "status_reason": None} if at else {}
