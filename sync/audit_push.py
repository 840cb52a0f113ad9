"""Chart views leave the device as AuditEvents, so the central audit trail is complete."""

from __future__ import annotations

from app.services.sync_gateway import SyncGateway
from sync.fhir.bundle import TransactionBuilder
from sync.fhir.client import FhirClient
from sync.ports import ResourceMapper

BATCH = 50  # the server's limit of PUT entries per transaction
POSITION_KEY = "audit_position"


class AuditPusher:
    def __init__(self, gateway: SyncGateway, client: FhirClient, mapper: ResourceMapper) -> None:
        self._gateway = gateway
        self._client = client
        self._mapper = mapper

    def push(self) -> int:
        """Send every chart view recorded since the last push; returns how many."""
        sent = 0
        position = int(self._gateway.journal(POSITION_KEY) or 0)
        while True:
            records = self._gateway.audit_events_after(position, BATCH)
            if not records:
                return sent
            builder = TransactionBuilder()
            for record in records:
                resource = self._mapper.audit_event(record)
                builder.add_put("AuditEvent", resource["id"], resource)
            # AuditEvents are new resources with our ids: a retry rewrites the same content.
            self._client.transaction(builder.build())
            position = records[-1].position
            self._gateway.set_journal(POSITION_KEY, position)
            sent += len(records)
