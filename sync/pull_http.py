"""Reading the answer of the pull's batch of searches (the idle cycle's one request): a
searchset per search or that entry's own failure, and the server's time of answering."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError, RejectedError

__all__ = ["BatchAnswer", "BatchEntry", "http_date", "refused", "search_batch"]

FORM = "application/x-www-form-urlencoded"

#: One answer of a batch: a searchset Bundle, or the entry's failure (status, message).
BatchEntry = dict[str, Any] | RejectedError


class BatchAnswer(NamedTuple):
    """One answer per search, in order; and the server's clock when it answered (its ``Date``
    header, whole seconds, rounded down), None if it sent none that parses."""

    entries: list[BatchEntry]
    server_time: datetime | None


def search_batch(client: FhirClient, urls: Sequence[str]) -> BatchAnswer:
    """The searches as one batch request (FhirClient.search_batch): a searchset per search,
    or a RejectedError for an entry that failed alone."""
    body, date = client.search_batch(urls)
    return BatchAnswer([_entry(e) for e in body["entry"]], http_date(date))


def http_date(header: str | None) -> datetime | None:
    """A ``Date`` header as an aware instant; None if absent or unreadable."""
    if not header:
        return None
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def _entry(entry: Any) -> BatchEntry:
    answer = entry.get("response") if isinstance(entry, dict) else None
    status = str(answer.get("status", "")) if isinstance(answer, dict) else ""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if (
        status.startswith("2")
        and isinstance(resource, dict)
        and resource.get("resourceType") == "Bundle"
        and resource.get("type") == "searchset"
    ):
        return resource
    code = int(status[:3]) if status[:3].isdigit() else None
    return RejectedError(
        f"the server answered a batched search with {status or 'nothing'}", status=code
    )


def refused(exc: FhirError) -> bool:
    """A refusal that says the server does not do this kind of request (not a passing
    failure): 4xx other than 401/403/408/409/429."""
    return (
        exc.status is not None
        and 400 <= exc.status < 500
        and exc.status
        not in (
            401,
            403,
            408,
            409,
            429,
        )
    )
