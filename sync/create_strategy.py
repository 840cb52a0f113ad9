"""How each resource type is created on this server: PUT with our id, or POST (server's id).

Decided per type from the CapabilityStatement (``updateCreate``: true means the server takes
our ids) at enrolment, or the first time a push needs it, and kept in the sync journal. The
server's answer has the last word: a PUT-create it refuses moves that type to POST for good.
POST works on every server, so types the statement does not declare are created by POST too.
"""

from __future__ import annotations

import logging

from app.services.sync_gateway import SyncGateway
from sync.fhir.capability import CapabilityInfo
from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError

log = logging.getLogger(__name__)

JOURNAL_KEY = "create_with_put"


class CreateStrategy:
    def __init__(self, gateway: SyncGateway, client: FhirClient) -> None:
        self._gateway = gateway
        self._client = client
        self._with_put: set[str] | None = None

    def by_post(self, resource_type: str) -> bool:
        """True if new resources of this type must be created by POST."""
        return resource_type not in self._types()

    def refuse_put(self, resource_type: str) -> bool:
        """The server refused a PUT-create of this type: create by POST from now on. False
        if it already was (nothing changed, so retrying would not help)."""
        types = self._types()
        if resource_type not in types:
            return False
        types.discard(resource_type)
        self._gateway.set_journal(JOURNAL_KEY, sorted(types))
        log.info("the server assigns ids for %s: creating by POST", resource_type)
        return True

    def _types(self) -> set[str]:
        if self._with_put is None:
            stored = self._gateway.journal(JOURNAL_KEY)
            if isinstance(stored, list):
                self._with_put = {str(t) for t in stored}
            else:
                self._with_put = self._from_capabilities()
        return self._with_put

    def _from_capabilities(self) -> set[str]:
        try:
            info = self._client.capabilities()
        except FhirError as exc:
            if exc.retryable:
                raise  # offline, busy: the cycle ends and the next one asks again
            # A server whose statement cannot be read at all: POST works everywhere. Not
            # remembered, so the next cycle asks again.
            log.info("could not read the server's capabilities (%s): creating by POST", exc)
            return set()
        return record_create_strategy(self._gateway, info)


def record_create_strategy(journal: SyncGateway, info: CapabilityInfo) -> set[str]:
    """Keep which types the server lets us create with our ids (updateCreate), from its
    CapabilityStatement: enrolment, which reads it anyway, records it so the first push reads
    none."""
    types = {name for name, r in info.resources.items() if r.update_create}
    journal.set_journal(JOURNAL_KEY, sorted(types))
    return types
