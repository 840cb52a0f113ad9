"""Total deadlines: no request, and no sync cycle, may run longer than its deadline, however
slowly the server drips its answer (issue 15, item 6).

httpx's timeouts bound each network operation, and its read timeout starts again with every
byte that arrives: a server that sends one byte every 5 s holds a request (and the worker's
cycle lock) for ever. Here a request gets one deadline for everything — connecting, TLS,
sending, the status line and headers, the body — and each sync cycle one deadline over all its
requests (``begin_cycle``); a request's deadline is the earlier of the two.

How it is enforced: the client sets the request's deadline in a context variable while the
request runs (``active``), and its transport's network backend (``DeadlineBackend``, wrapped
around httpcore's) gives every socket operation at most the time left, so a read blocked on a
silent or dripping server ends at the deadline; the body is read chunk by chunk
(``sync.fhir.bounded_body``), which checks the deadline between chunks as well. A request that
runs out of time fails with ``DeadlineError`` (an OfflineError: retried with backoff); a cycle
that does stops cleanly between or inside requests, keeping everything already done (push and
pull are resumable from any point), and the worker reports it as a timeout.

Time is measured on a monotonic timer, injectable so tests step it. Socket waits themselves are
real seconds: with the real timer both agree.
"""

from __future__ import annotations

import contextlib
import typing
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import httpcore
import httpx

from sync.fhir.errors import DeadlineError

__all__ = [
    "DEFAULT_CYCLE_DEADLINE_S",
    "DEFAULT_REQUEST_DEADLINE_S",
    "CycleClock",
    "DeadlineBackend",
    "Deadlines",
    "RequestDeadline",
    "active",
    "current",
    "with_deadlines",
]

Timer = Callable[[], float]

#: A request (connect, send, status, headers and the whole body) ends by then: a transaction
#: of 50 entries on a loaded server plus a 500-entry page at 256 kbit/s fit well within it.
DEFAULT_REQUEST_DEADLINE_S = 120.0
#: A sync cycle stops (keeping what it did) by then; the next cycle continues where it stopped.
DEFAULT_CYCLE_DEADLINE_S = 20 * 60.0


@dataclass(frozen=True)
class Deadlines:
    """How long one request, and one sync cycle, may take in all (seconds)."""

    request_s: float = DEFAULT_REQUEST_DEADLINE_S
    cycle_s: float = DEFAULT_CYCLE_DEADLINE_S


class RequestDeadline:
    """The instant (on ``timer``) one request must be over by, and which deadline it is."""

    def __init__(self, at: float, *, cycle: bool, seconds: float, timer: Timer) -> None:
        self.at = at
        self.cycle = cycle  # the cycle's deadline comes first
        self._seconds = seconds
        self._timer = timer

    def remaining(self) -> float:
        """Seconds left (0 or less: over)."""
        return self.at - self._timer()

    def error(self, request: httpx.Request | None) -> DeadlineError:
        """The error that ends the request (and, for the cycle's deadline, the cycle)."""
        if self.cycle:
            message = (
                f"the sync cycle reached its time limit of {_duration(self._seconds)}; "
                "what it did is kept and the next cycle continues"
            )
        else:
            message = (
                f"the server did not finish answering within {_duration(self._seconds)} "
                "(the request's time limit)"
            )
        return DeadlineError(message, cycle=self.cycle, request=request)

    def check(self, request: httpx.Request | None) -> None:
        """Raise DeadlineError if the time is up."""
        if self.remaining() <= 0:
            raise self.error(request)


class CycleClock:
    """A client's deadlines at work: the cycle's start and each request's deadline."""

    def __init__(self, deadlines: Deadlines, timer: Timer) -> None:
        self.deadlines = deadlines
        self._timer = timer
        self._cycle_ends: float | None = None

    def begin_cycle(self) -> None:
        """A sync cycle starts now: its deadline is ``cycle_s`` from here."""
        self._cycle_ends = self._timer() + self.deadlines.cycle_s

    def for_request(self, request: httpx.Request | None) -> RequestDeadline:
        """The deadline of a request starting now; DeadlineError if the cycle's is over."""
        ends = self._timer() + self.deadlines.request_s
        if self._cycle_ends is not None and self._cycle_ends <= ends:
            deadline = RequestDeadline(
                self._cycle_ends, cycle=True, seconds=self.deadlines.cycle_s, timer=self._timer
            )
            deadline.check(request)
            return deadline
        return RequestDeadline(
            ends, cycle=False, seconds=self.deadlines.request_s, timer=self._timer
        )


_ACTIVE: ContextVar[RequestDeadline | None] = ContextVar("fhir_request_deadline", default=None)


@contextlib.contextmanager
def active(deadline: RequestDeadline) -> Iterator[RequestDeadline]:
    """Make ``deadline`` the one every socket operation of this thread observes."""
    token = _ACTIVE.set(deadline)
    try:
        yield deadline
    finally:
        _ACTIVE.reset(token)


def current() -> RequestDeadline | None:
    """The deadline of the request this thread is running, if any."""
    return _ACTIVE.get()


def _bounded(timeout: float | None, timed_out: type[Exception]) -> float | None:
    """``timeout`` shortened to the time the active deadline leaves (``timed_out`` if none)."""
    deadline = _ACTIVE.get()
    if deadline is None:
        return timeout
    left = deadline.remaining()
    if left <= 0:
        raise timed_out("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the active deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, with every stream it opens bounded by the deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def with_deadlines(transport: httpx.HTTPTransport) -> httpx.HTTPTransport:
    """``transport`` with its connection pool's network backend bounded by the deadline.

    httpx has no parameter for httpcore's network backend, so the pool's is replaced in place
    (httpx 0.28 / httpcore 1.0; tests/sync/test_fhir_limits.py fails if that ever changes).
    """
    pool = transport._pool
    pool._network_backend = DeadlineBackend(pool._network_backend)
    return transport


def _duration(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
