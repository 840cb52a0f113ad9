"""Transaction Bundles: build them within the server's limits, and read their responses.

One pending command becomes one transaction, so its writes succeed or fail together. Servers cap
transactions, and a Bundle over a cap fails as a whole after a round trip; the builder refuses
the entry instead, before anything is sent, so the caller can split.

The default limit is Medplum's (the test peer and the production server, FHIR-PEER.md), measured
in its transaction processor: at most 50 update (PUT) entries. Medplum allows only 8 entries in
all if any entry is *conditional* in its sense, i.e. needs a search to find its target
(``PUT Type?query``, ``ifNoneExist``). ``ifMatch`` on ``PUT Type/id`` is **not** conditional
there: 50 PUTs that all carry ifMatch are accepted (tests/sync/test_fhir_client.py checks both
against the peer). A create by POST on a server that assigns ids carries ``ifNoneExist`` on our
identifier, so a Bundle with creates holds at most 8 entries. The same resource twice is a 400
on Medplum and ambiguous anywhere, so it is refused too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.fhir.errors import (
    BundleLimitError,
    DuplicateEntryError,
    InvalidResponseError,
    Issue,
    TooManyEntriesError,
    parse_operation_outcome,
)

__all__ = [
    "MAX_UPDATES",
    "MAX_WITH_CONDITIONAL",
    "BundleLimitError",
    "DuplicateEntryError",
    "EntryResult",
    "TooManyEntriesError",
    "TransactionBuilder",
    "check_id",
    "check_type",
    "etag_version",
    "parse_transaction_response",
    "weak_etag",
]

MAX_UPDATES = 50
MAX_WITH_CONDITIONAL = 8

_TYPE = re.compile(r"[A-Z][A-Za-z]{0,63}")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ETAG = re.compile(r'^\s*(?:W/)?"([^"]*)"\s*$')
_HISTORY = re.compile(r"/_history/([^/?#]+)")


def check_type(resource_type: str) -> str:
    """``resource_type`` if it is a plausible FHIR resource type name, else ValueError."""
    if not _TYPE.fullmatch(resource_type):
        raise ValueError(f"not a FHIR resource type: {resource_type!r}")
    return resource_type


def check_id(resource_id: str) -> str:
    """``resource_id`` if it is a valid FHIR id (it goes into a URL path), else ValueError."""
    # "." and ".." match FHIR's pattern but in a URL path they mean "here" and "up".
    if not _ID.fullmatch(resource_id) or resource_id in (".", ".."):
        raise ValueError(f"not a FHIR id: {resource_id!r}")
    return resource_id


def weak_etag(version_id: str) -> str:
    """``W/"<version>"``: Medplum silently ignores an unquoted If-Match (FHIR-PEER.md)."""
    if not version_id or '"' in version_id or any(ord(c) < 0x21 for c in version_id):
        raise ValueError(f"not a usable versionId: {version_id!r}")
    return f'W/"{version_id}"'


def etag_version(etag: str | None) -> str | None:
    """The versionId inside an ETag (``W/"x"`` or ``"x"``), or None."""
    if not etag:
        return None
    match = _ETAG.match(etag)
    return (match.group(1) or None) if match else None


def _check_resource(resource_type: str, resource: Mapping[str, Any]) -> None:
    if resource.get("resourceType") != resource_type:
        raise ValueError(
            f"resourceType {resource.get('resourceType')!r} does not match {resource_type!r}"
        )


@dataclass
class TransactionBuilder:
    """Collects the PUTs of one command into a transaction Bundle, within the limits."""

    max_updates: int = MAX_UPDATES
    base_url: str | None = None
    max_with_conditional: int = MAX_WITH_CONDITIONAL
    _entries: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)
    _keys: set[str] = field(default_factory=set, init=False, repr=False)
    _conditional: bool = field(default=False, init=False, repr=False)

    def __len__(self) -> int:
        return len(self._entries)

    def fits(self, conditional: bool = False) -> bool:
        """Whether one more entry (conditional or not) would stay within the limits."""
        limit = self.max_updates
        if conditional or self._conditional:
            limit = min(limit, self.max_with_conditional)
        return len(self._entries) + 1 <= limit

    def add_create(
        self,
        resource_type: str,
        full_url: str,
        resource: Mapping[str, Any],
        if_none_exist: str | None = None,
    ) -> None:
        """Add ``POST Type`` (the server picks the id), named ``full_url`` (a ``urn:uuid``) so
        other entries can refer to it; with ``ifNoneExist`` (a search) it is created only if
        nothing matches, which makes a repeated create harmless."""
        check_type(resource_type)
        _check_resource(resource_type, resource)
        if "id" in resource:
            raise ValueError("a resource created by POST carries no id")
        if not full_url.startswith("urn:uuid:"):
            raise ValueError(f"not a urn:uuid full URL: {full_url!r}")
        request: dict[str, Any] = {"method": "POST", "url": resource_type}
        if if_none_exist is not None:
            request["ifNoneExist"] = if_none_exist
        self._add(
            full_url,
            {"fullUrl": full_url, "resource": copy.deepcopy(dict(resource)), "request": request},
            conditional=if_none_exist is not None,
        )

    def _add(self, key: str, entry: dict[str, Any], conditional: bool) -> None:
        if key in self._keys:
            raise DuplicateEntryError(
                f"{key} is already in this transaction: merge the writes or split the Bundle"
            )
        if not self.fits(conditional):
            raise TooManyEntriesError(
                f"the server accepts at most {len(self._entries)} entries in this transaction: "
                "split the Bundle"
            )
        self._keys.add(key)
        self._entries.append(entry)
        self._conditional = self._conditional or conditional

    def add_put(
        self,
        resource_type: str,
        resource_id: str,
        resource: Mapping[str, Any],
        if_match_version: str | None = None,
    ) -> None:
        """Add ``PUT Type/id`` (create or update), with ``ifMatch: W/"v"`` when given."""
        check_type(resource_type)
        check_id(resource_id)
        _check_resource(resource_type, resource)
        if resource.get("id") != resource_id:
            raise ValueError(f"resource id {resource.get('id')!r} does not match {resource_id!r}")
        url = f"{resource_type}/{resource_id}"
        request: dict[str, Any] = {"method": "PUT", "url": url}
        if if_match_version is not None:
            request["ifMatch"] = weak_etag(if_match_version)
        entry: dict[str, Any] = {"resource": copy.deepcopy(dict(resource)), "request": request}
        if self.base_url:
            entry = {"fullUrl": f"{self.base_url.rstrip('/')}/{url}", **entry}
        self._add(url, entry, conditional=False)

    def build(self) -> dict[str, Any]:
        """The transaction Bundle (a new dict each call)."""
        if not self._entries:
            raise ValueError("a transaction needs at least one entry")
        return {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": copy.deepcopy(self._entries),
        }


@dataclass(frozen=True)
class EntryResult:
    """What the server did with one transaction entry, in request order."""

    status: int
    location: str | None
    resource: dict[str, Any] | None
    version_id: str | None
    outcome: tuple[Issue, ...] = ()


def _status(text: Any) -> int:
    match = re.match(r"\s*(\d{3})\b", text) if isinstance(text, str) else None
    if match is None:
        raise InvalidResponseError("a transaction-response entry has no valid status")
    return int(match.group(1))


def parse_transaction_response(
    bundle: Any, *, expected_entries: int | None = None
) -> list[EntryResult]:
    """Entry results of a transaction-response Bundle.

    Transaction responses carry no ``etag`` on Medplum, so the version comes from
    ``entry.resource.meta.versionId``, then ``response.etag``, then ``/_history/<v>`` in the
    location.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidResponseError("the transaction answer is not a Bundle")
    # A server whose transactions are not atomic may answer as it ran them: as a batch.
    if bundle.get("type") not in ("transaction-response", "batch-response"):
        raise InvalidResponseError(f"expected a transaction-response, got {bundle.get('type')!r}")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidResponseError("the transaction-response entries are not a list")
    if expected_entries is not None and len(entries) != expected_entries:
        raise InvalidResponseError(
            f"the transaction-response has {len(entries)} entries for {expected_entries} sent"
        )
    results = []
    for entry in entries:
        response = entry.get("response") if isinstance(entry, dict) else None
        if not isinstance(response, dict):
            raise InvalidResponseError("a transaction-response entry has no response")
        resource = entry.get("resource")
        if resource is not None and not isinstance(resource, dict):
            raise InvalidResponseError("a transaction-response entry has an invalid resource")
        location = response.get("location")
        location = location if isinstance(location, str) else None
        meta = resource.get("meta") if resource else None
        version = meta.get("versionId") if isinstance(meta, dict) else None
        if not isinstance(version, str):
            version = etag_version(response.get("etag"))
        if version is None and location:
            found = _HISTORY.search(location)
            version = found.group(1) if found else None
        results.append(
            EntryResult(
                status=_status(response.get("status")),
                location=location,
                resource=resource,
                version_id=version,
                outcome=parse_operation_outcome(response.get("outcome")),
            )
        )
    return results
