"""The searches a pull sends for a scope strategy (sync/scope.py), each with its own watermark.

A query's ``key`` names its watermark in the device's pull marks: a device whose scope changes
asks new queries, which start from scratch, while the old ones are simply no longer asked. An
enrolment without a scope keeps the keys it always had (the bare resource type), so it goes on
from where it was.

Two kinds of query:
- fixed queries (``Patient?organization=…``, ``Observation?patient.organization=…``, one per
  type): what the idle cycle sends together in one batch Bundle;
- patient lists (``Observation?patient=Patient/a,Patient/b…``), for the patient-list strategy
  and for visiting patients: one watermark per type and kind, shared by the list's chunks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from sync.scope import CHAINED, EVERYTHING, GROUP_HAS, PATIENT_LIST, ScopeStrategy, SyncScope

__all__ = [
    "LIST_CHUNK",
    "PAGE_SIZE",
    "PullQuery",
    "fixed_queries",
    "list_queries",
    "search_url",
]

PAGE_SIZE = 500  # above the largest transaction, so one page rarely ends inside a tie
#: Patients per list query: ~4.5 KB of ``Patient/<uuid>,`` — a URL any server takes, should a
#: ``next`` link repeat the list.
LIST_CHUNK = 100


@dataclass(frozen=True)
class PullQuery:
    """One search of the pull: ``resource_type?params``, its progress kept under ``key``."""

    key: str
    resource_type: str
    params: tuple[tuple[str, str], ...] = ()
    #: Sent as ``POST Type/_search`` (a form body): a list of patients is long.
    post: bool = False
    #: Not a synced record: read only for what it says (the Group's members).
    membership: bool = False


def search_url(resource_type: str, params: Sequence[tuple[str, str]]) -> str:
    """``Type?a=1&b=2``: a batch entry's url, and a watermark key."""
    return f"{resource_type}?{urlencode(list(params))}" if params else resource_type


def _fixed(resource_type: str, *params: tuple[str, str], membership: bool = False) -> PullQuery:
    return PullQuery(search_url(resource_type, params), resource_type, params, False, membership)


def _listing(query: PullQuery) -> PullQuery:
    return dataclasses.replace(query, key=f"{PATIENT_LIST}:{query.key}")


def fixed_queries(
    strategy: ScopeStrategy, scope: SyncScope, types: Sequence[str]
) -> list[PullQuery]:
    """The fixed searches of a strategy, patients (and the Group) first."""
    compartment = [t for t in types if t != "Patient" and strategy.pulls(t)]
    if strategy.name == EVERYTHING:
        return [PullQuery(t, t) for t in types]  # the keys of enrolments before scopes
    org, group = scope.organization_ref, scope.group_id
    if strategy.name == CHAINED and org:
        chained = []
        for t in compartment:
            param = strategy.patient_param(t)
            name = "patient.organization" if param == "patient" else "subject:Patient.organization"
            chained.append(_fixed(t, (name, org)))
        return [_fixed("Patient", ("organization", org)), *chained]
    if strategy.name == GROUP_HAS and group:
        has = []
        for t in compartment:
            param = strategy.patient_param(t)
            prefix = "patient" if param == "patient" else "subject:Patient"
            has.append(_fixed(t, (f"{prefix}._has:Group:member:_id", group)))
        return [
            _fixed("Group", ("_id", group), membership=True),
            _fixed("Patient", ("_has:Group:member:_id", group)),
            *has,
        ]
    if strategy.name == PATIENT_LIST:
        # Keys of their own: the patients found here are the ones the lists pull whole, so
        # a device moved here from chained search must find them all again.
        if org:
            return [_listing(_fixed("Patient", ("organization", org)))]
        if group:
            return [_listing(_fixed("Group", ("_id", group), membership=True))]
    raise ValueError(f"no queries for strategy {strategy.name!r} and this scope")


def list_queries(
    kind: str,
    strategy: ScopeStrategy,
    types: Sequence[str],
    patient_ids: Sequence[str],
) -> list[PullQuery]:
    """Searches of ``types`` for these patients (server ids), in chunks of LIST_CHUNK; each
    type's chunks share the watermark key ``list:<kind>:<type>``."""
    ids = sorted(set(patient_ids))
    found = []
    for t in (t for t in types if strategy.pulls(t)):
        key = f"list:{kind}:{t}"
        for start in range(0, len(ids), LIST_CHUNK):
            chunk = ids[start : start + LIST_CHUNK]
            if t == "Patient":
                param = ("_id", ",".join(chunk))
            else:
                name = strategy.patient_param(t)
                param = (name, ",".join(f"Patient/{i}" for i in chunk))
            found.append(PullQuery(key, t, (param,), post=True))
    return found
