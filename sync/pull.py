"""Pull: what changed on the server within the device's scope, query by query, each from an
inclusive ``_lastUpdated`` watermark of its own, de-duplicated by (type, id, versionId).

- Scope (sync/scope.py, sync/pull_queries.py): only in-scope patients and their compartments,
  plus visiting patients (journal ``scope_visiting``) by patient lists. A patient who enters the
  scope after the first sync (transferred in, added to the Group) has old records the watermarks
  are past: those are pulled whole, by patient list.
- Idle cycle: when every query has a watermark, the first pages of all of them travel in ONE
  batch Bundle; only queries with more pages ask again. A server that refuses batches is
  remembered (journal ``pull_batch_refused``) and asked one search per query.
- First sync: query by query, patients first, page by page. Pages are asked by keyset
  (``_lastUpdated=ge<last stamp of the page before>``, not the server's ``_offset`` links, which
  skip records when one is updated meanwhile), and each query's position is saved after every
  stored page: a cut link re-downloads at most the page in flight.
- Clocks (docs/clocks.md): every position comes from the server's clock — the stamps it sends,
  bounded by the ``Date`` of the answer that carried them, and the ``Date`` when the pull began
  reading — never from the device's, which may be years ahead or days behind. A stored position
  ahead of the server's time (written by a pull before this rule, or by a server whose clock
  went back) is dropped and its query read again from the start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from app.services.sync_gateway import SyncGateway
from app.services.sync_status import SyncProgress
from sync.fhir.client import FhirClient, next_link
from sync.fhir.errors import FhirError, InvalidResponseError
from sync.ports import ResourceMapper
from sync.pull_http import BatchEntry, http_date, refused, search_batch
from sync.pull_pages import STAMP_TOLERANCE, PageReader, PageResult, PullReport, instant
from sync.pull_queries import (
    LIST_CHUNK,
    PAGE_SIZE,
    PullQuery,
    fixed_queries,
    list_queries,
    search_url,
)
from sync.rebase import Rebaser
from sync.scope import (
    CHAINED,
    EVERYTHING,
    GROUP_HAS,
    PATIENT_LIST,
    ScopeStrategy,
    SyncScope,
    everything_strategy,
)

__all__ = ["PAGE_SIZE", "ChainingRefusedError", "PullReport", "Puller"]

log = logging.getLogger(__name__)

# Server clocks tie and step back: without the server's time, the next cycle re-reads this much
# before the newest change seen.
WATERMARK_MARGIN = timedelta(minutes=2)
# With it: the longest a write may stay in flight between its stamp and its commit, plus a
# server clock stepping back. A Medplum transaction of 50 entries takes 0.05-0.15 s on loopback
# (FHIR-PEER.md), but a busy district server, a lock wait or an NTP correction can take
# seconds, and a record missed here is never seen (an allergy another clinic recorded): keep
# a wide margin. Its cost is small: the next cycle re-reads what changed in the 30 s before
# this one read (de-duplicated by version); a quiet minute later an idle cycle reads nothing.
READ_MARGIN = timedelta(seconds=30)
BATCH_REFUSED_KEY = "pull_batch_refused"
VISITING_KEY = "scope_visiting"
MARGIN_OWED_KEY = "pull_margin_owed"
NOTHING_YET = ""  # the watermark of a query that ran and found nothing
VISITING_PULLED_KEY = "pull_visiting_pulled"

EVERYTHING_STRATEGY = everything_strategy(SyncScope())


class ChainingRefusedError(Exception):
    """The server refused a chained search: the engine chooses patient lists instead."""


class Puller:
    def __init__(
        self,
        gateway: SyncGateway,
        client: FhirClient,
        mapper: ResourceMapper,
        rebaser: Rebaser,
        progress: Callable[[SyncProgress], None],
        clock: Callable[[], datetime],
        *,
        scope: SyncScope | None = None,
        strategy: ScopeStrategy = EVERYTHING_STRATEGY,
        pushed: Collection[str] = (),
    ) -> None:
        """``pushed``: server ids of the patients whose commands this cycle pushed."""
        self._pushed = set(pushed)
        self._gateway = gateway
        self._client = client
        self._mapper = mapper
        self._rebaser = rebaser
        self._progress = progress
        self._scope = scope or SyncScope()
        self._strategy = strategy
        self._types = list(mapper.pull_types())
        self._reader = PageReader(gateway, mapper, rebaser, progress, clock, self._server_now)
        self._members_key = (
            f"pull_members:{strategy.name}:{self._scope.organization_ref or self._scope.group_id}"
        )
        self._members = set(self._journal_list(self._members_key))
        self._entered: list[str] = []
        self._first_sync = False
        # Queries whose exact position awaits the margin (a cut pull leaves them for the next).
        self._owed = self._journal_list(MARGIN_OWED_KEY)
        self._read_at: datetime | None = None  # the server's time when this pull began reading

    # -- entry points ------------------------------------------------------------------------

    def pull_all(self) -> PullReport:
        queries = fixed_queries(self._strategy, self._scope, self._types)
        if self._strategy.name == PATIENT_LIST:
            lists = self._list_types()
            queries += list_queries("scope", self._strategy, lists, sorted(self._members))
        visiting = self._visiting()
        pulled_visiting = set(self._journal_list(VISITING_PULLED_KEY)) & visiting
        if pulled_visiting and self._strategy.name != EVERYTHING:
            queries += list_queries(
                "visiting", self._strategy, self._types, sorted(pulled_visiting)
            )
        marks = {q.key: self._gateway.watermark(q.key) for q in queries}
        # The compartment queries have never run: they bring every in-scope patient's records.
        self._first_sync = self._strategy.name in (CHAINED, GROUP_HAS) and all(
            marks[q.key] is None for q in queries if q.resource_type not in ("Patient", "Group")
        )
        ran = all(mark is not None for mark in marks.values())
        batches = not self._gateway.journal(BATCH_REFUSED_KEY)
        if ran and batches:
            self._pull_batched(queries, marks)
        else:
            if batches:  # a first sync: how much is coming, for the progress
                self._count_totals(queries, marks)
            self._pull_each(queries, marks)
        self._pull_entered()
        self._settle(marks)
        if self._strategy.name != EVERYTHING:
            new_visitors = sorted(visiting - pulled_visiting)
            if new_visitors:
                self._pull_whole(new_visitors, self._types)
                self._journal_add(VISITING_PULLED_KEY, new_visitors)
        return self._reader.report

    def pull_patients(self, server_ids: list[str]) -> PullReport:
        """These Patients and every resource of their compartments, now, without watermarks
        (a patient from elsewhere brought onto the device). They count as pulled visitors."""
        self._pull_whole(sorted(set(server_ids)), self._types)
        self._journal_add(VISITING_PULLED_KEY, server_ids)
        return self._reader.report

    def forget(self, server_ids: Iterable[str]) -> None:
        """Patients removed from the device (retention): no longer pulled by patient list, and
        pulled whole again should they come back into scope."""
        gone = set(server_ids)
        if not gone:
            return
        for key in (self._members_key, VISITING_PULLED_KEY):
            kept = [i for i in self._journal_list(key) if i not in gone]
            self._gateway.set_journal(key, kept)
        self._members -= gone

    # -- the two ways of asking --------------------------------------------------------------

    def _pull_batched(self, queries: Sequence[PullQuery], marks: dict[str, str | None]) -> None:
        """First pages of every query in one batch; then more pages only where there are."""
        urls = [search_url(q.resource_type, self._params(q, marks[q.key])) for q in queries]
        try:
            answers = self._batch(urls)
        except FhirError as exc:
            if not refused(exc):
                raise
            log.info("the server refused a batch of searches (%s): one search per query", exc)
            self._gateway.set_journal(BATCH_REFUSED_KEY, True)
            self._pull_each(queries, marks)
            return
        results = []
        for query, answer in zip(queries, answers, strict=True):
            first = None if isinstance(answer, FhirError) else answer
            results.append((query, self._run(query, marks, first)))
        self._save_shared(marks, results)

    def _pull_each(self, queries: Sequence[PullQuery], marks: dict[str, str | None]) -> None:
        results = [(query, self._run(query, marks, None)) for query in queries]
        self._save_shared(marks, results)

    def _run(
        self, query: PullQuery, marks: dict[str, str | None], first: dict[str, Any] | None
    ) -> PageResult:
        """Every page of one query from its watermark; the position is saved after each page
        (list chunks share one watermark: it is saved when all are done, _save_shared)."""
        total = PageResult()
        position = marks[query.key]
        skip: set[tuple[str, str, str]] = set()
        shared = query.key.startswith("list:")
        followed: set[str] = set()  # the server's links taken to get past a tie
        by_link = False
        try:
            page = first if first is not None else self._first_page(query, position)
            if self._ahead_of_server(position):
                # Changes since the real last read are behind this position: read them all.
                log.warning(
                    "a pull position was ahead of the server's clock: reading that query again"
                    " from the start"
                )
                marks[query.key] = position = NOTHING_YET
                self._gateway.set_watermark(query.key, NOTHING_YET)
                page = self._first_page(query, position)
            while True:
                result = self._reader.take(
                    query.resource_type, page, skip, record=not query.membership
                )
                if by_link and (result.count == 0 or next_link(page) in followed):
                    # A server whose next link does not lead on (it points to the page it is
                    # on, or to pages already read) would be followed for ever.
                    raise InvalidResponseError(
                        "the server's next link does not lead on: its pages repeat", request=None
                    )
                _merge(total, result)
                self._members_of(query, result)
                link = next_link(page)
                if link is None:
                    if not shared:
                        self._save_mark(query.key, marks[query.key], total.newest)
                    return total
                last = result.last
                start = instant(position) if position is not None else None
                if last is None or (start is not None and last <= start):
                    # A page that is one tie, or has no stamps: keyset paging cannot move,
                    # follow the server's link for this one page.
                    followed.add(link)
                    page = self._client.search_page(link)
                    skip, by_link = result.keys, True
                    continue
                by_link = False
                position = last.isoformat(timespec="milliseconds")
                if not shared:
                    self._gateway.set_watermark(query.key, position)
                skip = result.keys
                page = self._first_page(query, position)
        except InvalidResponseError as exc:
            # A broken page: keep what came before it, show it to IT, go on with other queries.
            self._gateway.quarantine(query.resource_type, None, f"unusable page: {exc}", None)
            self._reader.report.quarantined += 1
            return total
        except FhirError as exc:
            if refused(exc) and self._strategy.name in (CHAINED, GROUP_HAS) and not shared:
                raise ChainingRefusedError(str(exc)) from exc
            raise

    def _first_page(self, query: PullQuery, position: str | None) -> dict[str, Any]:
        params = self._params(query, position)
        if query.post:
            page = self._client.search_post(query.resource_type, params)
        else:
            page = next(self._client.iter_pages(query.resource_type, params))
        self._began_reading(self._server_now())
        return page

    def _server_now(self) -> datetime | None:
        """The server's time of its latest answer (its Date header), None if it sent none."""
        return http_date(self._client.server_date)

    def _began_reading(self, server_time: datetime | None) -> None:
        if self._read_at is None:
            self._read_at = server_time

    def _ahead_of_server(self, position: str | None) -> bool:
        """Whether a stored position is later than the server's time: the server never
        stamped anything there, so it came from a wrong clock."""
        moment = instant(position)
        server_now = self._server_now()
        return (
            moment is not None
            and server_now is not None
            and (moment > server_now + STAMP_TOLERANCE)
        )

    @staticmethod
    def _params(query: PullQuery, position: str | None) -> list[tuple[str, str]]:
        params = [*query.params, ("_sort", "_lastUpdated"), ("_count", str(PAGE_SIZE))]
        if position:
            params.append(("_lastUpdated", f"ge{position}"))
        return params

    def _save_mark(self, key: str, start: str | None, newest: datetime | None) -> None:
        """A finished query's position: its newest stamp, exactly, so a cycle cut later goes on
        from there. The margin the next cycle re-reads (clocks tie and step back) is applied
        once the whole pull has finished (``_settle``). A query that found nothing yet is
        marked as having run ("": no lower bound), so the idle cycle's batch can include it."""
        if newest is None:
            if start is None:
                self._gateway.set_watermark(key, NOTHING_YET)
            return
        self._gateway.set_watermark(key, newest.isoformat(timespec="milliseconds"))
        if key not in self._owed:
            self._owed.append(key)
            self._gateway.set_journal(MARGIN_OWED_KEY, self._owed)

    def _settle(self, marks: dict[str, str | None]) -> None:
        """The pull finished: every position saved since the last finished pull becomes the
        next cycle's watermark, stepped back so that nothing committed late is missed.

        Where the server said its time when this pull began reading (the Date of its first
        answer), a resource not seen yet was committed after that, so it was stamped no
        earlier than that time less the longest write in flight: the watermark is
        READ_MARGIN before it. Otherwise it is WATERMARK_MARGIN before the newest stamp seen
        (stamps later than the server's own time were not followed). Never before where this
        cycle started, never after the server's time (the device's clock plays no part)."""
        read_at = self._read_at
        server_now = self._server_now()
        for key in self._owed:
            position = instant(self._gateway.watermark(key))
            if position is None:
                continue
            if read_at is not None and key in marks:
                settled = read_at - READ_MARGIN
            else:
                settled = position - WATERMARK_MARGIN
            if server_now is not None:
                settled = min(settled, server_now - READ_MARGIN)
            mark = settled.isoformat(timespec="milliseconds")
            start = marks.get(key)
            self._gateway.set_watermark(key, mark if not start or mark > start else start)
        self._owed = []
        self._gateway.set_journal(MARGIN_OWED_KEY, [])

    def _save_shared(
        self, marks: dict[str, str | None], results: Sequence[tuple[PullQuery, PageResult]]
    ) -> None:
        """List chunks share one watermark per type: it moves once all of them are done."""
        newest: dict[str, datetime | None] = {}
        for query, result in results:
            stamp, before = result.newest, newest.get(query.key)
            if query.key.startswith("list:"):
                newest[query.key] = max(stamp, before) if stamp and before else stamp or before
        for key, stamp in newest.items():
            self._save_mark(key, marks[key], stamp)

    # -- totals, membership, whole patients ---------------------------------------------------

    def _batch(self, urls: Sequence[str]) -> list[BatchEntry]:
        """A batch of searches; the first one's server time is when this pull began reading."""
        answer = search_batch(self._client, urls)
        self._began_reading(answer.server_time)
        return answer.entries

    def _count_totals(self, queries: Sequence[PullQuery], marks: dict[str, str | None]) -> None:
        """What the pull will receive, for the progress: one batch of ``_summary=count``
        searches (the server counts; nothing is sent). Not known if the server will not say."""
        urls = []
        for q in queries:
            params = [*q.params, ("_summary", "count")]
            if marks[q.key]:
                params.append(("_lastUpdated", f"ge{marks[q.key]}"))
            urls.append(search_url(q.resource_type, params))
        try:
            answers = self._batch(urls)
        except FhirError as exc:
            # Only the progress needs it: a server that will not count, or counts too slowly
            # (a district-wide chained count can outlast the read timeout), pulls without.
            log.info("the server did not count what the pull will receive (%s)", exc.status)
            return
        totals = [a.get("total") for a in answers if isinstance(a, dict)]
        self._reader.total = sum(t for t in totals if isinstance(t, int))

    def _note_members(self, server_ids: Sequence[str]) -> None:
        """In-scope patients seen: on a first sync the compartment queries bring their
        records; later, a patient new to the scope is pulled whole after the queries."""
        new = [i for i in dict.fromkeys(server_ids) if i not in self._members]
        if not new or self._strategy.name == EVERYTHING:
            return
        # A patient this cycle pushed (registered here) has their whole record here: nothing
        # older than the last pull was written about them, so no need to fetch it back.
        held = [i for i in new if i in self._pushed]
        if self._first_sync or held:
            known = new if self._first_sync else held
            self._members.update(known)
            self._journal_add(self._members_key, known)
        if not self._first_sync:
            self._entered.extend(i for i in new if i not in held and i not in self._entered)

    def _pull_entered(self) -> None:
        """The whole compartments of patients who entered the scope, a chunk at a time (each
        chunk counted as pulled once stored: a cut repeats at most one)."""
        types = self._types if self._scope_is_group else self._compartment()
        for start in range(0, len(self._entered), LIST_CHUNK):
            chunk = self._entered[start : start + LIST_CHUNK]
            self._pull_whole(chunk, types)
            self._members.update(chunk)
            self._journal_add(self._members_key, chunk)
        self._entered = []

    def _members_of(self, query: PullQuery, result: PageResult) -> None:
        if query.membership and result.resources:
            self._note_members(_members(result.resources[-1]))
        elif self._fixed_patients(query) and not self._scope_is_group:
            self._note_members(result.patients)

    @staticmethod
    def _fixed_patients(query: PullQuery) -> bool:
        """The fixed Patient query of a scope (not patient lists, not pulling everything)."""
        return query.resource_type == "Patient" and bool(query.params) and not query.post

    def _pull_whole(self, server_ids: Sequence[str], types: Sequence[str]) -> None:
        if not server_ids:
            return
        for query in list_queries("whole", self._strategy, types, server_ids):
            self._run(query, {query.key: None}, None)

    # -- small things --------------------------------------------------------------------------

    @property
    def _scope_is_group(self) -> bool:
        return bool(self._scope.group) and not self._scope.organization

    def _list_types(self) -> list[str]:
        """Types pulled by patient list: a Group's members need their Patients too."""
        return self._types if self._scope_is_group else self._compartment()

    def _compartment(self) -> list[str]:
        return [t for t in self._types if t != "Patient"]

    def _visiting(self) -> set[str]:
        stored = self._gateway.journal(VISITING_KEY)
        return {str(k) for k in stored} if isinstance(stored, dict) else set()

    def _journal_list(self, key: str) -> list[str]:
        stored = self._gateway.journal(key)
        return [str(i) for i in stored] if isinstance(stored, list) else []

    def _journal_add(self, key: str, ids: Iterable[str]) -> None:
        self._gateway.set_journal(key, sorted(set(self._journal_list(key)) | set(ids)))


def _merge(total: PageResult, page: PageResult) -> None:
    total.count += page.count
    if page.newest is not None and (total.newest is None or page.newest > total.newest):
        total.newest = page.newest
    total.last = page.last or total.last
    total.patients += page.patients
    total.resources += page.resources


def _members(group: dict[str, Any]) -> list[str]:
    """Server ids of the Patients a Group lists (inactive members left out)."""
    found = []
    for member in group.get("member") or []:
        if not isinstance(member, dict) or member.get("inactive") is True:
            continue
        entity = member.get("entity")
        ref = entity.get("reference") if isinstance(entity, dict) else None
        if isinstance(ref, str) and ref.startswith("Patient/"):
            found.append(ref.removeprefix("Patient/").split("/")[0])
    return found
