"""Our ids and the server's: every resource keeps our id locally, whatever the server calls it.

Servers that allow update-as-create (the test peer, HAPI, Azure) store our resources under our
ids. Servers that assign ids (Medplum for a normal client, Google's without enableUpdateCreate)
give each created resource an id of their own. Mapping, charts and rebase all work in *our*
ids; this module translates at the edge, both ways:

- out: the resource's id becomes the server's id (or none, for a create by POST), and every
  reference to one of our resources names the server's id (or the ``urn:uuid`` of an entry
  created in the same transaction);
- in: a server resource is filed under our id: the value of its FieldChart identifier (every
  resource we create carries one), else the id we already map to its server id, else the
  server's own id (a resource another system created keeps its server id as our id);
  references to resources we know are rewritten to our ids.

The id map itself is the server id kept beside each server copy in the vault (sync_state).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sync.fhir.client import FhirClient
from sync.fhir.errors import InvalidResponseError
from sync.fhir.mapping.common import FHIR_ID, FIELDCHART_ID
from sync.fhir.mapping.errors import MalformedResourceError

Json = dict[str, Any]
Key = tuple[str, str]  # (resource type, id)

_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
# Resource types without an `identifier` element: found again by our id in a tag instead.
_NO_IDENTIFIER = frozenset({"AuditEvent"})
_NAMESPACE = uuid.UUID("5d7c53c4-0c32-4f63-8f0e-7e1b6f3a1c2d")


def full_url(key: Key) -> str:
    """The ``urn:uuid`` that names one of our resources inside a transaction."""
    try:
        return f"urn:uuid:{uuid.UUID(key[1])}"
    except ValueError:  # derived ids ("<vitals set>-bp") are not UUIDs
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{key[0]}/{key[1]}')}"


def identifier_search(local_id: str, resource_type: str) -> tuple[str, str]:
    """The search parameter that finds our resource on any server: (name, value)."""
    if resource_type in _NO_IDENTIFIER:
        return "_tag", f"{FIELDCHART_ID}|{local_id}"
    return "identifier", f"{FIELDCHART_ID}|{local_id}"


def our_id_in(resource: Mapping[str, Any]) -> str | None:
    """The FieldChart id a resource carries (identifier, or tag where there is no identifier)."""
    if resource.get("resourceType") in _NO_IDENTIFIER:
        meta = resource.get("meta")
        entries = meta.get("tag") if isinstance(meta, dict) else None
        key = "code"
    else:
        entries = resource.get("identifier")
        key = "value"
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("system") == FIELDCHART_ID:
            value = entry.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def with_our_id(resource: Json) -> Json:
    """`resource` carrying its FieldChart id (added if missing; nothing else changes)."""
    if our_id_in(resource) == resource.get("id"):
        return resource
    marked = dict(resource)  # only its identifier (or meta) is replaced, never changed in place
    if marked["resourceType"] in _NO_IDENTIFIER:
        meta = marked["meta"] = dict(marked.get("meta") or {})
        meta["tag"] = [
            *[t for t in meta.get("tag") or [] if t.get("system") != FIELDCHART_ID],
            {"system": FIELDCHART_ID, "code": marked["id"]},
        ]
    else:
        marked["identifier"] = [
            *[i for i in marked.get("identifier") or [] if i.get("system") != FIELDCHART_ID],
            {"system": FIELDCHART_ID, "value": marked["id"]},
        ]
    return marked


def references_in(node: Any) -> set[Key]:
    """(type, id) of every ``reference: "Type/id"`` in `node` (the grammar translating uses)."""
    found: set[Key] = set()
    if isinstance(node, list):
        for value in node:
            found |= references_in(value)
    elif isinstance(node, dict):
        for name, value in node.items():
            match = (
                _REFERENCE.match(value) if name == "reference" and isinstance(value, str) else None
            )
            if match:
                found.add((match.group(1), match.group(2)))
            else:
                found |= references_in(value)
    return found


def _rewrite_references(node: Any, rewrite: Callable[[str, str], str | None]) -> Any:
    """`node` with every ``reference: "Type/id"`` that `rewrite` answers for replaced."""
    if isinstance(node, list):
        return [_rewrite_references(v, rewrite) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for name, value in node.items():
        if name == "reference" and isinstance(value, str):
            match = _REFERENCE.match(value)
            replaced = rewrite(match.group(1), match.group(2)) if match else None
            out[name] = replaced if replaced is not None else value
        else:
            out[name] = _rewrite_references(value, rewrite)
    return out


class ServerIds:
    """Translates resources between our ids and the server's, with the vault's id map.

    `server_id_of(type, our id)` and `local_id_of(type, server id)` read the map; answers are
    cached for the life of the object (one push or pull), and what is learnt meanwhile is
    added with `learn`.
    """

    def __init__(
        self,
        server_id_of: Callable[[str, str], str | None],
        local_id_of: Callable[[str, str], str | None],
    ) -> None:
        self._server_id_of = server_id_of
        self._local_id_of = local_id_of
        self._to_server: dict[Key, str | None] = {}
        self._to_local: dict[Key, str | None] = {}

    def server_id(self, resource_type: str, local_id: str) -> str | None:
        key = (resource_type, local_id)
        if key not in self._to_server:
            self._to_server[key] = self._server_id_of(resource_type, local_id)
        return self._to_server[key]

    def local_id(self, resource_type: str, server_resource_id: str) -> str | None:
        key = (resource_type, server_resource_id)
        if key not in self._to_local:
            self._to_local[key] = self._local_id_of(resource_type, server_resource_id)
        return self._to_local[key]

    def learn(self, resource_type: str, local_id: str, server_resource_id: str) -> None:
        self._to_server[(resource_type, local_id)] = server_resource_id
        self._to_local[(resource_type, server_resource_id)] = local_id

    def note(self, resource_type: str, local_id: str, server_resource_id: str | None) -> None:
        """What the caller just read from the id map itself (None: the server has not got
        it), so that translating does not read it again."""
        if server_resource_id is None:
            self._to_server.setdefault((resource_type, local_id), None)
        else:
            self.learn(resource_type, local_id, server_resource_id)

    def to_server(
        self, resource: Json, server_resource_id: str | None, created_here: Mapping[Key, str]
    ) -> Json:
        """Our resource as the server must receive it: its id is `server_resource_id` (None:
        a create by POST, no id); references to resources created in the same transaction
        name their `created_here` full URL, those the server knows name its id."""

        def rewrite(resource_type: str, local_id: str) -> str | None:
            key = (resource_type, local_id)
            if key in created_here:
                return created_here[key]
            known = self.server_id(resource_type, local_id)
            return f"{resource_type}/{known}" if known is not None else None

        sent: Json = _rewrite_references(with_our_id(resource), rewrite)
        if server_resource_id is None:
            sent.pop("id", None)
        else:
            sent["id"] = server_resource_id
        return sent

    def to_local(self, resource: Json, local_id: str | None = None) -> tuple[Json, str]:
        """A server resource under our id, with references to our resources in our ids, and
        its server id. `local_id` names it when the caller knows whose answer this is."""
        server_resource_id = str(resource["id"])
        resource_type = str(resource["resourceType"])
        if not FHIR_ID.fullmatch(server_resource_id):
            # Every later read and update would put it into a URL path.
            raise MalformedResourceError(f"{resource_type}/?", "id", "is not a FHIR id")
        local = (
            local_id
            or our_id_in(resource)
            or self.local_id(resource_type, server_resource_id)
            or server_resource_id
        )
        self.learn(resource_type, local, server_resource_id)

        def rewrite(ref_type: str, ref_id: str) -> str | None:
            found = self.local_id(ref_type, ref_id)
            return f"{ref_type}/{found}" if found is not None else None

        mapped: Json = _rewrite_references(resource, rewrite)
        mapped["id"] = local
        return mapped, server_resource_id


def _to_local(ids: ServerIds, resource: Json, local_id: str) -> tuple[Json, str]:
    try:
        return ids.to_local(resource, local_id)
    except MalformedResourceError as exc:
        raise InvalidResponseError(f"the server's answer is unusable: {exc}") from None


def find_on_server(
    client: FhirClient, ids: ServerIds, resource_type: str, local_id: str, *, by_post: bool
) -> tuple[Json, str, str | None] | None:
    """Our resource as the server now holds it: (copy under our id, server id, version), or
    None if the server has not got it. Read by its server id when we know it, else found by
    our identifier (a create whose answer was lost), else, where we create with our own ids
    (not `by_post`), read by our id (resources written before they carried identifiers)."""
    known = ids.server_id(resource_type, local_id)
    if known is not None:
        found = client.read(resource_type, known)
        if found is None:
            return None
        mapped, server_resource_id = _to_local(ids, found.resource, local_id)
        return mapped, server_resource_id, found.version_id
    name, value = identifier_search(local_id, resource_type)
    for resource in client.iter_search(resource_type, [(name, value), ("_count", "2")]):
        mapped, server_resource_id = _to_local(ids, resource, local_id)
        meta = resource.get("meta")
        version = meta.get("versionId") if isinstance(meta, dict) else None
        return mapped, server_resource_id, version if isinstance(version, str) else None
    if by_post:
        return None
    found = client.read(resource_type, local_id)
    if found is None:
        return None
    mapped, server_resource_id = _to_local(ids, found.resource, local_id)
    return mapped, server_resource_id, found.version_id
