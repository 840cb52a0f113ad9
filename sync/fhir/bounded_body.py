"""Answers are read with a size limit derived from the request (issue 15, item 5).

Reading a whole body whatever its size let an endless answer grow the app to 4 GB in 15 s. Each
request now knows how large its answer can reasonably be (``ResponseLimits``, documented in
docs/security/hostile-server.md): one resource for a read, create or update; ``N`` entries for
a search page of ``_count=N`` (twice that with ``_include``), a transaction or batch of ``N``
entries; a CapabilityStatement; a token. The body is streamed chunk by chunk and reading stops
as soon as it passes the limit — counted *after* decompression, so a gzip bomb (a few MB that
inflate to gigabytes) stops there too: decompression itself is bounded, never more than the
room left is inflated at a time. A declared ``Content-Length`` over the limit is refused before
reading at all. The request then fails with ``ResponseTooLargeError`` (an InvalidResponseError:
sync treats it like any server fault: the cycle ends, the next one tries again, nothing stored).

Decoding is done here rather than by httpx because httpx inflates each network chunk whole (a
64 KB chunk of a bomb is 64 MB at once). The client asks for gzip and deflate only.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from sync.fhir import deadline as deadlines
from sync.fhir.errors import InvalidResponseError, ResponseTooLargeError

__all__ = ["ACCEPT_ENCODING", "BodyLimit", "ResponseLimits", "read_bounded"]

KIB = 1024
MIB = 1024 * KIB
#: What the client tells servers it can decode (anything else is refused, see module docstring).
ACCEPT_ENCODING = "gzip, deflate"
#: Allowance for compression overhead when comparing the *raw* byte count to a limit.
_RAW_SLACK = 64 * KIB


@dataclass(frozen=True)
class BodyLimit:
    """The most bytes (decoded) an answer may have, and what it is, for the message."""

    max_bytes: int
    what: str


@dataclass(frozen=True)
class ResponseLimits:
    """How large an answer may be, by what was asked (bytes, after decompression).

    Generous for real data (a resource with an attached document, a page of long notes) and
    small next to memory: the largest default, a page of 1,000 entries, is 257 MB.
    """

    #: One resource (read, create, update, and the server's error answers).
    resource_bytes: int = 16 * MIB
    #: Per entry of a search page, transaction or batch response: a resource and its envelope.
    entry_bytes: int = 256 * KIB
    #: The Bundle around the entries (links, total, meta).
    bundle_bytes: int = 1 * MIB
    #: Entries assumed for a page whose size the request does not state (a server's default).
    unstated_page_entries: int = 1000
    #: The CapabilityStatement (HAPI's is about 1 MB; Azure's a few).
    capability_bytes: int = 16 * MIB
    #: An OAuth token response (a JSON object with a token: a few KB).
    token_bytes: int = 64 * KIB

    def resource(self) -> BodyLimit:
        """The answer to a read, create, update or delete."""
        return BodyLimit(self.resource_bytes, "one resource")

    def capability(self) -> BodyLimit:
        """The answer to ``GET metadata``."""
        return BodyLimit(self.capability_bytes, "a CapabilityStatement")

    def token(self) -> BodyLimit:
        """The token endpoint's answer."""
        return BodyLimit(self.token_bytes, "a token response")

    def refusal(self) -> BodyLimit:
        """A 401 the auth flow reads before asking for a new token (an OperationOutcome or a
        short page: no bigger than a token's answer)."""
        return BodyLimit(self.token_bytes, "a refusal of a token")

    def entries(self, count: int, what: str) -> BodyLimit:
        """A Bundle of ``count`` entries (a transaction or batch response)."""
        return BodyLimit(self.bundle_bytes + max(count, 1) * self.entry_bytes, what)

    def search(self, params: Sequence[tuple[str, str]]) -> BodyLimit:
        """A searchset page asked with ``params`` (its own, or a next link's query)."""
        counts = [value for name, value in params if name == "_count"]
        try:
            count = int(counts[0]) if counts else self.unstated_page_entries
        except ValueError:
            count = self.unstated_page_entries
        count = max(0, min(count, self.unstated_page_entries * 10))
        if ("_summary", "count") in params:
            count = 0  # only a total
        included = any(name in ("_include", "_revinclude") for name, _ in params)
        entries = 2 * count if included else count
        return self.entries(entries, f"a search page of {entries} entries")


