"""Pull: per resource type, everything changed since an inclusive `_lastUpdated` watermark,
page by page (memory stays flat), de-duplicated by (type, id, versionId).

Resources other systems and devices wrote enter the log as confirmed events and show in the
chart; pending local commands on those resources are rebased on top. Anything unusable is
quarantined for IT and the pull goes on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.services.gateway_types import Received
from app.services.sync_gateway import SyncGateway
from app.services.sync_status import SyncProgress
from sync.fhir.client import FhirClient
from sync.fhir.errors import InvalidResponseError
from sync.fhir.mapping import MappingError
from sync.ports import ResourceMapper
from sync.rebase import Rebaser

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # above the largest transaction, so one page never ends inside a tie
BATCH = 200
# Server clocks tie and step back: re-read this much before the newest change we saw.
WATERMARK_MARGIN = timedelta(minutes=2)
# Server clocks may run ahead of ours, but not by days.
FUTURE_TOLERANCE = timedelta(days=1)


@dataclass
class PullReport:
    seen: int = 0
    new: int = 0
    quarantined: int = 0


def _instant(text: object) -> datetime | None:
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


class Puller:
    def __init__(
        self,
        gateway: SyncGateway,
        client: FhirClient,
        mapper: ResourceMapper,
        rebaser: Rebaser,
        progress: Callable[[SyncProgress], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._gateway = gateway
        self._client = client
        self._mapper = mapper
        self._rebaser = rebaser
        self._progress = progress
        self._clock = clock
        self._ids = rebaser.ids

    def pull_all(self) -> PullReport:
        report = PullReport()
        for resource_type in self._mapper.pull_types():
            self._pull_type(resource_type, report)
        return report

    def _pull_type(self, resource_type: str, report: PullReport) -> None:
        watermark = self._gateway.watermark(resource_type)
        params = {"_sort": "_lastUpdated", "_count": str(PAGE_SIZE)}
        if watermark:
            params["_lastUpdated"] = f"ge{watermark}"
        newest: datetime | None = None
        batch: list[Received] = []

        def bad_entry(entry: object, problem: str) -> None:
            report.seen += 1
            self._quarantine(resource_type, entry, problem, report)

        latest_plausible = self._clock() + FUTURE_TOLERANCE
        try:
            for resource in self._client.iter_search(resource_type, params, bad_entry):
                report.seen += 1
                if report.seen % BATCH == 0:
                    self._progress(SyncProgress("pull", report.seen, 0))
                received = self._accept(resource_type, resource, report)
                if received is None:
                    continue
                stamp = _instant(resource["meta"].get("lastUpdated"))
                # A stamp far in the future (a broken server clock or a bad resource) would
                # push the watermark past every real change to come: keep the resource, but
                # do not let its stamp move the watermark.
                if (
                    stamp is not None
                    and stamp <= latest_plausible
                    and (newest is None or stamp > newest)
                ):
                    newest = stamp
                batch.append(received)
                if len(batch) >= BATCH:
                    self._flush(batch, report)
                    batch = []
        except InvalidResponseError as exc:
            # A broken page: keep what came before it, show it to IT, go on with other types.
            self._flush(batch, report)
            self._gateway.quarantine(resource_type, None, f"unusable page: {exc}", None)
            report.quarantined += 1
            return
        self._flush(batch, report)
        if newest is not None:
            mark = (newest - WATERMARK_MARGIN).isoformat(timespec="milliseconds")
            if watermark is None or mark > watermark:
                self._gateway.set_watermark(resource_type, mark)

    def _accept(self, resource_type: str, resource: Any, report: PullReport) -> Received | None:
        problem = None
        meta = resource.get("meta") if isinstance(resource, dict) else None
        if not isinstance(resource, dict):
            problem = "entry is not a resource"
        elif resource.get("resourceType") != resource_type:
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
        self._quarantine(resource_type, resource, problem or "unusable", report)
        return None

    def _quarantine(
        self, resource_type: str, item: object, problem: str, report: PullReport
    ) -> None:
        """Keep an unusable item for IT (sync_gateway.quarantined(), `fieldchart status`)."""
        found_type = item.get("resourceType") if isinstance(item, dict) else None
        found_id = item.get("id") if isinstance(item, dict) else None
        self._gateway.quarantine(
            found_type if isinstance(found_type, str) else resource_type,
            found_id if isinstance(found_id, str) else None,
            problem,
            json.dumps(item, sort_keys=True, default=str),
        )
        report.quarantined += 1

    def _flush(self, batch: list[Received], report: PullReport) -> None:
        if not batch:
            return
        new = self._gateway.record_received(batch)
        report.new += len(new)
        if new:
            self._rebaser.rebase_affected(set(new))
