"""DocumentReference <-> a note item (NoteAdded): the note is a UTF-8 text/plain attachment.

Only the first text/plain attachment is ours; other renditions (a PDF, a URL) are kept.
"""

from __future__ import annotations

import base64
import binascii
import codecs
from collections.abc import Mapping
from typing import Any

from app.domain.chart import Item
from sync.fhir.mapping.common import (
    LOINC,
    Base,
    Json,
    child,
    coding,
    drop_if_empty,
    expect_kind,
    mark_item,
    put,
    reference_to,
    referenced_id,
    start_from,
    update_recorded,
    update_reference,
    update_status,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteItem, single

CONTENT_TYPE = "text/plain; charset=utf-8"
# `type` is written only on notes FieldChart creates; in `context` only `encounter` is ours.
OWNED = frozenset({"status", "type", "subject", "date", "content", "context", "extension"})
CODES = frozenset({"current", "superseded", "entered-in-error"})


def to_fhir_document_reference(patient_id: str, item: Item, base: Base) -> Json:
    """The DocumentReference to PUT for a note item, starting from the server's copy."""
    expect_kind(item, "note")
    data = item.data
    resource = start_from(base, "DocumentReference", item.id)
    update_status(resource, "status", item, {}, "entered-in-error")
    mark_item(resource, item)
    if base is None:
        resource["type"] = {"coding": [coding(LOINC, "11506-3", "Progress note")]}
    update_reference(resource, "subject", "Patient", patient_id)
    update_recorded(resource, "date", data["written_at"], base)
    _update_text(resource, data["text"])
    context = child(resource, "context")
    encounters = context.get("encounter")
    entries = list(encounters) if isinstance(encounters, list) else []
    encounter_id = data.get("encounter_id")
    if _encounter_of(entries) != encounter_id:
        episodes = [e for e in entries if referenced_id(e, "Encounter") is None]
        ours = [reference_to("Encounter", encounter_id)] if encounter_id else []
        put(context, "encounter", ours + episodes)
    drop_if_empty(resource, "context")
    return resource


def _encounter_of(references: list[Any]) -> str | None:
    """The encounter of a note: the first Encounter among context.encounter (which may also
    name an EpisodeOfCare)."""
    return next(filter(None, (referenced_id(e, "Encounter") for e in references)), None)


def _text_index(contents: list[Any]) -> int | None:
    for i, content in enumerate(contents):
        attachment = content.get("attachment") if isinstance(content, Mapping) else None
        if isinstance(attachment, Mapping) and _is_text(attachment.get("contentType")):
            return i
    return None


def _is_text(content_type: Any) -> bool:
    return isinstance(content_type, str) and content_type.split(";")[0].strip() == "text/plain"


def _charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or "utf-8"
    return "utf-8"


def decode_text(attachment: Mapping[str, Any]) -> str | None:
    """The text of a text/plain attachment, or None when it cannot be read."""
    raw = attachment.get("data")
    content_type = attachment.get("contentType")
    if not isinstance(raw, str) or not isinstance(content_type, str):
        return None
    try:
        return base64.b64decode(raw, validate=True).decode(_charset(content_type))
    except (binascii.Error, LookupError, UnicodeDecodeError, ValueError):
        return None


def encode_text(text: str) -> str:
    """Base64 of the text's UTF-8 bytes (an Attachment's data)."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _update_text(resource: Json, text: str) -> None:
    current = resource.get("content")
    contents = list(current) if isinstance(current, list) else []
    index = _text_index(contents)
    if index is not None and decode_text(contents[index]["attachment"]) == text:
        return
    attachment = {"contentType": CONTENT_TYPE, "data": encode_text(text)}
    if index is None:
        contents.insert(0, {"attachment": attachment})
    else:
        old = contents[index]["attachment"]
        # language, title, creation stay; size and hash described the old text
        kept = {
            k: v for k, v in old.items() if k not in ("contentType", "data", "url", "size", "hash")
        }
        contents[index] = {**contents[index], "attachment": {**kept, **attachment}}
    resource["content"] = contents


def from_fhir_document_reference(resource: Mapping[str, Any]) -> RemoteItem:
    """A note item from a server DocumentReference."""
    r = Reader(resource, "DocumentReference")
    code = r.code(resource.get("status"), "status", CODES)
    if code is None:
        r.fail("status", "is missing")
    patient_id = r.patient(resource.get("subject"))
    contents = r.array(resource.get("content"), "content")
    for i, content in enumerate(contents):
        entry = r.obj(content, f"content[{i}]") or {}
        r.obj(entry.get("attachment"), f"content[{i}].attachment")
    index = _text_index(contents)
    if index is None:
        r.unsupported("content", "has no text/plain attachment")
    attachment = contents[index]["attachment"]
    if not isinstance(attachment.get("data"), str):
        r.unsupported(f"content[{index}].attachment.data", "is missing (text only by URL)")
    try:
        codecs.lookup(_charset(attachment["contentType"]))
    except LookupError:
        r.unsupported(f"content[{index}].attachment.contentType", "names an unknown charset")
    text = decode_text(attachment)
    if text is None:
        r.fail(f"content[{index}].attachment.data", "is not base64 text in its charset")
    context = r.obj(resource.get("context"), "context") or {}
    encounters = r.array(context.get("encounter"), "context.encounter")
    status, in_error, extra = r.status(code, {}, "entered-in-error", "current")
    data: dict[str, Any] = {
        "note_id": r.id,
        "text": text,
        "written_at": r.recorded(resource.get("date"), "date"),
        "encounter_id": _encounter_of(encounters),
        **extra,
    }
    return single(
        "note", "DocumentReference", r.id, patient_id, r.version_id, status, in_error, data
    )
