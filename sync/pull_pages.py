"""What the pull does with one searchset page: every match becomes a confirmed local event (or
goes to quarantine for IT), stored before the next page is asked for, so a cut link loses at
most the page in flight; and the page's progress (counts, time left) is reported.

Resources other systems and devices wrote enter the log as confirmed events and show in the
chart; pending local commands on those resources are rebased on top. Anything unusable is
quarantined and the pull goes on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.services.gateway_types import Received
from app.services.sync_gateway import SyncGateway
from app.services.sync_status import SyncProgress
from sync.fhir.mapping import MappingError
from sync.ports import ResourceMapper
from sync.rebase import Rebaser

log = logging.getLogger(__name__)

BATCH = 200  # resources recorded per transaction
# A stamp is plausible up to the server's own time of the answer that carried it (its Date
# header, whole seconds rounded down) and this much more: a server stamps and answers from
# one clock, but a cluster's nodes may differ by a few seconds. Never the device's clock: it
# may be years ahead or days behind (docs/clocks.md).
STAMP_TOLERANCE = timedelta(seconds=5)


@dataclass
class PullReport:
    seen: int = 0
    new: int = 0
    quarantined: int = 0
    #: Resources stamped later than the server's own Date: kept, their stamps not followed.
    future_stamps: int = 0


@dataclass
class PageResult:
    """What one page held: its newest and last plausible stamps (for the query's position),
    the (type, id, versionId) it carried, and the server ids of its Patients."""

    count: int = 0
    newest: datetime | None = None
    last: datetime | None = None
    keys: set[tuple[str, str, str]] = field(default_factory=set)
    patients: list[str] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)


def instant(text: object) -> datetime | None:
    """An aware instant, or None for anything else (naive or unreadable stamps are ignored:
    comparing them with aware ones would fail)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None or moment.year < 1900:
        return None
    return moment


def matches(page: dict[str, Any]) -> list[object]:
    """The page's match entries (included resources and OperationOutcomes are not matches);
    an entry that is not an object is kept, for quarantine."""
    found: list[object] = []
    for entry in page.get("entry") or []:
        if not isinstance(entry, dict):
            found.append(entry)
            continue
        search = entry.get("search")
        mode = search.get("mode", "match") if isinstance(search, dict) else "match"
        if mode == "match":
            found.append(entry)
    return found


class PageReader:
    """Takes pages for one pull (one cycle, or one pull_patients call)."""

    def __init__(
        self,
        gateway: SyncGateway,
        mapper: ResourceMapper,
        rebaser: Rebaser,
        progress: Callable[[SyncProgress], None],
        clock: Callable[[], datetime],
        server_now: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        """``clock`` (the device's) only paces the progress; ``server_now`` is the server's
        time of the answer being read (None: it sent none), which bounds the stamps followed."""
        self._gateway = gateway
        self._mapper = mapper
        self._rebaser = rebaser
        self._progress = progress
        self._clock = clock
        self._server_now = server_now
        self._ids = rebaser.ids
        self.report = PullReport()
        self.total = 0  # of the whole pull when the server said (0: unknown)
        self._started = clock()

    def take(
        self,
        resource_type: str,
        page: dict[str, Any],
        skip: set[tuple[str, str, str]] | frozenset[tuple[str, str, str]] = frozenset(),
        *,
        record: bool = True,
    ) -> PageResult:
        """Record the page's resources (those in ``skip`` were taken from the page before:
        paging by ``_lastUpdated=ge`` repeats the boundary). ``record=False``: only read it
        (a Group, for its members)."""
        result = PageResult()
        server_now = self._server_now()
        latest_plausible = server_now + STAMP_TOLERANCE if server_now is not None else None
        future = 0
        batch: list[Received] = []
        for entry in matches(page):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                problem = (
                    "search entry has no resource object"
                    if isinstance(entry, dict)
                    else "search entry is not a JSON object"
                )
                self.report.seen += 1
                self.quarantine(resource_type, entry, problem)
                continue
            found_meta = resource.get("meta")
            meta: dict[str, Any] = found_meta if isinstance(found_meta, dict) else {}
            stamp = instant(meta.get("lastUpdated"))
            # A stamp later than the server's own time (a resource imported with its stamp, a
            # node with a wrong clock) would push the position past every real change to come:
            # keep the resource, not its stamp.
            ahead = stamp is not None and latest_plausible is not None and stamp > latest_plausible
            if stamp is not None and not ahead:
                result.last = stamp
                if result.newest is None or stamp > result.newest:
                    result.newest = stamp
            key = (
                str(resource.get("resourceType")),
                str(resource.get("id")),
                str(meta.get("versionId")),
            )
            result.keys.add(key)
            if key in skip:
                continue
            future += ahead
            result.count += 1
            if not record:
                result.resources.append(resource)
                continue
            self.report.seen += 1
            received = self._accept(resource_type, resource)
            if received is None:
                continue
            if resource_type == "Patient" and received.server_id:
                result.patients.append(received.server_id)
            batch.append(received)
            if len(batch) >= BATCH:
                self.flush(batch)
                batch = []
        self.flush(batch)
        if future:
            self.report.future_stamps += future
            log.warning(
                "%d %s resource(s) stamped later than the server's own time: kept, their"
                " stamps not used for the pull's position",
                future,
                resource_type,
            )
        if record and result.count:
            self._progress(self.progress())
        return result

    def progress(self) -> SyncProgress:
        """Counts so far, and the time left at the pace so far (the injected clock's)."""
        done = self.report.seen
        total = max(self.total, done) if self.total else 0
        left = None
        elapsed = (self._clock() - self._started).total_seconds()
        if total and done and elapsed > 0:
            left = elapsed / done * (total - done)
        return SyncProgress("pull", done, total, seconds_left=left)

    def _accept(self, resource_type: str, resource: dict[str, Any]) -> Received | None:
        problem = None
        meta = resource.get("meta")
        if resource.get("resourceType") != resource_type:
            problem = f"expected {resource_type}, got {str(resource.get('resourceType'))[:40]}"
        elif (
            not isinstance(resource.get("id"), str)
            or not resource["id"]
            or not isinstance(meta, dict)
            or not isinstance(meta.get("versionId"), str)
            or not meta["versionId"]
        ):
            problem = "resource has no id or versionId"
        if problem is None:
            try:
                local, server_id = self._ids.to_local(resource)
                received = self._mapper.incoming(local)
                return dataclasses.replace(received, server_id=server_id)
            except MappingError as exc:
                problem = str(exc)
            except Exception as exc:
                # A mapping bug met by one server resource must not stop every later cycle
                # (the same page comes back each time): keep the resource for IT instead.
                log.warning("pulled %s could not be read: %s", resource_type, type(exc).__name__)
                problem = f"could not be read ({type(exc).__name__})"
        self.quarantine(resource_type, resource, problem or "unusable")
        return None

    def quarantine(self, resource_type: str, item: object, problem: str) -> None:
        """Keep an unusable item for IT (sync_gateway.quarantined(), `fieldchart status`)."""
        found_type = item.get("resourceType") if isinstance(item, dict) else None
        found_id = item.get("id") if isinstance(item, dict) else None
        self._gateway.quarantine(
            found_type if isinstance(found_type, str) else resource_type,
            found_id if isinstance(found_id, str) else None,
            problem,
            json.dumps(item, sort_keys=True, default=str),
        )
        self.report.quarantined += 1

    def flush(self, batch: list[Received]) -> None:
        if not batch:
            return
        new = self._rebaser.record(batch)  # held changes are not recorded (held_changes.py)
        self.report.new += len(new)
        if new:
            self._rebaser.rebase_affected(set(new))
