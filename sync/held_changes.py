"""Server changes a person must see before they apply (issue 15, item 3).

Another system may rewrite a Patient into someone else (other name, birth date and sex) or
move a chart item (vitals, a diagnosis, an allergy, a prescription) to another patient. Applied
silently, the chart shows a different person with this patient's allergies, or an item appears
in someone else's chart. So the pull screens what it received before recording it:

- a Patient version that changes at least two identity facts at once (app/domain/identity.py)
  is an **identity change**;
- an item whose patient (``subject``/``patient``) is not the one of the version we hold is
  **moved between patients**.

Either is held (needs attention, with both versions) instead of recorded: the chart keeps
showing the last accepted version, and notes in the charts concerned say what is waiting. A
person then accepts the server's version (recorded exactly as a pull would record it) or keeps
ours (sent back over the server's at the next cycle). A later server version that is no longer
such a change (the other system undid it) releases the hold and applies normally.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from app.domain import events as ev
from app.domain.commands import ResolveSyncConflict
from app.domain.errors import RoleError
from app.domain.identity import FACT_NAMES, describe_identity, identity_changes, is_identity_change
from app.domain.roles import Actor
from app.i18n import N_, _
from app.services.gateway_types import Received, ServerCopy
from app.services.sync_gateway import RemoteCopy, SyncGateway, held_key
from app.services.sync_status import AttentionItem
from sync.fhir.client import FhirClient
from sync.fhir.errors import VersionConflictError
from sync.fhir.mapping import MappingError
from sync.ports import ResourceMapper
from sync.server_ids import ServerIds

log = logging.getLogger(__name__)

IDENTITY_CHANGE = "identity-change"
MOVED = "moved-between-patients"
ACCEPT_SERVER = "accept-server"
KEEP_OURS = "keep-ours"
RESOLUTIONS = (ACCEPT_SERVER, KEEP_OURS)
PENDING, PUSH_BACK = "pending", "push-back"


def _label(table: dict[str, str], key: str, default: str) -> str:
    """`table[key]` (an N_-marked msgid) in the current language, else `default`."""
    english = table.get(key)
    return _(english) if english else default


# Translated where shown (attention_items).
MESSAGES = {
    IDENTITY_CHANGE: N_(
        "The server changed who this patient is — check both versions before "
        "accepting; the chart shows ours until then"
    ),
    MOVED: N_(
        "Moved to another patient by the server — needs review; it stays in this "
        "patient's chart until then"
    ),
}
KIND_LABELS = {IDENTITY_CHANGE: N_("Identity change"), MOVED: N_("Moved to another patient")}


class ServerChangeGuard:
    """Screens received server versions; holds identity changes and moves for a person."""

    def __init__(self, gateway: SyncGateway, mapper: ResourceMapper) -> None:
        self._gateway = gateway
        self._mapper = mapper
        self.held = 0  # changes held by this guard (new or updated holds)

    def screen(self, received: Sequence[Received]) -> list[Received]:
        """What may be recorded as it is; the rest is held (or stays held)."""
        if not received:
            return []
        keys = [(r.resource["resourceType"], r.resource["id"]) for r in received]
        before = self._gateway.remotes(keys)
        holds = {h["id"]: h for h in self._gateway.held_changes()}
        passed = []
        for item, key in zip(received, keys, strict=True):
            hold_id = held_key(*key)
            version = _version(item.resource)
            existing = holds.get(hold_id)
            if existing is not None and existing.get("server_version") == version:
                continue  # the same version again (inclusive paging): still held
            previous = before.get(key)
            if previous is None or previous.version_id == version:
                passed.append(item)
                continue
            found = self._judge(item, previous)
            if found is None:
                if existing is not None:  # the other system undid it: nothing left to decide
                    self._gateway.release(hold_id)
                passed.append(item)
                continue
            self._hold(hold_id, item, previous, found, existing)
        return passed

    def _judge(self, item: Received, previous: RemoteCopy) -> tuple[str, list[str]] | None:
        if isinstance(item.event, ev.PatientVersionReceived):
            before = self._demographics(previous.body)
            after = item.event.demographics
            if before is not None and is_identity_change(before, after):
                return IDENTITY_CHANGE, identity_changes(before, after)
            return None
        moved = previous.patient_id and item.patient_id and previous.patient_id != item.patient_id
        return (MOVED, []) if moved else None

    def _demographics(self, body: dict[str, Any]) -> dict[str, str | None] | None:
        try:
            event = self._mapper.incoming(body).event
        except MappingError:
            return None
        return event.demographics if isinstance(event, ev.PatientVersionReceived) else None

    def _hold(
        self,
        hold_id: str,
        item: Received,
        previous: RemoteCopy,
        found: tuple[str, list[str]],
        existing: dict[str, Any] | None,
    ) -> None:
        kind, changed = found
        event = item.event
        item_kind = event.item_kind if isinstance(event, ev.ItemVersionReceived) else None
        ours_patient = previous.patient_id or ""
        server_patient = item.patient_id or ""
        if kind == IDENTITY_CHANGE:
            before = self._demographics(previous.body) or {}
            after = event.demographics if isinstance(event, ev.PatientVersionReceived) else {}
            ours, servers = describe_identity(before), describe_identity(after)
        else:
            label = (item_kind or item.resource["resourceType"]).capitalize()
            ours = f"{label} in the chart of {self._who(ours_patient)}"
            servers = f"{label} in the chart of {self._who(server_patient)}"
        held = {
            "id": hold_id,
            "kind": kind,
            "resource_type": item.resource["resourceType"],
            "resource_id": item.resource["id"],
            "patient_id": ours_patient,
            "server_patient_id": server_patient,
            "item_kind": item_kind,
            "fields": changed,
            "ours": ours,
            "servers": servers,
            "server_copy": item.resource,
            "server_id": item.server_id,
            "server_version": _version(item.resource),
            # A person who chose to keep ours keeps that choice over a newer server version.
            "state": existing.get("state", PENDING) if existing else PENDING,
        }
        same_hold = existing is not None and existing.get("kind") == kind
        notes = [] if same_hold else self._held_notes(held)
        self._gateway.hold(held, notes)
        self.held += 1

    def _who(self, patient_id: str) -> str:
        if not patient_id or not self._gateway.has_chart(patient_id):
            return "a patient not on this device"
        return f"{describe_identity(self._gateway.chart(patient_id).demographics)} [{patient_id}]"

    def _held_notes(self, held: dict[str, Any]) -> list[tuple[str, ev.DomainEvent]]:
        return [
            (patient_id, ev.ServerChangeHeld(**fields))
            for patient_id, fields in _note_fields(self._gateway, held)
        ]


def _note_fields(gateway: SyncGateway, held: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(patient id, the note's fields) for each chart on this device the change concerns."""
    base = {"hold_id": held["id"], "kind": held["kind"], "item_kind": held.get("item_kind")}
    if held["kind"] == IDENTITY_CHANGE:
        return [(held["patient_id"], {**base, "fields": list(held.get("fields") or [])})]
    base["item_id"] = held["resource_id"]
    notes = [(held["patient_id"], {**base, "direction": "out"})]
    target = held.get("server_patient_id")
    if target and target != held["patient_id"] and gateway.has_chart(target):
        notes.append((target, {**base, "direction": "in"}))
    return notes


