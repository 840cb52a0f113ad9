"""Records other systems wrote about a patient that FieldChart does not model ("other" items).

They arrive only from the server (sync/fhir/mapping/other_record.py reads them), are shown
read-only and are never pushed: no command creates or changes one. Their data is a summary:
``resource_type``, ``label`` ("Lab result", "Document"), ``what`` (code display or text),
``code``, ``value`` (in words, with its unit), ``date``, ``status``, ``source`` (performer,
author or the sending system), ``patient_id`` and ``attachments`` (content type, title, size,
and the base64 data of a small one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.wording import N_

READ_ONLY_KIND = "other"
READ_ONLY_MESSAGE = N_("Records from other systems are read-only here")

#: Every status but those saying it did not happen or no longer holds.
OTHER_ACTIVE_STATUSES = frozenset(
    {"registered", "preliminary", "final", "amended", "corrected", "partial", "appended"}
    | {"completed", "active", "current", "in-progress", "on-hold", "intended", "unknown"}
    | {"preparation", "draft", "arrived", "booked", "finished", "fulfilled"}
)


def describe_other(data: Mapping[str, Any]) -> str:
    """One line for the timeline: "Lab result from District lab: Creatinine 1.2 mg/dL"."""
    label = str(data.get("label") or data.get("resource_type") or "Record")
    source = data.get("source")
    head = (
        # i18n: ignore (stored in the timeline projection (docs/translations.md))
        f"{label} from {source}" if source else f"{label} from another system"
    )
    details = " ".join(str(data[k]) for k in ("what", "value") if data.get(k))
    titles = [str(a["title"]) for a in data.get("attachments") or [] if a.get("title")]
    if not details and titles:
        details = ", ".join(titles)
    return f"{head}: {details}" if details else head


def search_text(data: Mapping[str, Any]) -> str:
    """What the "Other records" filter matches (lower case): type, label, what, code, value,
    source, status and attachment titles."""
    code = data.get("code") or {}
    parts = [
        data.get("resource_type"),
        data.get("label"),
        data.get("what"),
        code.get("code") if isinstance(code, Mapping) else None,
        code.get("display") if isinstance(code, Mapping) else None,
        data.get("value"),
        data.get("source"),
        data.get("status"),
        *[a.get("title") for a in data.get("attachments") or [] if isinstance(a, Mapping)],
    ]
    return " ".join(str(p) for p in parts if p).lower()


def matches(data: Mapping[str, Any], query: str) -> bool:
    """Whether every word of `query` is in the record's search text (case aside)."""
    text = search_text(data)
    return all(word in text for word in query.lower().split())
