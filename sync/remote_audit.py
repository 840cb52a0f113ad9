"""AuditEvents for the central server about looking a patient up and bringing them here.

The device's own audit (inside the encrypted vault) keeps what was searched for; the server's
AuditEvent names only who, when, from which device, which search parameters were used (their
names, never their values) and how many patients were found — or, for a fetch, which patient
was brought. Like the chart-view AuditEvents of sync/audit_push.py it carries no clinical
content and is created without `ifNoneExist`: a lost answer may repeat a record, never lose it.

They are sent while the device is online anyway (right after the look-up or fetch). One the
server did not take is kept in the sync journal (inside the vault) and sent before the next
look-up's own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.services.sync_gateway import SyncGateway
from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError
from sync.fhir.mapping.audit import (
    ENTITY_TYPE,
    INTERACTION,
    OBJECT_ROLE,
    to_fhir_audit_event_for_view,
)
from sync.fhir.mapping.common import coding
from sync.server_ids import with_our_id

log = logging.getLogger(__name__)

UNSENT_KEY = "remote_audit_unsent"
MAX_UNSENT = 200  # a device offline for months keeps the newest; the vault's own audit has all
Json = dict[str, Any]


def search_audit_event(
    user: str, device_id: str, at: datetime, fields_used: list[str], found: int
) -> Json:
    """A patient search on the server (FHIR `search` interaction, action E): the envelope of a
    chart view (who, when, which device) with the query as its entity, values left out."""
    event = _envelope(user, device_id, at, "search")
    event["subtype"] = [coding(INTERACTION, "search", "search")]
    event["action"] = "E"
    event["entity"] = [
        {
            "type": coding(ENTITY_TYPE, "2", "System Object"),
            "role": coding(OBJECT_ROLE, "24", "Query"),
            "description": f"Patient search on {', '.join(fields_used)}: {found} found",
        }
    ]
    return event


def fetch_audit_event(user: str, device_id: str, at: datetime, server_patient_id: str) -> Json:
    """A patient's record read from the server onto a device (FHIR `read`, action R)."""
    event = _envelope(user, device_id, at, server_patient_id)
    event["entity"][0]["description"] = "Patient record brought onto a device from elsewhere"
    return event


def _envelope(user: str, device_id: str, at: datetime, patient_id: str) -> Json:
    at_text = at.isoformat(timespec="milliseconds")
    view = to_fhir_audit_event_for_view(str(uuid.uuid4()), patient_id, user, at_text, device_id)
    return with_our_id(view)


class RemoteAuditSender:
    """Sends these AuditEvents now, keeping any the server did not take for the next time."""

    def __init__(
        self, gateway: SyncGateway, client: FhirClient, clock: Callable[[], datetime]
    ) -> None:
        self._gateway = gateway
        self._client = client
        self._clock = clock

    def send(self, event: Json) -> bool:
        """Send the ones kept from before, then `event`; True when all reached the server."""
        waiting = [*self._unsent(), event]
        left = []
        for i, item in enumerate(waiting):
            try:
                self._client.create("AuditEvent", item)
            except FhirError as exc:
                log.info("an audit record for the server is kept for later: %s", type(exc).__name__)
                left = waiting[i:]
                break
        self._gateway.set_journal(UNSENT_KEY, left[-MAX_UNSENT:] or None)
        return not left

    def _unsent(self) -> list[Json]:
        kept = self._gateway.journal(UNSENT_KEY)
        return [e for e in kept if isinstance(e, dict)] if isinstance(kept, list) else []