def search_params(
    url: httpx.URL | str, params: Mapping[str, str] | Sequence[tuple[str, str]] | None
) -> list[tuple[str, str]]:
    """The search parameters of a request: ``params``, or the query of a next link."""
    if params:
        return list(params.items()) if isinstance(params, Mapping) else list(params)
    return list(httpx.URL(str(url)).params.multi_items())


class _Inflater:
    """Decodes one Content-Encoding, never producing more than it is allowed at a time."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._first = True

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of ``data``: at most ``room + 1`` (one more means: over the limit)."""
        if self._encoding in ("", "identity"):
            return data
        if self._encoding == "deflate" and self._first:
            # "deflate" is zlib-wrapped by the standard and raw by some servers.
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
            try:
                self._first = False
                return self._zlib.decompress(data, room + 1)
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        assert self._zlib is not None
        self._first = False
        return self._zlib.decompress(data, room + 1)

    def leftover(self) -> bool:
        """Whether input is left that the limit did not let through."""
        return self._zlib is not None and bool(self._zlib.unconsumed_tail)


def read_bounded(
    response: httpx.Response, limit: BodyLimit, *, keep: bool = False
) -> httpx.Response:
    """``response`` (opened with ``stream=True``) read and decoded within ``limit`` and the
    active deadline, as a new, fully read Response (same status, headers, request); it is
    closed. ``keep``: ``response`` itself holds the bytes read too (an auth flow's answer,
    which httpx reads once more after the flow).

    ResponseTooLargeError when the body passes the limit, DeadlineError when time runs out,
    InvalidResponseError for an encoding we did not ask for or a body that does not decode.
    Transport errors while reading propagate as httpx errors for the caller to map.
    """
    request = response.request
    status = response.status_code
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise InvalidResponseError(
            f"the server's answer uses an encoding FieldChart did not ask for ({encoding[:40]})",
            request=request,
            status=status,
        )

    def too_large() -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"the server's answer is larger than {_size(limit.max_bytes)}, the most "
            f"{limit.what} can need; reading stopped there",
            limit=limit.max_bytes,
            request=request,
            status=status,
        )

    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit.max_bytes + _RAW_SLACK:
        raise too_large()
    deadline = deadlines.current()
    chunks: Iterable[bytes]
    try:  # an answer already read and decoded (a test's mock transport hands in whole ones)
        chunks, encoding = [response.content], ""
    except httpx.ResponseNotRead:
        chunks = response.iter_raw()
    inflater = _Inflater(encoding)
    body = bytearray()
    raw = 0
    try:
        for chunk in chunks:
            if deadline is not None:
                deadline.check(request)
            raw += len(chunk)
            if raw > limit.max_bytes + _RAW_SLACK:
                raise too_large()
            body += inflater.feed(chunk, limit.max_bytes - len(body))
            if len(body) > limit.max_bytes or inflater.leftover():
                raise too_large()
    except zlib.error:
        raise InvalidResponseError(
            f"the server's {encoding} answer does not decode", request=request, status=status
        ) from None
    finally:
        response.close()
    if deadline is not None:
        deadline.check(request)
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    content = bytes(body)
    if keep:
        # httpx has no public way to hand a streamed response its bytes: this is what its own
        # read() stores (httpx 0.28; the token tests fail if it ever changes).
        response._content = content
    return httpx.Response(status, headers=headers, content=content, request=request)


def _size(n: int) -> str:
    """``n`` bytes in words: "125 MB", "1.5 MB", "564 KB"."""
    if n >= MIB:
        return f"{n / MIB:.1f}".removesuffix(".0") + " MB"
    return f"{n // KIB} KB" if n >= KIB else f"{n} bytes"
