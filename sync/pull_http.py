"""The two requests the pull needs beyond FhirClient's own: a batch Bundle of searches (the
idle cycle's one request) and ``POST Type/_search`` (a search whose patient list is long).

They go through the client's send path (auth, politeness, error mapping) until FhirClient
offers them itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import urlencode

from sync.fhir.bundle import check_type
from sync.fhir.client import FHIR_JSON, FhirClient
from sync.fhir.errors import FhirError, InvalidResponseError, RejectedError

__all__ = ["BatchAnswer", "BatchEntry", "search_batch", "search_post"]

FORM = "application/x-www-form-urlencoded"

#: One answer of a batch: a searchset Bundle, or the entry's failure (status, message).
BatchEntry = dict[str, Any] | RejectedError


class BatchAnswer(NamedTuple):
    """One answer per search, in order; and the server's clock when it answered (its ``Date``
    header, whole seconds, rounded down), None if it sent none that parses."""

    entries: list[BatchEntry]
    server_time: datetime | None


def search_batch(client: FhirClient, urls: Sequence[str]) -> BatchAnswer:
    """``POST [base]`` a batch Bundle of ``GET <url>`` entries.

    A server that refuses the batch as a whole raises (RejectedError for a 4xx); an entry that
    failed comes back as a RejectedError for that entry alone."""
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "GET", "url": url}} for url in urls],
    }
    content = json.dumps(bundle, separators=(",", ":")).encode()
    response = client._send("POST", "", content=content, headers={"Content-Type": FHIR_JSON})
    client._raise_for_status(response)
    body = client._json(response)
    entries = body.get("entry")
    if body.get("type") != "batch-response" or not isinstance(entries, list):
        raise InvalidResponseError(
            "the batch answer is not a batch-response Bundle",
            request=response.request,
            status=response.status_code,
        )
    if len(entries) != len(urls):
        raise InvalidResponseError(
            f"the batch-response has {len(entries)} entries for {len(urls)} searches",
            request=response.request,
            status=response.status_code,
        )
    return BatchAnswer([_entry(e) for e in entries], _date(response.headers.get("Date")))


def _date(header: str | None) -> datetime | None:
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


def search_post(
    client: FhirClient, resource_type: str, params: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """The first searchset page of ``POST Type/_search`` with the parameters as a form."""
    path = f"{check_type(resource_type)}/_search"
    content = urlencode(list(params)).encode()
    response = client._send("POST", path, content=content, headers={"Content-Type": FORM})
    client._raise_for_status(response)
    body = client._json(response)
    if body.get("resourceType") != "Bundle" or body.get("type") != "searchset":
        raise InvalidResponseError(
            "the search answer is not a searchset Bundle",
            request=response.request,
            status=response.status_code,
        )
    return body


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
