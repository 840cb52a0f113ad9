"""Errors of the FHIR client, and the one place where HTTP failures are turned into them.

    FhirError                       something went wrong talking to the FHIR server
     ├── OfflineError               no usable answer: refused, DNS, timeout, reset   retryable
     │    ├── TlsError              TLS failed; .reason says e.g. "certificate not trusted"
     │    └── DeadlineError         the request's or the sync cycle's total time ran out
     ├── PlainHttpRefusedError      plain http:// to another machine: nothing was sent
     ├── AuthError                  401/403, or the token endpoint refused the device
     ├── VersionConflictError       412 (409 on servers such as HAPI): rebase, then retry
     ├── ConcurrentUpdateError      409 "could not serialize access": resend as is     retryable
     ├── RateLimitedError           429/503; .retry_after_s from Retry-After          retryable
     ├── RejectedError              any other 4xx; .issues from the OperationOutcome
     │    └── TransactionTooLargeError  413, or 400 "too many entries", to a transaction:
     │                                  send fewer entries per transaction (.entries, .limit)
     ├── ServerError                5xx                                               retryable
     ├── InvalidResponseError       not JSON, wrong resourceType, cut short, 3xx      retryable
     │    └── ResponseTooLargeError an answer larger than the request can need (limits:
     │                              sync.fhir.bounded_body); reading it stopped there
     └── UnsupportedServerError     the CapabilityStatement is not a FHIR R4 server's

    BundleLimitError (ValueError)   raised *before* sending: the caller must split the Bundle
     ├── TooManyEntriesError        more than the server's limit of updates
     └── DuplicateEntryError        the same resource twice in one transaction

Why these cut lines: the sync worker acts on the class (retry with backoff, wait for
Retry-After, rebase, ask a person, ask IT), never on a status code or a message.

Every FhirError carries ``method``, ``url`` and ``status`` (``None`` when no response came) and
the ``request`` itself. ``url`` keeps scheme, host, path and the *names* of query parameters but
not their values; the resource ids in paths are client UUIDs. Messages never contain resource
bodies or the server's diagnostics, because diagnostics can echo submitted data (a patient's
name) and messages end up in logs. The diagnostics stay on ``.issues`` for display on screen.

``TlsError`` is an ``OfflineError`` because a captive portal or intercepting proxy presents its
own certificate and the real server is reachable again later; the UI should still check for it
first and show ``.reason`` to IT, since a missing CA bundle never fixes itself.

``InvalidResponseError`` is retryable because its usual causes are transient: a captive portal's
HTML page or redirect, a proxy error page, a body cut short by a dropped connection.

409 and 412: 412 is always a version conflict (a stale If-Match); a 409 is a
``ConcurrentUpdateError`` only when its OperationOutcome says the *server's own* concurrency
control failed, else a ``VersionConflictError``. The rule, and how long a 429/503 asks us to wait,
are in ``sync.fhir.retry_hints``.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

import httpx

from app.i18n import N_, _
from sync.fhir.outcome import (
    Issue,
    parse_operation_outcome,
    says_too_many_entries,
    stated_limit,
)
from sync.fhir.retry_hints import is_concurrent_update, retry_after_of

__all__ = [
    "AuthError",
    "BundleLimitError",
    "ConcurrentUpdateError",
    "DeadlineError",
    "DuplicateEntryError",
    "FhirError",
    "InvalidResponseError",
    "Issue",
    "OfflineError",
    "PlainHttpRefusedError",
    "RateLimitedError",
    "RejectedError",
    "ResponseTooLargeError",
    "ServerError",
    "TlsError",
    "TooManyEntriesError",
    "TransactionTooLargeError",
    "UnsupportedServerError",
    "VersionConflictError",
    "error_from_response",
    "error_from_transport",
    "parse_operation_outcome",
    "redact_url",
]


class FhirError(Exception):
    """Base of every failure of a request to the FHIR server."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request | None = None,
        status: int | None = None,
        issues: tuple[Issue, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.status = status
        self.issues = issues

    @property
    def method(self) -> str | None:
        """HTTP method of the failed request."""
        return self.request.method if self.request is not None else None

    @property
    def url(self) -> str | None:
        """URL of the failed request, query values elided (see module docstring)."""
        return redact_url(self.request.url) if self.request is not None else None

    @property
    def diagnostics(self) -> list[str]:
        """The server's diagnostics texts, for the screen (not for logs)."""
        return [issue.diagnostics for issue in self.issues if issue.diagnostics]

    def bind(self, request: httpx.Request, status: int | None = None) -> FhirError:
        """Fill in the request context if the error was raised where none was known."""
        if self.request is None:
            self.request = request
        if self.status is None:
            self.status = status
        return self

    def __str__(self) -> str:
        where = " ".join(part for part in (self.method, self.url) if part)
        if self.status is not None:
            where = f"{where} -> {self.status}" if where else str(self.status)
        codes = ", ".join(f"{i.severity}/{i.code}" for i in self.issues)
        text = f"{self.message} [{codes}]" if codes else self.message
        return f"{text} ({where})" if where else text


class OfflineError(FhirError):
    """The server could not be reached or did not answer in time."""

    retryable = True


class TlsError(OfflineError):
    """The TLS handshake failed; ``reason`` is plain words for IT."""

    def __init__(self, message: str, *, reason: str, request: httpx.Request | None = None):
        super().__init__(message, request=request)
        self.reason = reason


class DeadlineError(OfflineError):
    """The request (``cycle`` False) or the whole sync cycle (``cycle`` True) ran out of time:
    a server that drips its answer cannot hold sync (sync.fhir.deadline)."""

    def __init__(self, message: str, *, cycle: bool, request: httpx.Request | None = None):
        super().__init__(message, request=request)
        self.cycle = cycle


class PlainHttpRefusedError(FhirError):
    """The URL is plain http to another machine; refused before connecting (nothing sent)."""


class AuthError(FhirError):
    """The server or its token endpoint does not accept the device's credentials."""


class VersionConflictError(FhirError):
    """The resource changed on the server since the version we based our write on."""


class ConcurrentUpdateError(FhirError):
    """409 from the server's own concurrency control ("could not serialize access due to
    concurrent update"): nothing was written and the same request may be sent again. Not a
    version conflict: our If-Match (if any) was not found stale. See sync.fhir.retry_hints."""

    retryable = True


class RateLimitedError(FhirError):
    """The server asked us to come back later; ``retry_after_s`` is how long, if it said."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None,
        request: httpx.Request | None = None,
        status: int | None = None,
        issues: tuple[Issue, ...] = (),
    ) -> None:
        super().__init__(message, request=request, status=status, issues=issues)
        self.retry_after_s = retry_after_s


class RejectedError(FhirError):
    """The server refused the request as invalid (4xx); retrying the same request won't help."""


class TransactionTooLargeError(RejectedError):
    """The server refused a transaction for its size (413, or 400 saying it has too many
    entries): send the same writes in smaller transactions. ``entries`` is how many the refused
    Bundle had; ``limit`` the server's stated maximum when its message names one, else None."""

    def __init__(
        self,
        message: str,
        *,
        entries: int,
        limit: int | None = None,
        request: httpx.Request | None = None,
        status: int | None = None,
        issues: tuple[Issue, ...] = (),
    ) -> None:
        super().__init__(message, request=request, status=status, issues=issues)
        self.entries = entries
        self.limit = limit


class ServerError(FhirError):
    """The server failed (5xx)."""

    retryable = True


class InvalidResponseError(FhirError):
    """The answer is not what a FHIR server sends for this request."""

    retryable = True


class ResponseTooLargeError(InvalidResponseError):
    """The answer is larger than anything this request can need; ``limit`` in bytes."""

    def __init__(
        self,
        message: str,
        *,
        limit: int,
        request: httpx.Request | None = None,
        status: int | None = None,
    ):
        super().__init__(message, request=request, status=status)
        self.limit = limit


class UnsupportedServerError(FhirError):
    """The server is not one FieldChart can sync with (not FHIR R4, no REST server)."""


class BundleLimitError(ValueError):
    """A transaction Bundle would exceed a server limit; split it before sending."""


class TooManyEntriesError(BundleLimitError):
    """Adding the entry would exceed the number of entries the server accepts."""


class DuplicateEntryError(BundleLimitError):
    """The resource is already in this transaction."""


def redact_url(url: httpx.URL) -> str:
    """``url`` with query values replaced by ``…``: names help debugging, values may be PHI."""
    base = str(url.copy_with(query=None, fragment=None))
    names = [name for name, _ in url.params.multi_items()]
    return f"{base}?{'&'.join(f'{n}=…' for n in names)}" if names else base


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


def error_from_response(
    response: httpx.Response,
    *,
    token_endpoint: bool = False,
    clock: Callable[[], datetime] | None = None,
    transaction_entries: int | None = None,
) -> FhirError:
    """The FhirError for a response that is not a success (its body must have been read).

    ``token_endpoint``: the response came from the OAuth token endpoint, where every 4xx
    (invalid_client, invalid_grant, invalid_scope, ...) means the credentials are wrong.
    ``clock``: the clinic's, to measure a Retry-After date when the server sent no Date.
    ``transaction_entries``: the request was a transaction of that many entries, so a refusal
    for its size is a TransactionTooLargeError.
    """
    status = response.status_code
    request = response.request
    body = _json_or_none(response)
    issues = parse_operation_outcome(body)
    kwargs: dict[str, Any] = {"request": request, "status": status, "issues": issues}

    if status in (429, 503):
        retry_after = retry_after_of(response, clock)
        return RateLimitedError(
            _("the server is busy and asked to retry later"), retry_after_s=retry_after, **kwargs
        )
    if token_endpoint and 400 <= status < 500:
        reason = ""
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            # OAuth error codes and descriptions describe the client, never patient data.
            reason = f": {body['error']}"
            if isinstance(body.get("error_description"), str):
                reason += f" ({body['error_description'][:200]})"
        return AuthError(
            _("the token endpoint refused the device's credentials{reason}").format(reason=reason),
            **kwargs,
        )
    if status in (401, 403):
        return AuthError(
            _("the server says the device is not authorised")
            if status == 401
            else _("the server says the device is not permitted"),
            **kwargs,
        )
    if is_concurrent_update(status, issues):
        return ConcurrentUpdateError(
            _("the server was busy with a concurrent update of the same data"), **kwargs
        )
    if status in (409, 412):
        return VersionConflictError(_("the resource changed on the server"), **kwargs)
    if transaction_entries is not None and (
        status == 413 or (status == 400 and says_too_many_entries(issues))
    ):
        return TransactionTooLargeError(
            _("the server refused a transaction of {count} entries as too large").format(
                count=transaction_entries
            ),
            entries=transaction_entries,
            limit=stated_limit(issues),
            **kwargs,
        )
    if status == 413:
        return RejectedError(_("the server refused the request as too large"), **kwargs)
    if 400 <= status < 500:
        return RejectedError(_("the server rejected the request"), **kwargs)
    if status >= 500:
        return ServerError(_("the server failed to handle the request"), **kwargs)
    if 300 <= status < 400:
        # A captive portal, or a base URL the server wants changed (http -> https). We do not
        # follow: a redirected PUT could land anywhere, with our token.
        return InvalidResponseError(
            _("the server redirected the request (check the base URL, or a captive portal)"),
            **kwargs,
        )
    return InvalidResponseError(
        _("unexpected HTTP status {status}").format(status=status), **kwargs
    )


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


def error_from_transport(exc: httpx.RequestError, request: httpx.Request) -> FhirError:
    """The FhirError for an httpx error raised before a response status arrived."""
    with contextlib.suppress(RuntimeError):  # httpx raises if no request was attached
        request = exc.request
    tls = _tls_cause(exc)
    if isinstance(tls, ssl.SSLCertVerificationError):
        detail = tls.verify_message or "verification failed"
        return TlsError(
            _(
                "certificate not trusted: {detail} (a private CA needs its CA bundle configured)"
            ).format(detail=detail),
            reason=_("certificate not trusted: {detail}").format(detail=detail),
            request=request,
        )
    if tls is not None:
        reason = tls.reason or type(tls).__name__
        return TlsError(
            _("the TLS handshake failed: {reason}").format(reason=reason),
            reason=str(reason),
            request=request,
        )
    if isinstance(exc, httpx.TimeoutException):
        message = {
            httpx.ConnectTimeout: N_("timed out connecting"),
            httpx.ReadTimeout: N_("timed out waiting for the answer"),
            httpx.WriteTimeout: N_("timed out sending"),
            httpx.PoolTimeout: N_("timed out waiting for a free connection"),
        }.get(type(exc), N_("timed out talking to the server"))
        return OfflineError(_(message), request=request)  # message: one of the N_ above
    if isinstance(exc, httpx.ConnectError):
        return OfflineError(_("cannot connect to the server"), request=request)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return InvalidResponseError(_("unsupported URL scheme"), request=request)
    if isinstance(exc, httpx.TransportError):
        return OfflineError(_("the connection to the server failed"), request=request)
    return InvalidResponseError(
        _("the answer could not be read ({kind})").format(kind=type(exc).__name__),
        request=request,
    )