# -- a person's decision -------------------------------------------------------------------


def resolve_held(
    gateway: SyncGateway,
    mapper: ResourceMapper,
    hold_id: str,
    resolution: str,
    actor: Actor,
) -> None:
    """Accept the server's version (recorded as a pull records it) or keep ours (sent back at
    the next cycle). Raises LookupError (no such item), ValueError (unknown resolution) or
    RoleError (the user may not resolve sync conflicts); nothing changes then."""
    if actor.role not in ResolveSyncConflict.ALLOWED_ROLES:
        raise RoleError(
            _("A user with the {role} role may not resolve sync conflicts").format(
                role=actor.role.value
            )
        )
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}: use {' or '.join(RESOLUTIONS)}")
    held = gateway.held_change(hold_id)
    if held is None:
        raise LookupError("that item no longer needs attention")
    notes = [
        (patient_id, ev.ServerChangeDecided(resolution=resolution, **_decided(fields)))
        for patient_id, fields in _note_fields(gateway, held)
    ]
    if resolution == KEEP_OURS:
        gateway.keep_ours(hold_id, actor, notes)
        return
    received = mapper.incoming(held["server_copy"])
    received = dataclasses.replace(received, server_id=held.get("server_id"))
    new = gateway.accept_held(hold_id, received, actor, notes)
    # As after a pull: pending local changes are re-applied on top of the accepted version.
    from sync.rebase import rebase_pending  # sync.rebase imports this module

    rebase_pending(gateway, mapper, set(new))


