"""The FHIR R4 REST client sync talks through: one long-lived httpx.Client, typed errors.

Why one client for the life of the worker: keep-alive matters (a push is hundreds of requests),
and the token cache of ``SmartBackendAuth`` lives in the auth object attached to it. The
transport is injectable so unit tests replace the network with ``httpx.MockTransport``; the
integration tests use the real peer (tests/peer).

Every httpx exception and every non-success status is mapped once, here, into the tree in
``sync.fhir.errors``; callers never see an httpx exception. Failures before a status arrived
are OfflineError/TlsError; a body cut short after the status arrived is InvalidResponseError.

Only what sync needs: capabilities, read, put, create, delete, transaction, search paging. No
history. ``put`` creates with our own id where the server allows update-as-create; ``create``
POSTs where the server assigns ids (with If-None-Exist on our identifier, so a retry cannot
duplicate). No redirects (a redirected PUT could land anywhere, carrying our token).

Bytes (issue 14, docs/district/push.md): answers come gzipped where the server offers it
(httpx asks with ``Accept-Encoding: gzip, deflate`` and unzips). A transaction body of
GZIP_MIN_BYTES or more goes gzipped (``Content-Encoding: gzip``) until the server shows it cannot
read one: a 415, or a 400 that says the body is not JSON/gzip, is answered by sending the same
body plain once, and if that is read, this client sends plain bodies for the rest of its life
(the worker's client lives as long as the worker, so one wasted request per start at most).
Transactions never ask ``Prefer: return=minimal``: Medplum then answers an empty body, without
the ids and versions sync must record.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import urlencode

import httpx

from sync.fhir.auth import NoAuth
from sync.fhir.bounded_body import (
    ACCEPT_ENCODING,
    BodyLimit,
    ResponseLimits,
    read_bounded,
    search_params,
)
from sync.fhir.bundle import (
    EntryResult,
    TransactionBuilder,
    check_id,
    check_type,
    etag_version,
    parse_transaction_response,
    weak_etag,
)
from sync.fhir.capability import CapabilityInfo
from sync.fhir.deadline import CycleClock, Deadlines, active
from sync.fhir.errors import (
    FhirError,
    InvalidResponseError,
    RejectedError,
    error_from_response,
    error_from_transport,
)
from sync.fhir.plain_http import refuse_plain_http
from sync.fhir.politeness import Pacer, Politeness
from sync.fhir.search_pages import FALLBACK_COUNT, check_page_shape, next_link, smaller_count
from sync.fhir.transport import Verify, network_transport, ssl_context

__all__ = [
    "DEFAULT_TIMEOUT",
    "FALLBACK_COUNT",
    "FHIR_JSON",
    "FhirClient",
    "SearchParams",
    "VersionedResource",
    "next_link",
    "ssl_context",
]

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
#: Transactions of 50 entries can take a while on a loaded server; connecting should not.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
DEFAULT_USER_AGENT = "FieldChart-sync/0.1"
_LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=30.0)
PAGE_ATTEMPTS = 2  # a search page that arrives unusable is fetched once more (_fetch_page)

#: Request bodies this long or longer are sent gzipped (where the server reads them).
GZIP_MIN_BYTES = 1024
#: Words of a 400 that means the server could not read a gzipped body at all.
_UNREADABLE = ("json", "gzip", "encoding", "parse", "unexpected token", "unreadable")

#: Repeat a name with a list of pairs: ``[("_lastUpdated", "ge…"), ("_lastUpdated", "lt…")]``.
SearchParams = Mapping[str, str] | Sequence[tuple[str, str]]


class VersionedResource(NamedTuple):
    """A resource as the server holds it, and its versionId (None if the server has none)."""

    resource: dict[str, Any]
    version_id: str | None


class FhirClient:
    """Synchronous FHIR R4 client for one server; use as a context manager or call close()."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth | None = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        verify: Verify = True,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        politeness: Politeness | None = None,
        deadlines: Deadlines | None = None,
        limits: ResponseLimits | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` measures an HTTP-date Retry-After when the server sent no Date header (the
        sync engine passes the clinic's, see ``use_clock``); every wait goes through ``sleep``,
        with jitter from ``rng`` (tests inject all three and never wait for real).
        ``deadlines`` bound each request and each cycle in all (``sync.fhir.deadline``),
        measured on ``timer`` (monotonic); ``limits`` bound the size of each answer
        (``sync.fhir.bounded_body``). Plain http is sent only to this machine
        (``sync.fhir.plain_http``)."""
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
            raise ValueError(f"not a FHIR base URL (http(s)://host/path): {base_url!r}")
        path = url.path if url.path.endswith("/") else url.path + "/"
        self._base = url.copy_with(path=path)
        tls = ssl_context(verify)
        if transport is None:
            transport = network_transport(self._base, tls, _LIMITS)
        self._http = httpx.Client(
            base_url=self._base,
            auth=auth or NoAuth(),
            timeout=timeout,
            verify=tls,
            transport=transport,
            limits=_LIMITS,
            headers={
                "Accept": FHIR_JSON,
                "Accept-Encoding": ACCEPT_ENCODING,
                "User-Agent": user_agent,
            },
            follow_redirects=False,
            # Before every request, token requests included, and before any connection.
            event_hooks={"request": [refuse_plain_http]},
        )
        self.limits = limits or ResponseLimits()
        self._cycle = CycleClock(deadlines or Deadlines(), timer)
        self.clock = clock
        #: The ``Date`` header of the server's latest answer that had one (None before): the
        #: server's clock, which the pull's watermark follows instead of the device's
        #: (docs/clocks.md).
        self.server_date: str | None = None
        #: Whether the server reads gzipped request bodies: None until a gzipped one was
        #: answered (True) or shown unreadable (False); see the module docstring.
        self.gzip_bodies: bool | None = None
        self._pacer = Pacer(politeness or Politeness(), sleep=sleep, rng=rng or random.Random())

    @property
    def base_url(self) -> str:
        """The server's base URL, with a trailing slash."""
        return str(self._base)

    def use_clock(self, clock: Callable[[], datetime]) -> None:
        """Measure Retry-After dates with ``clock`` unless the client was given one."""
        if self.clock is None:
            self.clock = clock

    def begin_cycle(self) -> None:
        """A new sync cycle starts: the budget of waiting inside the client is full again, the
        cycle's deadline runs from now, and a wait the server asked for in an earlier cycle no
        longer holds the client back: whether a cycle may start is the worker's decision (it
        waits for the server, unless a person pressed "Sync now")."""
        self._pacer.begin_cycle()
        self._cycle.begin_cycle()

    @property
    def waited_s(self) -> float:
        """Seconds waited inside the client (Retry-After, backoff) since ``begin_cycle``."""
        return self._pacer.waited_s

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- operations ----------------------------------------------------------------------------

    def capabilities(self) -> CapabilityInfo:
        """The server's CapabilityStatement (``GET metadata``), reduced for sync."""
        response = self._send("GET", "metadata", limit=self.limits.capability())
        self._raise_for_status(response)
        body = self._json(response)
        try:
            return CapabilityInfo.from_statement(body)
        except FhirError as exc:
            raise exc.bind(response.request, response.status_code) from None

    def read(self, resource_type: str, resource_id: str) -> VersionedResource | None:
        """The current version of a resource, or None if the server has none (404/410)."""
        path = f"{check_type(resource_type)}/{check_id(resource_id)}"
        response = self._send("GET", path, limit=self.limits.resource())
        if response.status_code in (404, 410):
            return None
        self._raise_for_status(response)
        body = self._resource(response, resource_type, resource_id)
        return VersionedResource(body, self._version(response, body))

    def put(
        self,
        resource_type: str,
        resource_id: str,
        resource: Mapping[str, Any],
        if_match_version: str | None = None,
    ) -> VersionedResource:
        """Create or update with a client id; with ``If-Match: W/"v"`` when a version is given.

        A stale version raises VersionConflictError (412, or 409 on some servers).
        """
        path = f"{check_type(resource_type)}/{check_id(resource_id)}"
        if resource.get("resourceType") != resource_type or resource.get("id") != resource_id:
            raise ValueError(f"the resource's type and id do not match {path}")
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation"}
        if if_match_version is not None:
            headers["If-Match"] = weak_etag(if_match_version)
        response = self._send(
            "PUT", path, content=_encode(resource), headers=headers, limit=self.limits.resource()
        )
        self._raise_for_status(response)
        if not response.content.strip():
            # A server that ignores Prefer: trust our copy, versioned by the ETag.
            version = etag_version(response.headers.get("ETag"))
            return VersionedResource(dict(resource), version)
        body = self._resource(response, resource_type, resource_id)
        return VersionedResource(body, self._version(response, body))

    # -- create (server-assigned id) and delete ------------------------------------------------

    def create(
        self,
        resource_type: str,
        resource: Mapping[str, Any],
        if_none_exist: str | None = None,
    ) -> VersionedResource:
        """``POST Type``: the server assigns the id; returns the server's copy.

        ``if_none_exist`` (e.g. ``identifier=system|value``) makes the create conditional: when
        a match exists the server returns it (200) instead of creating another, so a retried
        create cannot duplicate. Several matches: VersionConflictError (412) or RejectedError.
        Any ``id`` in ``resource`` is left out: a create never chooses its id.
        """
        path = check_type(resource_type)
        if resource.get("resourceType") != resource_type:
            raise ValueError(f"the resource is not a {resource_type}")
        body = {k: v for k, v in resource.items() if k != "id"}
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation"}
        if if_none_exist is not None:
            headers["If-None-Exist"] = if_none_exist
        response = self._send(
            "POST", path, content=_encode(body), headers=headers, limit=self.limits.resource()
        )
        self._raise_for_status(response)
        if response.content.strip():
            found = self._json(response)
            if found.get("resourceType") == resource_type and isinstance(found.get("id"), str):
                return VersionedResource(found, self._version(response, found))
        # A server that ignores Prefer: read what the Location header names.
        location = _location_id(response.headers.get("Location"), resource_type)
        copy = self.read(resource_type, location) if location else None
        if copy is None:
            raise InvalidResponseError(
                f"the server created a {resource_type} but named no id for it",
                request=response.request,
                status=response.status_code,
            )
        return copy

    def delete(self, resource_type: str, resource_id: str) -> bool:
        """``DELETE Type/id``; False when the server had no such resource (404/410)."""
        path = f"{check_type(resource_type)}/{check_id(resource_id)}"
        response = self._send("DELETE", path, limit=self.limits.resource())
        if response.status_code in (404, 410):
            return False
        self._raise_for_status(response)
        return True

    def transaction(self, bundle: Mapping[str, Any] | TransactionBuilder) -> list[EntryResult]:
        """POST a transaction Bundle; one result per entry, in order. All or nothing.

        A stale ifMatch anywhere fails the whole Bundle with one VersionConflictError that does
        not say which entry (Medplum): re-read the command's resources to find out.
        """
        body = bundle.build() if isinstance(bundle, TransactionBuilder) else dict(bundle)
        if body.get("resourceType") != "Bundle" or body.get("type") != "transaction":
            raise ValueError("not a transaction Bundle")
        sent = len(body.get("entry") or [])
        limit = self.limits.entries(sent, f"a transaction response of {sent} entries")
        response = self._send_body("POST", "", _encode(body), {"Content-Type": FHIR_JSON}, limit)
        if not 200 <= response.status_code < 300:
            # 413 or "too many entries": TransactionTooLargeError, the caller sends fewer.
            raise error_from_response(response, clock=self.clock, transaction_entries=sent)
        try:
            return parse_transaction_response(self._json(response), expected_entries=sent)
        except FhirError as exc:
            raise exc.bind(response.request, response.status_code) from None

    def search_batch(self, urls: Sequence[str]) -> tuple[dict[str, Any], str | None]:
        """``POST [base]`` a batch Bundle of ``GET <url>`` searches: the batch-response (one
        entry per search, in order, checked) and the answer's ``Date`` header. A server that
        refuses the batch as a whole raises (RejectedError for a 4xx)."""
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"request": {"method": "GET", "url": url}} for url in urls],
        }
        pages = [self.limits.search(search_params(url, None)).max_bytes for url in urls]
        limit = BodyLimit(self.limits.bundle_bytes + sum(pages), f"a batch of {len(urls)} searches")
        headers = {"Content-Type": FHIR_JSON}
        response = self._send_body("POST", "", _encode(bundle), headers, limit)
        self._raise_for_status(response)
        body = self._json(response)
        entries = body.get("entry")
        if body.get("type") != "batch-response" or not isinstance(entries, list):
            problem = "the batch answer is not a batch-response Bundle"
        elif len(entries) != len(urls):
            problem = f"the batch-response has {len(entries)} entries for {len(urls)} searches"
        else:
            return body, response.headers.get("Date")
        raise InvalidResponseError(problem, request=response.request, status=response.status_code)

    def search_page(self, url_or_type: str, params: SearchParams | None = None) -> dict[str, Any]:
        """One searchset Bundle: ``GET Type?params``, or a ``next`` link fetched as given."""
        if any(c in url_or_type for c in "/?"):  # a link, not a type name
            if params:
                raise ValueError("a paging link already carries its parameters")
            self._check_link(url_or_type)
            limit = self.limits.search(search_params(url_or_type, None))
            response = self._send("GET", url_or_type, limit=limit)
        else:
            limit = self.limits.search(search_params(url_or_type, params))
            response = self._send("GET", check_type(url_or_type), params=params, limit=limit)
        return self._searchset(response)

    def search_post(self, resource_type: str, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """The first searchset page of ``POST Type/_search``, the parameters as a form (for
        id lists too long for a URL); its ``next`` links are followed with `iter_pages`."""
        path = f"{check_type(resource_type)}/_search"
        content = urlencode(list(params)).encode()
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        limit = self.limits.search(list(params))
        return self._searchset(self._send("POST", path, content=content, headers=form, limit=limit))

    def _searchset(self, response: httpx.Response) -> dict[str, Any]:
        self._raise_for_status(response)
        body = self._json(response)
        if body.get("resourceType") != "Bundle" or body.get("type") != "searchset":
            raise InvalidResponseError(
                "the search answer is not a searchset Bundle",
                request=response.request,
                status=response.status_code,
            )
        return body

    def iter_pages(
        self, url_or_type: str, params: SearchParams | None = None
    ) -> Iterator[dict[str, Any]]:
        """Searchset pages one at a time, following ``next`` links exactly as given.

        Only the current page is held, so memory stays flat. To resume after a crash, store
        ``next_link(page)`` once a page is persisted and pass it back as ``url_or_type``.
        """
        page = self._first_page(url_or_type, params)
        previous = url_or_type
        while True:
            yield page
            link = next_link(page)
            if link is None:
                return
            if link == previous:
                raise InvalidResponseError(
                    "the server's next link points at the same page",
                    request=httpx.Request("GET", link),
                )
            previous = link
            page = self._fetch_page(link)

    def _first_page(self, url_or_type: str, params: SearchParams | None) -> dict[str, Any]:
        """The first page; if the server refuses the search (400) and we chose a ``_count``,
        once more with a smaller one (FALLBACK_COUNT, or none: the server's default). Pages
        smaller than asked need nothing: the next links are followed whatever their size."""
        try:
            return self._fetch_page(url_or_type, params)
        except RejectedError as exc:
            smaller = smaller_count(params)
            if exc.status != 400 or smaller is None:
                raise
            log.info("the server refused the search's _count; asking with a smaller page size")
            return self._fetch_page(url_or_type, smaller)

    def _fetch_page(self, url_or_type: str, params: SearchParams | None = None) -> dict[str, Any]:
        """search_page, checked; a page that arrives cut short or garbled is asked for once
        more (a flaky link does that now and then) before it counts as broken."""
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            try:
                page = self.search_page(url_or_type, params)
                check_page_shape(page)
                return page
            except InvalidResponseError:
                if attempt == PAGE_ATTEMPTS:
                    raise
                log.info("a search page was unusable; asking for it once more")
        raise AssertionError("unreachable")

    def iter_search(
        self,
        resource_type: str,
        params: SearchParams | None = None,
        on_bad_entry: Callable[[object, str], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching resource (``search.mode`` match), page by page.

        An entry that is not an object, or a match without a resource object, is not silently
        dropped: it goes to ``on_bad_entry(entry, problem)`` (sync quarantines it for IT);
        without a callback it is skipped. Included resources and OperationOutcomes
        (``search.mode`` include / outcome) are not matches and are skipped.
        """
        for page in self.iter_pages(resource_type, params):
            for entry in page.get("entry") or []:
                if not isinstance(entry, dict):
                    if on_bad_entry is not None:
                        on_bad_entry(entry, "search entry is not a JSON object")
                    continue
                resource = entry.get("resource")
                search = entry.get("search")
                mode = search.get("mode", "match") if isinstance(search, dict) else "match"
                if mode != "match":
                    continue
                if isinstance(resource, dict):
                    yield resource
                elif on_bad_entry is not None:
                    on_bad_entry(entry, "search entry has no resource object")

    # -- plumbing ------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: SearchParams | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        limit: BodyLimit,
    ) -> httpx.Response:
        """One request with its body read (within ``limit`` and the request's deadline);
        transport failures mapped, statuses left to check.

        A server that asks us to slow down is obeyed here, within the client's ``Politeness``
        (``sync.fhir.politeness``): short waits are sat out and the request sent again; when a
        bound is reached the last answer is returned as it came, for the caller to raise."""
        return self._pacer.send(
            # Built anew for each try: an auth flow may change it as it goes.
            lambda: self._send_once(self._request(method, url, params, content, headers), limit),
            clock=self.clock,
            unsent=lambda: self._http.build_request(method, url),
        )

    def _send_body(
        self, method: str, url: str, content: bytes, headers: Mapping[str, str], limit: BodyLimit
    ) -> httpx.Response:
        """`_send` with a body, gzipped when it is long and the server may read gzip; sent
        plain once more (and plain from then on) if the server shows it could not read it."""
        if len(content) < GZIP_MIN_BYTES or self.gzip_bodies is False:
            return self._send(method, url, content=content, headers=headers, limit=limit)
        zipped = {**headers, "Content-Encoding": "gzip"}
        zipped_body = gzip.compress(content, 6)
        response = self._send(method, url, content=zipped_body, headers=zipped, limit=limit)
        if self.gzip_bodies is None:
            if 200 <= response.status_code < 300:
                self.gzip_bodies = True
            elif _unreadable(response):
                plain = self._send(method, url, content=content, headers=headers, limit=limit)
                if not _unreadable(plain):
                    self.gzip_bodies = False
                    log.info("the server does not read gzipped bodies: sending them plain")
                return plain
        return response

    def _request(
        self,
        method: str,
        url: str,
        params: SearchParams | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Request:
        # None, not an empty QueryParams: httpx would re-encode a next link's query otherwise.
        query = None
        if params:
            query = httpx.QueryParams(
                list(params.items()) if isinstance(params, Mapping) else list(params)
            )
        return self._http.build_request(method, url, params=query, content=content, headers=headers)

    def _send_once(self, request: httpx.Request, limit: BodyLimit) -> httpx.Response:
        """One request sent once, its body read within ``limit``, all by its deadline."""
        started = time.monotonic()
        deadline = self._cycle.for_request(request)  # DeadlineError: the cycle's time is up
        with active(deadline):
            try:
                streamed = self._http.send(request, stream=True)
            except FhirError:
                raise  # from a request hook or an auth flow: already mapped
            except httpx.RequestError as exc:
                if isinstance(exc, httpx.TimeoutException) and deadline.remaining() <= 0:
                    raise deadline.error(request) from exc
                raise error_from_transport(exc, request) from exc
            try:
                response = read_bounded(streamed, limit)
            except httpx.TimeoutException as exc:
                if deadline.remaining() <= 0:
                    raise deadline.error(request) from exc
                raise error_from_transport(exc, request) from exc
            except httpx.RequestError as exc:
                raise InvalidResponseError(
                    "the server's answer was cut short",
                    request=request,
                    status=streamed.status_code,
                ) from exc
            finally:
                streamed.close()
        self.server_date = response.headers.get("Date", self.server_date)  # for the pull
        log.debug(
            "%s %s -> %s (%d bytes, %.0f ms)",
            request.method,
            request.url.copy_with(query=None),
            response.status_code,
            len(response.content),
            (time.monotonic() - started) * 1000,
        )
        return response

    def _raise_for_status(self, response: httpx.Response) -> None:
        if not 200 <= response.status_code < 300:
            raise error_from_response(response, clock=self.clock)

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        def invalid(what: str) -> InvalidResponseError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            return InvalidResponseError(
                f"the server's answer is {what} ({kind})",
                request=response.request,
                status=response.status_code,
            )

        if not response.content.strip():
            raise invalid("empty")
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            raise invalid("not valid JSON (not FHIR, or cut short)") from None
        if not isinstance(body, dict):
            raise invalid("not a JSON object")
        return body

    def _resource(
        self, response: httpx.Response, resource_type: str, resource_id: str
    ) -> dict[str, Any]:
        body = self._json(response)
        if body.get("resourceType") != resource_type or body.get("id") != resource_id:
            raise InvalidResponseError(
                f"expected {resource_type}/{resource_id}, got a {body.get('resourceType')!r}",
                request=response.request,
                status=response.status_code,
            )
        return body

    @staticmethod
    def _version(response: httpx.Response, body: Mapping[str, Any]) -> str | None:
        version = etag_version(response.headers.get("ETag"))
        if version is None:
            meta = body.get("meta")
            found = meta.get("versionId") if isinstance(meta, dict) else None
            version = found if isinstance(found, str) else None
        return version

    def _check_link(self, link: str) -> None:
        """Refuse paging links to another origin: they would receive our credentials."""
        try:
            url = self._base.join(link)
        except httpx.InvalidURL:
            raise InvalidResponseError(
                "the server gave a paging link that is not a URL", request=None
            ) from None
        base = self._base
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise InvalidResponseError(
                f"the server's paging link points to another origin ({url.scheme}://{url.host}): "
                "check the server's configured base URL",
                request=httpx.Request("GET", url),
            )


def _location_id(location: str | None, resource_type: str) -> str | None:
    """The id in a create's ``Location`` (``[base/]Type/id[/_history/v]``), or None."""
    parts = (location or "").split("?")[0].strip("/").split("/")
    for i, part in enumerate(parts[:-1]):
        if part == resource_type:
            candidate = parts[i + 1]
            try:
                return check_id(candidate)
            except ValueError:
                return None
    return None


def _encode(resource: Mapping[str, Any]) -> bytes:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _unreadable(response: httpx.Response) -> bool:
    """Whether the server said it could not read the request body at all (not: refused it)."""
    if response.status_code == 415:
        return True
    said = response.text.lower() if response.status_code == 400 else ""
    return any(word in said for word in _UNREADABLE)
