"""Rebase: when the server moved on, record its versions as confirmed, then re-run the
pending commands that touched those resources on top of them.

Different fields merge without a person (the command's expected values still hold on the new
base); the same field, or a precondition that no longer holds, goes to needs-attention with
both values. Commands that create new items never need it: their ids are new to the server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from app.domain.commands import COMMANDS_BY_NAME
from app.domain.events import patient_of_command_stream
from app.domain.rebase import ConflictDetail
from app.services.gateway_types import Received, ServerCopy
from app.services.sync_gateway import SyncGateway, held_key
from sync.create_strategy import CreateStrategy
from sync.fhir.client import FhirClient
from sync.fhir.mapping import MappingError
from sync.held_changes import ServerChangeGuard
from sync.ports import Outgoing, ResourceMapper
from sync.server_ids import ServerIds, find_on_server
from sync.write_plan import gone_message

Outcome = Literal["converged", "rebased", "attention", "unchanged"]


class Rebaser:
    def __init__(self, gateway: SyncGateway, client: FhirClient, mapper: ResourceMapper) -> None:
        self._gateway = gateway
        self._client = client
        self._mapper = mapper
        # One id map and create strategy for the cycle, shared by push, pull and rebase.
        self.ids = ServerIds(gateway.server_id, gateway.local_id)
        self.strategy = CreateStrategy(gateway, client)
        # Identity changes and moves between patients are held for a person, not recorded.
        self.guard = ServerChangeGuard(gateway, mapper)
        self.rebased = 0
        self.attention = 0
        self.converged = 0

    def on_conflict(
        self, entry: Any, outs: list[Outgoing], desired: list[dict[str, Any]]
    ) -> Outcome:
        """The server refused `entry`'s write as stale: find out why and act on it."""
        fresh: list[ServerCopy] = []
        gone: list[str] = []
        for out in outs:
            found = find_on_server(
                self._client,
                self.ids,
                out.resource_type,
                out.resource_id,
                by_post=self.strategy.by_post(out.resource_type),
            )
            if found is not None:
                fresh.append(ServerCopy(found[0], found[1]))
            elif self._gateway.known_version(out.resource_type, out.resource_id) is not None:
                gone.append(out.resource_type)
        if gone:
            # The server had it and no longer has it: deleted (or lost) there. Writing it
            # again could undo a deliberate deletion; dropping our change would lose it.
            self._gateway.mark_attention(
                entry.command_id, gone_message(gone), ConflictDetail(None, None, None)
            )
            self.attention += 1
            return "attention"
        by_key = {(c.resource["resourceType"], c.resource["id"]): c.resource for c in fresh}
        if all(
            (o.resource_type, o.resource_id) in by_key
            and self._mapper.same_content(d, by_key[(o.resource_type, o.resource_id)])
            for o, d in zip(outs, desired, strict=True)
        ):
            # A write that landed before a crash or timeout: the server already has it all.
            self._gateway.record_pushed(
                entry.command_id, fresh, patient_of_command_stream(entry.stream_id)
            )
            self.converged += 1
            return "converged"
        new = self.record(self.to_received(fresh))
        if any(self._gateway.held_change(held_key(*key)) for key in by_key):
            # The server's version waits for a person (held_changes.py): re-basing on the
            # version we accepted would only meet the same refusal. The command stays pending
            # and is sent once the person has decided.
            return "unchanged"
        outcomes = self.rebase_affected(set(new) | set(by_key))
        return outcomes.get(entry.command_id, "unchanged")

    def record(self, received: Sequence[Received]) -> list[tuple[str, str]]:
        """Record server versions as confirmed, except what the guard holds for a person
        (every pulled or re-read server version goes through here)."""
        return self._gateway.record_received(self.guard.screen(received))

    def to_received(self, copies: Iterable[ServerCopy]) -> list[Received]:
        """Server copies (under our ids) as the events that record them locally."""
        result = []
        for copy in copies:
            resource = copy.resource
            try:
                received = self._mapper.incoming(resource)
                result.append(dataclasses.replace(received, server_id=copy.server_id))
            except MappingError as exc:
                self._gateway.quarantine(
                    resource.get("resourceType"), resource.get("id"), str(exc), _dump(resource)
                )
        return result

    def rebase_affected(self, resources: set[tuple[str, str]]) -> dict[str, Outcome]:
        """Re-run, in order, every pending command that touched one of `resources`."""
        outcomes = rebase_pending(self._gateway, self._mapper, resources)
        for outcome in outcomes.values():
            if outcome == "converged":
                self.converged += 1
            elif outcome == "rebased":
                self.rebased += 1
            else:
                self.attention += 1
        return outcomes


def rebase_pending(
    gateway: SyncGateway, mapper: ResourceMapper, resources: set[tuple[str, str]]
) -> dict[str, Outcome]:
    """Re-run, in order, every pending command that touched one of `resources` on the chart
    that now holds the server's newer versions (after a pull, or a person accepting a held
    server version); a refusal goes to needs-attention with both values."""
    outcomes: dict[str, Outcome] = {}
    if not resources:
        return outcomes
    for entry in gateway.pending():
        kind = COMMANDS_BY_NAME.get(entry.command_type)
        if kind is None or not kind.REBASABLE:
            continue
        patient_id = patient_of_command_stream(entry.stream_id)
        if not mapper.keys(gateway.events_of(entry), patient_id) & resources:
            continue
        result = gateway.rebase(entry)
        if result.converged:
            outcomes[entry.command_id] = "converged"
        elif result.ok:
            outcomes[entry.command_id] = "rebased"
        else:
            gateway.mark_attention(
                entry.command_id,
                result.message or "conflict",
                result.detail or ConflictDetail(None, None, None),
            )
            outcomes[entry.command_id] = "attention"
    return outcomes


def _dump(resource: dict[str, Any]) -> str:
    import json

    return json.dumps(resource, sort_keys=True)