def _decided(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k != "fields"}


def push_back(gateway: SyncGateway, client: FhirClient, ids: ServerIds) -> int:
    """Send our version back over the server's for every held change a person kept (If-Match
    the server's version we showed them). Returns how many the server took."""
    taken = 0
    for held in gateway.held_changes():
        if held.get("state") != PUSH_BACK:
            continue
        resource_type, resource_id = held["resource_type"], held["resource_id"]
        ours = gateway.remote(resource_type, resource_id)
        if ours is None:  # nothing of ours to send: the person must accept the server's
            continue
        server_id = held.get("server_id") or resource_id
        body = {k: v for k, v in ours.body.items() if k != "meta"}
        sent = ids.to_server(body, server_id, {})
        try:
            answer = client.put(resource_type, server_id, sent, held["server_version"])
        except VersionConflictError:
            # Changed again on the server since: the pull brings the newer version, which
            # is held (still keeping ours) or released if it no longer changes who it is.
            log.info("a kept %s changed again on the server: retried later", resource_type)
            continue
        mapped, answered_id = ids.to_local(answer.resource, resource_id)
        gateway.pushed_back(held["id"], ServerCopy(mapped, answered_id), ours.patient_id)
        taken += 1
    return taken


# -- what people see -----------------------------------------------------------------------


def attention_items(gateway: SyncGateway) -> list[AttentionItem]:
    """The held server changes as needs-attention items with both versions."""
    items = []
    for held in gateway.held_changes():
        kept = held.get("state") == PUSH_BACK
        fields = ", ".join(FACT_NAMES.get(f, f) for f in held.get("fields") or [])
        items.append(
            AttentionItem(
                command_id=held["id"],
                command_type=_label(KIND_LABELS, held["kind"], held["kind"]),
                patient_id=held.get("patient_id"),
                field=fields or (held.get("item_kind") or None),
                mine=held.get("ours"),
                servers=held.get("servers"),
                message=(
                    _("Kept ours: it is sent back to the server at the next sync")
                    if kept
                    else _label(MESSAGES, held["kind"], _("needs a decision"))
                ),
                kind=held["kind"],
            )
        )
    return items


def status_json(gateway: SyncGateway) -> list[dict[str, Any]]:
    """The held server changes for `fieldchart status --json`: ids and what changed, never
    the versions themselves (names and birth dates are patient data; the app shows them)."""
    keys = ("id", "kind", "resource_type", "resource_id", "patient_id", "server_patient_id")
    return [
        {**{k: h.get(k) for k in keys}, "fields": h.get("fields") or [], "state": h["state"]}
        for h in gateway.held_changes()
    ]


def _version(resource: dict[str, Any]) -> str:
    meta = resource.get("meta")
    return str(meta.get("versionId")) if isinstance(meta, dict) else ""
