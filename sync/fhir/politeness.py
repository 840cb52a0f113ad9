"""How the FHIR client answers a server that asks it to slow down (docs/decisions.md,
"Politeness"): a 429 or 503 with a short Retry-After (or RateLimit reset) is waited out and the
request sent again, and so is a 409 "could not serialize access" (nothing was written), after a
backoff with jitter. Waits are short and bounded per request and per sync cycle; when a bound is
reached the last answer goes back to the caller as it came, and the worker schedules the next
cycle no earlier than asked. After a wait that ended a request, nothing more is sent before it
is over (the hold-off), whoever asks.

Apart from the client because it is a policy with state of its own (the cycle's wait budget,
the hold-off) that the client applies around each request; the client only sends. What the
server's answer says about waiting is read in ``sync.fhir.retry_hints``.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from sync.fhir.errors import RateLimitedError, parse_operation_outcome
from sync.fhir.retry_hints import is_concurrent_update, retry_after_of

__all__ = ["Pacer", "Politeness"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Politeness:
    """How the client answers a server that asks it to slow down (docs/decisions.md,
    "Politeness"). Waits inside the client are short and bounded; anything longer ends the
    sync cycle with the error, and the worker schedules the next cycle no earlier than asked.
    """

    #: The longest Retry-After (429/503) waited inside the client; a longer one ends the cycle.
    max_wait_s: float = 30.0
    #: The most the client waits in all between two ``begin_cycle()`` calls (one sync cycle).
    wait_budget_s: float = 60.0
    #: Tries of one request against 429/503 with a short Retry-After (the first included).
    rate_limited_attempts: int = 4
    #: Tries of one request against 409 "could not serialize access" (the first included);
    #: between them exponential backoff with jitter from ``conflict_base_s`` up to its max.
    concurrent_update_attempts: int = 4
    conflict_base_s: float = 0.25
    conflict_max_s: float = 4.0
    #: After a 429/503 whose wait ended a request, send nothing at all until that wait is over
    #: (RateLimitedError at once), even for a caller that caught the error and went on. Off
    #: only where tests drive sync cycles by hand on a clock that is not real time.
    hold_off: bool = True


class Pacer:
    """One client's politeness at work: sends a request again when the server asks for a short
    wait, counts what was waited this cycle, and holds off while a longer wait is not over."""

    def __init__(
        self, politeness: Politeness, *, sleep: Callable[[float], None], rng: random.Random
    ) -> None:
        """Every wait goes through ``sleep``, with jitter from ``rng`` (tests inject both)."""
        self.politeness = politeness
        self._sleep = sleep
        self._rng = rng
        self._waited_s = 0.0
        # Until when the server asked us not to come back (a wait we did not sit out here).
        self._quiet_until: datetime | None = None

    def begin_cycle(self) -> None:
        """A new sync cycle starts: the budget of waiting is full again, and the hold-off of an
        earlier cycle is over (the worker decides when a cycle may start; "Sync now" may)."""
        self._waited_s = 0.0
        self._quiet_until = None

    @property
    def waited_s(self) -> float:
        """Seconds waited (Retry-After, backoff) since ``begin_cycle``."""
        return self._waited_s

    def send(
        self,
        send_once: Callable[[], httpx.Response],
        *,
        clock: Callable[[], datetime] | None,
        unsent: Callable[[], httpx.Request],
    ) -> httpx.Response:
        """The answer of ``send_once()``, called again while the server asks for a wait within
        ``politeness``; when a bound is reached the last answer is returned as it came, for the
        caller to raise. ``clock`` measures HTTP-date waits and the hold-off (none: no hold-off);
        ``unsent`` is the request a hold-off's RateLimitedError names (nothing was sent)."""
        self._check_quiet(clock, unsent)
        rate_limited = concurrent = 0
        while True:
            response = send_once()
            status = response.status_code
            if status in (429, 503):
                rate_limited += 1
                wait = self._rate_limit_wait(response, rate_limited, clock)
                if wait is None:
                    self._keep_quiet(response, clock)
            elif status == 409:
                concurrent += 1
                wait = self._concurrent_update_wait(response, concurrent)
            else:
                return response
            if wait is None:
                return response
            log.info("the server asked us to wait (%s): %.1f s, then sending again", status, wait)
            self._waited_s += wait
            self._sleep(wait)

    def _check_quiet(
        self, clock: Callable[[], datetime] | None, unsent: Callable[[], httpx.Request]
    ) -> None:
        """Refuse to send while a wait the server asked for is not over, whoever asks: a caller
        that caught the RateLimitedError and went on must not hammer the server."""
        if self._quiet_until is None or clock is None or not self.politeness.hold_off:
            return
        left = (self._quiet_until - clock()).total_seconds()
        if left <= 0:
            self._quiet_until = None
            return
        raise RateLimitedError(
            "the server asked us to wait; nothing is sent before then",
            retry_after_s=left,
            request=unsent(),
        )

    def _keep_quiet(self, response: httpx.Response, clock: Callable[[], datetime] | None) -> None:
        """Remember a 429/503's wait that ends the request here (see ``_check_quiet``)."""
        wait = retry_after_of(response, clock)
        if wait is not None and wait > 0 and clock is not None:
            self._quiet_until = clock() + timedelta(seconds=wait)

    def _rate_limit_wait(
        self, response: httpx.Response, attempt: int, clock: Callable[[], datetime] | None
    ) -> float | None:
        """How long to wait before sending a 429/503'd request again; None: do not, end here."""
        polite = self.politeness
        wait = retry_after_of(response, clock)
        if wait is None or wait > polite.max_wait_s or attempt >= polite.rate_limited_attempts:
            return None
        return wait if self._waited_s + wait <= polite.wait_budget_s else None

    def _concurrent_update_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """The backoff before sending a 409 "could not serialize" request again, or None."""
        polite = self.politeness
        if attempt >= polite.concurrent_update_attempts:
            return None
        try:
            issues = parse_operation_outcome(json.loads(response.content))
        except (ValueError, RecursionError):
            return None
        if not is_concurrent_update(response.status_code, issues):
            return None  # a version conflict: the caller rebases
        ceiling = min(polite.conflict_max_s, polite.conflict_base_s * 2 ** (attempt - 1))
        wait = self._rng.uniform(ceiling / 2, ceiling)
        return wait if self._waited_s + wait <= polite.wait_budget_s else None
