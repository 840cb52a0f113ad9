"""What a refusing server says about sending the same request again: how long a 429/503 asks us
to wait (``Retry-After``, or the ``RateLimit`` header Medplum sends instead), and whether a 409 is
the server's own concurrency failing (send again) or a version conflict (rebase).

Apart from the error tree (``sync.fhir.errors``) because two places read these signals: the
mapping of a response to its error, and the client's politeness (``sync.fhir.politeness``), which
waits and resends within its bounds before any error is raised.

409 and 412 (the rule, docs/decisions.md "Politeness"): 412 is always a version conflict (a
stale If-Match). A 409 is a ``ConcurrentUpdateError`` only when its OperationOutcome says the
*server's own* concurrency control failed — an issue of code ``transient`` or ``lock-error``, or
of code ``conflict`` whose details carry SQLSTATE 40001/40P01 (Medplum on PostgreSQL) or whose
text says "could not serialize access" / "deadlock detected". Nothing was written then, and
the same request may simply be sent again (the client does, with backoff). Every other 409 —
HAPI's stale version, a unique violation, a 409 without an OperationOutcome — stays a
``VersionConflictError``, which push answers by re-reading and rebasing: the safe choice when
in doubt, since a rebase of an unchanged resource just sends the command again.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from sync.fhir.errors import Issue

__all__ = [
    "MAX_RETRY_AFTER_S",
    "is_concurrent_update",
    "parse_rate_limit_reset",
    "parse_retry_after",
    "retry_after_of",
]

#: The longest wait a server can impose (issue 15): a ``Retry-After: 999999999`` (or a date in
#: 2058) once suspended sync for decades, and a larger one crashed the worker. Longer asks are
#: taken as this; negative, fractional or unreadable values are ignored (None).
MAX_RETRY_AFTER_S = 3600.0

#: SQLSTATEs of a failed serializable transaction and of a deadlock (PostgreSQL; Medplum puts
#: them in the OperationOutcome's details.coding).
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
_TRANSIENT_TEXT = re.compile(r"could not serialize access|deadlock detected", re.IGNORECASE)


def is_concurrent_update(status: int, issues: tuple[Issue, ...]) -> bool:
    """Whether a 409 is the server's own concurrency control failing (send it again), not a
    version conflict (rebase). The rule is in the module docstring."""
    if status != 409:
        return False
    for issue in issues:
        if issue.code in ("transient", "lock-error"):
            return True
        if issue.code == "conflict" and (
            _TRANSIENT_SQLSTATES.intersection(issue.details_codes)
            or _TRANSIENT_TEXT.search(issue.diagnostics or "")
        ):
            return True
    return False


_RATE_LIMIT_ITEM = re.compile(r"(?:^|;)\s*(r|t)\s*=\s*(\d+)")


def parse_rate_limit_reset(value: str | None) -> float | None:
    """Seconds until the quota resets, from a ``RateLimit`` header (the IETF draft Medplum
    sends instead of Retry-After: ``"fhirInteractions";r=0;t=42``). Of several policies the
    exhausted ones (r=0) count, else all; the longest wait wins. None if there is none."""
    if not value:
        return None
    exhausted: list[float] = []
    others: list[float] = []
    for item in value.split(","):
        fields = dict(_RATE_LIMIT_ITEM.findall(item))
        if "t" not in fields:
            continue
        (exhausted if fields.get("r") == "0" else others).append(float(fields["t"]))
    waits = exhausted or others
    return min(max(waits), MAX_RETRY_AFTER_S) if waits else None


def parse_retry_after(
    value: str | None,
    *,
    date: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), at most
    MAX_RETRY_AFTER_S; None for a value that is neither.

    An HTTP-date is measured against the response's own ``Date`` header when present, because
    clinic laptops that were offline for days often have a wrong clock; otherwise against
    ``clock`` (the clinic's, injected: this never reads the wall clock). With neither, an
    HTTP-date cannot be measured and the answer is None (the worker's backoff decides).
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # never negative; float() of 400 digits is inf
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    now: datetime | None = None
    if date:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            now = parsedate_to_datetime(date)
    if now is None:
        if clock is None:
            return None
        now = clock()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER_S)


def retry_after_of(
    response: httpx.Response, clock: Callable[[], datetime] | None = None
) -> float | None:
    """How long a 429/503 asks us to wait: Retry-After, else (429) a RateLimit header's reset."""
    wait = parse_retry_after(
        response.headers.get("Retry-After"), date=response.headers.get("Date"), clock=clock
    )
    if wait is None and response.status_code == 429:
        wait = parse_rate_limit_reset(response.headers.get("RateLimit"))
    return wait
