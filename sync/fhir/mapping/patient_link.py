"""Merges as FHIR Patient.link (docs/front-desk/merge.md).

The survivor's Patient `replaces` each record merged into it; the replaced record's Patient is
`replaced-by` the survivor and `active: false`. Each link we write carries the merge's id in an
extension, so another device that pulls it records the same merge (and can undo it by id).
Links other systems wrote (`seealso`, `refer`, links to patients we did not merge) are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.fhir.mapping.common import FIELDCHART, Base, Json, start_from
from sync.fhir.mapping.errors import MappingError

EXT_MERGE_ID = f"{FIELDCHART}:extension:merge-id"


def _link(kind: str, other_id: str, merge_id: str) -> Json:
    return {
        "extension": [{"url": EXT_MERGE_ID, "valueString": merge_id}],
        "other": {"reference": f"Patient/{other_id}"},
        "type": kind,
    }


def _other_id(link: Any) -> str | None:
    reference = (link.get("other") or {}).get("reference") if isinstance(link, Mapping) else None
    if isinstance(reference, str) and reference.startswith("Patient/"):
        return reference[len("Patient/") :]
    return None


def _merge_id(link: Mapping[str, Any]) -> str | None:
    for ext in link.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == EXT_MERGE_ID:
            value = ext.get("valueString")
            return value if isinstance(value, str) else None
    return None


def with_replaces(resource: Json, merged: Mapping[str, str], undone: set[str]) -> Json:
    """The survivor's Patient with a `replaces` link per merge in effect (`merged`: replaced id
    -> merge id) and none to the records in `undone`; other links kept as they were."""
    kept = [
        link
        for link in resource.get("link") or []
        if not (
            isinstance(link, Mapping)
            and link.get("type") == "replaces"
            and (_other_id(link) in merged or _other_id(link) in undone)
        )
    ]
    links = kept + [
        _link("replaces", other, merge_id) for other, merge_id in sorted(merged.items())
    ]
    if links:
        resource["link"] = links
    else:
        resource.pop("link", None)
    return resource


def replaced_patient(
    replaced_id: str, survivor_id: str, merge_id: str, in_effect: bool, base: Base
) -> Json:
    """The replaced record's Patient, from the server's copy: `replaced-by` the survivor and
    inactive while the merge holds; without that link and active again once undone."""
    if base is None:
        # Its registration has not reached the server yet: a Patient built here would have no
        # name. The merge waits for it (retried at the next sync).
        raise MappingError(f"Patient/{replaced_id}", "link", "needs the record on the server")
    resource = start_from(base, "Patient", replaced_id)
    links = [
        link
        for link in resource.get("link") or []
        if not (
            isinstance(link, Mapping)
            and link.get("type") == "replaced-by"
            and _other_id(link) == survivor_id
        )
    ]
    if in_effect:
        links.append(_link("replaced-by", survivor_id, merge_id))
        resource["active"] = False
    else:
        resource["active"] = True
    if links:
        resource["link"] = links
    else:
        resource.pop("link", None)
    return resource


def merges_of(resource: Mapping[str, Any]) -> dict[str, str]:
    """The records a server Patient `replaces`: replaced id -> merge id (a link another system
    wrote without our extension gets an id made from the two patients)."""
    found: dict[str, str] = {}
    for link in resource.get("link") or []:
        if not isinstance(link, Mapping) or link.get("type") != "replaces":
            continue
        other = _other_id(link)
        if other:
            found[other] = _merge_id(link) or f"server-{resource.get('id')}-{other}"
    return found
