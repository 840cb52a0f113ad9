"""The checks that ask the server what sync will ask of it, reading only: an authenticated
search, ``_lastUpdated`` with ``_sort`` for every pulled type, following next links, the page size
it honours, type-level ``_history``.

Apart from the CapabilityStatement's checks because these see what the server does, not what it
declares; with ``--write-probe`` they run while the test patients exist, so paging has data.
"""

from __future__ import annotations

from app.domain.wording import t
from sync.fhir.client import FhirClient, next_link
from sync.fhir.errors import FhirError
from sync.fhir.mapping.adapter import PULL_TYPES
from sync.pull import PAGE_SIZE
from sync.server_check.report import FATAL, ServerReport, entry_id, short

__all__ = ["check_history", "check_page_size", "check_paging", "check_search", "check_token"]

#: Before any real data: every resource matches ``_lastUpdated=ge`` this.
_EPOCH = "1970-01-01T00:00:00Z"


def check_token(client: FhirClient, report: ServerReport, auth_mode: str) -> None:
    """An authenticated search: are the credentials (or their absence) accepted?"""
    client.search_page("Patient", {"_count": "1"})  # AuthError when the credentials are refused
    if auth_mode == "none":
        report.add(
            "token",
            "warn",
            t("no authentication configured, and the server served a search without it"),
            t("syncs without credentials: make sure the server is not open to others"),
        )
    else:
        report.add(
            "token",
            "ok",
            t("{auth_mode}: accepted (an authenticated search succeeded)", auth_mode=auth_mode),
            t("tokens are cached in memory and renewed before they expire"),
        )


def check_search(client: FhirClient, report: ServerReport) -> None:
    """Search by _lastUpdated with _sort=_lastUpdated for every pulled type."""
    failed = []
    for resource_type in PULL_TYPES:
        params = {"_lastUpdated": f"ge{_EPOCH}", "_sort": "_lastUpdated", "_count": "1"}
        try:
            client.search_page(resource_type, params)
        except FATAL:
            raise
        except FhirError as exc:
            failed.append(f"{resource_type} ({short(exc)})")
    if failed:
        report.add(
            "search_last_updated",
            "fail",
            t("_lastUpdated + _sort=_lastUpdated refused for {value}", value=", ".join(failed)),
            t("changes made elsewhere could not be pulled"),
        )
    else:
        report.add(
            "search_last_updated",
            "ok",
            t(
                "_lastUpdated=ge… with _sort=_lastUpdated answered for all {number} types",
                number=len(PULL_TYPES),
            ),
            t("pulls every type by _lastUpdated from an inclusive watermark"),
        )


def check_paging(client: FhirClient, report: ServerReport) -> None:
    """Next links work, and page 2 does not repeat page 1."""
    params = {"_lastUpdated": f"ge{_EPOCH}", "_sort": "_lastUpdated", "_count": "1"}
    try:
        first = client.search_page("Patient", params)
        link = next_link(first)
        if link is None:
            report.add(
                "paging",
                "info",
                t(
                    "not seen: {value} patient(s) on the server, one page",
                    value=len(first.get("entry") or []),
                ),
                t("follows next links as given (run --write-probe on an empty server to see them)"),
            )
            return
        second = client.search_page(link)
    except FATAL:
        raise
    except FhirError as exc:
        report.add("paging", "fail", short(exc), t("changes made elsewhere could not be pulled"))
        return
    ids = [entry_id(e) for e in first.get("entry") or []]
    again = [entry_id(e) for e in second.get("entry") or []]
    style = "_cursor" if "_cursor=" in link else "_offset" if "_offset=" in link else "own"
    if set(ids) & set(again):
        report.add(
            "paging",
            "warn",
            t("next link ({style}) repeated an entry of the first page", style=style),
            t("de-duplicates by type, id and version; nothing is pulled twice"),
        )
    else:
        report.add(
            "paging",
            "ok",
            t("next links work ({style} style), page 2 distinct from page 1", style=style),
            t("follows next links as given and keeps the last one to resume after a crash"),
        )


def check_page_size(client: FhirClient, report: ServerReport) -> None:
    """Whether the server honours the page size pulls ask for."""
    page = client.search_page("Patient", {"_count": str(PAGE_SIZE)})
    got = len(page.get("entry") or [])
    if next_link(page) is not None and got < PAGE_SIZE:
        report.add(
            "page_size",
            "info",
            t(
                "asked for {PAGE_SIZE}, the server caps pages at {got}",
                PAGE_SIZE=PAGE_SIZE,
                got=got,
            ),
            t(
                "follows next links: pulls take {value}x the requests",
                value=PAGE_SIZE // max(got, 1),
            ),
        )
    else:
        report.add(
            "page_size",
            "ok",
            t(
                "_count={PAGE_SIZE} honoured ({got} on the first page)",
                PAGE_SIZE=PAGE_SIZE,
                got=got,
            ),
            t("asks for {PAGE_SIZE} a page", PAGE_SIZE=PAGE_SIZE),
        )


def check_history(client: FhirClient, report: ServerReport) -> None:
    """Whether type-level _history answers (for information: sync does not need it)."""
    try:
        client.search_page("Patient/_history?_count=1")
        supported = True  # a searchset for a history request: odd, but an answer
    except FATAL:
        raise
    except FhirError as exc:
        # A 200 that is not a searchset is the history Bundle itself.
        supported = exc.status == 200
    report.add(
        "history",
        "info",
        t("type-level _history supported") if supported else t("no type-level _history"),
        t("not needed: FieldChart pulls by search on _lastUpdated"),
    )
