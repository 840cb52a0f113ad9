"""Sending commands' writes: transaction Bundles in the server's ids, and what came back.

Several commands' writes go out together in one transaction (`send_together`, grouped by
sync/push.py within the server's limits); a command too big for one Bundle goes alone, in
several, in order (`send`). Each write is, on the server's terms:

- an update ``PUT Type/<server id>`` with ``If-Match`` when the server already has it;
- a create ``PUT Type/<our id>`` where the server takes our ids (update-as-create);
- a create ``POST Type`` with ``fullUrl urn:uuid:…`` and ``ifNoneExist`` on our identifier where
  the server assigns ids: entries of the same Bundle refer to it by that urn, and a create
  repeated after a lost answer finds the first one instead of making a second.

Resources that others refer to are sent first, so that a Bundle split by the limits never
refers forward; commands go in the order they were recorded, so a later command refers only
back (to the urn of a resource an earlier command of the same Bundle creates). Every entry's own
answer is read: on a server whose transactions are not atomic some entries may land while others
fail, and a command counts as pushed only when all of its entries landed.

`find_landed` finds what an earlier attempt whose answer was lost left on the server, with one
search per type and list of ids (not one read per resource).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.services.gateway_types import ServerCopy
from sync.create_strategy import CreateStrategy
from sync.fhir.bundle import (
    MAX_UPDATES,
    MAX_WITH_CONDITIONAL,
    EntryResult,
    TooManyEntriesError,
    TransactionBuilder,
)
from sync.fhir.client import FhirClient
from sync.fhir.errors import InvalidResponseError, Issue, RejectedError, TransactionTooLargeError
from sync.fhir.mapping.common import FHIR_ID
from sync.fhir.mapping.errors import MappingError
from sync.fhir.retry_hints import is_concurrent_update
from sync.ports import Outgoing
from sync.server_ids import (
    Key,
    ServerIds,
    full_url,
    identifier_search,
    our_id_in,
    references_in,
)

_LOCATION = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/|$)")


@dataclass(frozen=True)
class PlannedWrite:
    outgoing: Outgoing
    resource: dict[str, Any]  # what the server should hold, under our ids
    if_match: str | None  # the version we built on (None: the server has not got it)
    server_id: str | None  # the server's id for it (None: not created yet)

    @property
    def key(self) -> Key:
        return (self.outgoing.resource_type, self.outgoing.resource_id)

    def references(self) -> set[Key]:
        """The resources this write refers to (our ids)."""
        return references_in(self.resource) - {self.key}


@dataclass(frozen=True)
class FailedWrite:
    write: PlannedWrite
    status: int
    issues: tuple[Issue, ...]
    put_create: bool  # it was a create by PUT with our id

    @property
    def transient(self) -> bool:
        """Worth sending again as it is: busy, a concurrent-update clash, a server fault."""
        if self.status == 409:
            return is_concurrent_update(self.status, self.issues)
        return self.status in (408, 429) or self.status >= 500

    @property
    def conflict(self) -> bool:
        """The server has a newer version than the one we built on (a 409 that is not the
        server's own concurrency failing means that too, on HAPI)."""
        return self.status == 412 or (self.status == 409 and not self.transient)

    def describe(self) -> str:
        said = "; ".join(i.diagnostics or f"{i.severity}/{i.code}" for i in self.issues)
        what = f"{self.write.outgoing.resource_type} ({self.status})"
        return f"{what}: {said}" if said else what


@dataclass
class SendResult:
    landed: list[ServerCopy] = field(default_factory=list)
    # Landed copies not yet handed to `on_landed` (the last Bundle's, when all went well): the
    # caller records them with the command's own state, in one transaction.
    unrecorded: list[ServerCopy] = field(default_factory=list)
    existing: set[Key] = field(default_factory=set)  # a create found one already there
    failed: list[FailedWrite] = field(default_factory=list)


def gone_message(resource_types: Iterable[str]) -> str:
    """A record the server had is no longer there (deleted there, or lost). Writing it again
    could undo a deliberate deletion, and dropping our change would lose it: a person asks."""
    return (
        f"the server no longer has this record ({', '.join(sorted(set(resource_types)))}): "
        "it was deleted there; ask IT whether to record it again"
    )


def in_reference_order(planned: list[PlannedWrite]) -> list[PlannedWrite]:
    """`planned` with every resource before the resources of this command that refer to it."""
    keys = {p.key for p in planned}
    refers = {p.key: references_in(p.resource) & keys - {p.key} for p in planned}
    ordered: list[PlannedWrite] = []
    done: set[Key] = set()
    remaining = list(planned)
    while remaining:
        ready = [p for p in remaining if refers[p.key] <= done] or remaining[:1]  # a cycle
        for p in ready:
            ordered.append(p)
            done.add(p.key)
        remaining = [p for p in remaining if p.key not in done]
    return ordered


class WriteSender:
    """Sends planned writes in the server's ids and reads every entry's answer."""

    def __init__(self, client: FhirClient, ids: ServerIds, strategy: CreateStrategy) -> None:
        self._client = client
        self._ids = ids
        self._strategy = strategy
        # Entries per Bundle once a server refused one for its size (for this sender's life).
        self._limit: int | None = None

    def send(
        self,
        planned: list[PlannedWrite],
        on_landed: Callable[[list[ServerCopy]], None],
        guard: bool = True,
    ) -> SendResult:
        """Send in as few transactions as the limits allow; stop after a Bundle with a failed
        entry (later Bundles may refer to what failed). What a Bundle landed goes to
        `on_landed` as soon as it is known when more is to come or something failed, so a
        whole-Bundle refusal of a later one (an atomic server raises FhirError) forgets nothing
        the server already holds; when all landed, the last Bundle's copies are left in
        ``unrecorded`` for the caller. A Bundle refused for its size is sent again in smaller
        ones. `guard`: creates by POST carry ifNoneExist (see `conditional`)."""
        result = SendResult()
        remaining = in_reference_order(planned)
        while remaining:
            builder, sent = self._next_batch(remaining, guard)
            try:
                answers = self._client.transaction(builder.build())
            except TransactionTooLargeError as exc:
                if len(sent) <= 1:
                    raise
                self.shrink(exc, len(sent))
                continue
            remaining = remaining[len(sent) :]
            before = len(result.landed)
            self._read_answers(sent, answers, result)
            result.unrecorded = result.landed[before:]
            if result.failed or remaining:
                if result.unrecorded:
                    on_landed(result.unrecorded)
                result.unrecorded = []
            if result.failed:
                break
        return result

    def _next_batch(
        self, ordered: list[PlannedWrite], guard: bool
    ) -> tuple[TransactionBuilder, list[tuple[PlannedWrite, bool]]]:
        """The next Bundle: as many of the first writes as the limits allow. Built only
        once the Bundle before it was answered, so it names the ids given in that answer."""
        builder = self._builder()
        created_here: dict[Key, str] = {}
        sent: list[tuple[PlannedWrite, bool]] = []
        for write in ordered:
            try:
                put_create = self._add(builder, write, created_here, guard)
            except TooManyEntriesError:
                if not sent:
                    raise
                break
            sent.append((write, put_create))
        return builder, sent

    def _builder(self) -> TransactionBuilder:
        if self._limit is None:
            return TransactionBuilder()
        return TransactionBuilder(
            max_updates=min(self._limit, MAX_UPDATES),
            max_with_conditional=min(self._limit, MAX_WITH_CONDITIONAL),
        )

    def conditional(self, write: PlannedWrite, guard: bool) -> bool:
        """Whether this write goes out as a conditional entry, which lowers the server's limit
        for the whole Bundle (Medplum: 8 entries instead of 50): a create by POST with
        ifNoneExist on our identifier. `guard` says whether creates carry it: only for a command
        an earlier send of which may have landed unseen (its answer was lost). Otherwise we know
        exactly what landed (every answer read, an atomic refusal writes nothing), so a create
        cannot find itself there, and an unguarded Bundle holds 50 entries."""
        if not guard:
            return False
        resource_type, local_id = write.key
        if write.server_id or self._ids.server_id(resource_type, local_id) is not None:
            return False
        return self._strategy.by_post(resource_type)

    def fits(self, entries: int, conditional: bool) -> bool:
        """Whether a Bundle of this many entries (any of them conditional) is within the
        server's limits (and the smaller limit learnt from a refusal)."""
        limit = MAX_WITH_CONDITIONAL if conditional else MAX_UPDATES
        if self._limit is not None:
            limit = min(limit, self._limit)
        return entries <= limit

    def shrink(self, exc: TransactionTooLargeError, sent: int) -> None:
        """The server refused a Bundle of `sent` entries for its size: fewer from now on."""
        stated = exc.limit if exc.limit and exc.limit < sent else None
        self._limit = stated or max(1, sent // 2)

    def send_together(self, commands: list[tuple[list[PlannedWrite], bool]]) -> list[SendResult]:
        """Several commands' writes in ONE transaction (the caller checked `fits` and that no
        resource is twice), each with its `guard`; one SendResult per command, its landed
        copies in ``unrecorded``.
        A whole-Bundle failure raises as `FhirClient.transaction` does (atomic server): which
        command caused it is for the caller to narrow down."""
        builder = self._builder()
        created_here: dict[Key, str] = {}
        per_command = [
            [(w, self._add(builder, w, created_here, guard)) for w in in_reference_order(planned)]
            for planned, guard in commands
        ]
        answers = self._client.transaction(builder.build())
        results: list[SendResult] = []
        start = 0
        for sent in per_command:
            result = SendResult()
            self._read_answers(sent, answers[start : start + len(sent)], result)
            result.unrecorded = list(result.landed)
            start += len(sent)
            results.append(result)
        return results

    def _add(
        self,
        builder: TransactionBuilder,
        write: PlannedWrite,
        created_here: dict[Key, str],
        guard: bool,
    ) -> bool:
        """Add one write to the Bundle; True if it is a create by PUT with our id."""
        resource_type, local_id = write.key
        server_id = write.server_id or self._ids.server_id(resource_type, local_id)
        if server_id is not None:
            body = self._ids.to_server(write.resource, server_id, created_here)
            builder.add_put(resource_type, server_id, body, write.if_match)
            return False
        if not self._strategy.by_post(resource_type):
            body = self._ids.to_server(write.resource, local_id, created_here)
            builder.add_put(resource_type, local_id, body)
            return True
        url = full_url(write.key)
        name, value = identifier_search(local_id, resource_type)
        body = self._ids.to_server(write.resource, None, {**created_here, write.key: url})
        builder.add_create(
            resource_type, url, body, if_none_exist=f"{name}={value}" if guard else None
        )
        created_here[write.key] = url
        return False

    def _read_answers(
        self,
        sent: list[tuple[PlannedWrite, bool]],
        answers: list[EntryResult],
        result: SendResult,
    ) -> None:
        for (write, put_create), answer in zip(sent, answers, strict=True):
            if not 200 <= answer.status < 300:
                result.failed.append(FailedWrite(write, answer.status, answer.outcome, put_create))
                continue
            resource = answer.resource or self._read_location(write, answer)
            try:
                local, server_id = self._ids.to_local(resource, write.outgoing.resource_id)
            except MappingError as exc:
                raise InvalidResponseError(f"the server's answer is unusable: {exc}") from None
            result.landed.append(ServerCopy(local, server_id))
            if write.server_id is None and not put_create and answer.status == 200:
                result.existing.add(write.key)  # ifNoneExist matched: not our content

    def _read_location(self, write: PlannedWrite, answer: EntryResult) -> dict[str, Any]:
        """The server's copy of an entry answered without its resource (return=minimal)."""
        match = _LOCATION.search(answer.location or "")
        found = (
            self._client.read(match.group(1), match.group(2))
            if match and match.group(1) == write.outgoing.resource_type
            else None
        )
        if found is None:
            raise InvalidResponseError(
                f"the server accepted a {write.outgoing.resource_type} but did not say where it is",
                request=None,
            )
        return found.resource


Found = tuple[dict[str, Any], str, str | None]  # (copy under our id, server id, version)
LOOKUP_CHUNK = 40  # ids per search: the URL stays a few KB


def find_landed(
    client: FhirClient, ids: ServerIds, strategy: CreateStrategy, keys: Iterable[Key]
) -> dict[Key, Found]:
    """Which of our resources the server holds now, found with one search per type and list
    of ids: by the server's ids where we know them (``_id=a,b``), else by our identifier
    (``identifier=<system>|a,<system>|b``: a create whose answer was lost), else, where we
    create with our own ids, by those (``_id=``: written before they carried identifiers).
    A key left out is not on the server. Every server id is learnt before any copy is
    translated, so references between the resources found (an Observation of a Patient
    created in the same lost Bundle) come back in our ids."""
    raw: dict[Key, dict[str, Any]] = {}
    by_type: dict[str, list[str]] = {}
    for resource_type, local_id in sorted(set(keys)):
        by_type.setdefault(resource_type, []).append(local_id)
    for resource_type, local_ids in by_type.items():
        known = {i: ids.server_id(resource_type, i) for i in local_ids}
        by_server = {s: i for i, s in known.items() if s is not None}
        _search(client, resource_type, "_id", by_server, raw)
        unknown = [i for i in local_ids if known[i] is None]
        name = identifier_search("x", resource_type)[0]
        wanted = {identifier_search(i, resource_type)[1]: i for i in unknown}
        _search(client, resource_type, name, wanted, raw)
        if not strategy.by_post(resource_type):
            rest = {i: i for i in unknown if (resource_type, i) not in raw}
            _search(client, resource_type, "_id", rest, raw)
    for (resource_type, local_id), resource in raw.items():
        if FHIR_ID.fullmatch(str(resource.get("id"))):
            ids.learn(resource_type, local_id, str(resource["id"]))
    found: dict[Key, Found] = {}
    for key, resource in raw.items():
        try:
            mapped, server_id = ids.to_local(resource, key[1])
        except MappingError as exc:
            raise InvalidResponseError(f"the server's answer is unusable: {exc}") from None
        meta = resource.get("meta")
        version = meta.get("versionId") if isinstance(meta, dict) else None
        found[key] = (mapped, server_id, version if isinstance(version, str) else None)
    return found


def _search(
    client: FhirClient,
    resource_type: str,
    name: str,
    wanted: dict[str, str],
    raw: dict[Key, dict[str, Any]],
) -> None:
    """Search `resource_type` by `name` for the values of `wanted` (value -> our id)."""
    values = sorted(wanted)
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        params = [(name, ",".join(chunk)), ("_count", str(2 * len(chunk)))]
        for resource in client.iter_search(resource_type, params):
            local_id = _whose(resource, name, wanted)
            if local_id is not None:
                raw.setdefault((resource_type, local_id), resource)


def _whose(resource: dict[str, Any], name: str, wanted: dict[str, str]) -> str | None:
    """Which of the wanted values this search match answers (our id), or None."""
    if name == "_id":
        return wanted.get(str(resource.get("id")))
    ours = our_id_in(resource)
    return ours if ours is not None and ours in wanted.values() else None


def refuses_client_ids(status: int | None, issues: tuple[Issue, ...]) -> bool:
    """Whether a refused PUT-create means "this server assigns ids": Medplum answers 404 to
    a PUT of an unknown id (400 "Cannot perform create as update with client-assigned ID" or
    "Cannot provide ID for create by update" for conditional forms); HAPI 400 "Can not create
    resource with ID ..."; others 405. A validation error (400/422 about the content) is not."""
    if status in (404, 405):
        return True
    said = " ".join(i.diagnostics or "" for i in issues).lower()
    return status in (400, 422) and "create" in said and " id" in said


def refusal(exc: RejectedError) -> str:
    said = "; ".join(exc.diagnostics) or ", ".join(f"{i.severity}/{i.code}" for i in exc.issues)
    return f"the server refused this change ({exc.status}): {said or exc.message}"


def switch_to_post(
    strategy: CreateStrategy,
    planned: list[PlannedWrite],
    status: int | None,
    issues: tuple[Issue, ...],
) -> bool:
    """A create by PUT with our id was refused because the server assigns ids: switch those
    types to POST. True if anything changed (worth one more try)."""
    if not refuses_client_ids(status, issues):
        return False
    changed = False
    for write in planned:
        if write.server_id is None and not strategy.by_post(write.key[0]):
            changed = strategy.refuse_put(write.key[0]) or changed
    return changed
