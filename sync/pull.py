"""Pull: per resource type, everything changed since an inclusive `_lastUpdated` watermark,
page by page (memory stays flat), de-duplicated by (type, id, versionId).

Resources other systems and devices wrote enter the log as confirmed events and show in the
chart; pending local commands on those resources are rebased on top. Anything unusable is
quarantined for IT and the pull goes on.
"""

from __future__ import annotations

import json
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

PAGE_SIZE = 500  # above the largest transaction, so one page never ends inside a tie
BATCH = 200
# Server clocks tie and step back: re-read this much before the newest change we saw.
WATERMARK_MARGIN = timedelta(minutes=2)


@dataclass
class PullReport:
    seen: int = 0
    new: int = 0
    quarantined: int = 0


def _instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


class Puller:
    def __init__(
        self,
        gateway: SyncGateway,
        client: FhirClient,
        mapper: ResourceMapper,
        rebaser: Rebaser,
        progress: Callable[[SyncProgress], None],
    ) -> None:
        self._gateway = gateway
        self._client = client
        self._mapper = mapper
        self._rebaser = rebaser
        self._progress = progress

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
        try:
            for resource in self._client.iter_search(resource_type, params):
                report.seen += 1
                if report.seen % BATCH == 0:
                    self._progress(SyncProgress("pull", report.seen, 0))
                received = self._accept(resource_type, resource, report)
                if received is None:
                    continue
                stamp = _instant(str((resource.get("meta") or {}).get("lastUpdated")))
                if stamp is not None and (newest is None or stamp > newest):
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
        if not isinstance(resource, dict):
            problem = "entry is not a resource"
        elif resource.get("resourceType") != resource_type:
            problem = f"expected {resource_type}, got {str(resource.get('resourceType'))[:40]}"
        elif not resource.get("id") or not (resource.get("meta") or {}).get("versionId"):
            problem = "resource has no id or versionId"
        if problem is None:
            try:
                return self._mapper.incoming(resource)
            except MappingError as exc:
                problem = str(exc)
        self._gateway.quarantine(
            resource.get("resourceType") if isinstance(resource, dict) else None,
            resource.get("id") if isinstance(resource, dict) else None,
            problem,
            json.dumps(resource, sort_keys=True, default=str),
        )
        report.quarantined += 1
        return None

    def _flush(self, batch: list[Received], report: PullReport) -> None:
        if not batch:
            return
        new = self._gateway.record_received(batch)
        report.new += len(new)
        if new:
            self._rebaser.rebase_affected(set(new))
