"""Chart views leave the device as AuditEvents, so the central audit trail is complete."""

from __future__ import annotations

from app.services.sync_gateway import SyncGateway
from sync.create_strategy import CreateStrategy
from sync.fhir.bundle import TransactionBuilder
from sync.fhir.client import FhirClient
from sync.ports import ResourceMapper
from sync.server_ids import ServerIds, full_url

BATCH = 50  # the server's limit of PUT entries per transaction
POSITION_KEY = "audit_position"


class AuditPusher:
    def __init__(
        self,
        gateway: SyncGateway,
        client: FhirClient,
        mapper: ResourceMapper,
        ids: ServerIds | None = None,
        strategy: CreateStrategy | None = None,
    ) -> None:
        self._gateway = gateway
        self._client = client
        self._mapper = mapper
        self._ids = ids or ServerIds(gateway.server_id, gateway.local_id)
        self._strategy = strategy or CreateStrategy(gateway, client)

    def push(self) -> int:
        """Send every chart view recorded since the last push; returns how many."""
        sent = 0
        position = int(self._gateway.journal(POSITION_KEY) or 0)
        while True:
            records = self._gateway.audit_events_after(position, BATCH)
            if not records:
                return sent
            builder = TransactionBuilder()
            by_post = self._strategy.by_post("AuditEvent")
            for record in records:
                resource = self._mapper.audit_event(record)
                if by_post:
                    # No ifNoneExist: it would cut the Bundle to 8 entries (bundle.py). A
                    # retry after a lost answer may repeat a view record, never lose one.
                    body = self._ids.to_server(resource, None, {})
                    builder.add_create("AuditEvent", full_url(("AuditEvent", resource["id"])), body)
                else:
                    # New resources with our ids: a retry rewrites the same content.
                    body = self._ids.to_server(resource, resource["id"], {})
                    builder.add_put("AuditEvent", resource["id"], body)
            self._client.transaction(builder.build())
            position = records[-1].position
            self._gateway.set_journal(POSITION_KEY, position)
            sent += len(records)
