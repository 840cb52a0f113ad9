"""Are the server's transactions atomic? The probe that asks without writing anything, and the
device's record of the answer in its sync journal (``status --json`` shows it under ``server``).

Apart from the rest of check-server because sync itself runs it: at enrolment, and at the start
of a sync cycle at most once a day (``refresh_server_facts``). The write probe reuses its
throwaway patient and its failing entry.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sync.fhir.client import FhirClient
from sync.fhir.errors import FhirError
from sync.server_check.report import FATAL

if TYPE_CHECKING:
    from app.services.sync_gateway import SyncGateway

__all__ = [
    "PROBE_FAMILY",
    "PROBE_SYSTEM",
    "REFRESH_AFTER",
    "SERVER_FACTS_KEY",
    "failing_entry",
    "probe_patient",
    "record_server_facts",
    "refresh_server_facts",
    "server_facts",
    "transaction_atomicity",
]

log = logging.getLogger(__name__)

PROBE_SYSTEM = "urn:fieldchart:fhir:check-server"
PROBE_FAMILY = "FIELDCHART-CHECK-SERVER-PROBE"
#: The sync journal key of what the device knows about its server (``status --json``).
SERVER_FACTS_KEY = "server"
REFRESH_AFTER = timedelta(days=1)


def probe_patient(marker: str, *, family: str = PROBE_FAMILY) -> dict[str, Any]:
    """A throwaway test patient, marked so that it can be found and deleted."""
    return {
        "resourceType": "Patient",
        "identifier": [{"system": PROBE_SYSTEM, "value": marker}],
        "name": [{"family": family, "given": ["Delete", "me"]}],
        "active": False,
    }


def failing_entry(client: FhirClient) -> dict[str, Any]:
    """A PUT that every server must refuse and none can apply: the body's id is not the URL's
    (400 everywhere), and the If-Match names a version that does not exist (412/404), for a
    server that would not compare ids. Both guards matter: a Medplum super-admin client ignores
    a stale If-Match on an id that does not exist and creates the resource."""
    url_id, body_id = str(uuid.uuid4()), str(uuid.uuid4())
    resource = probe_patient(f"atomicity-{url_id}")
    resource["id"] = body_id
    return {
        "fullUrl": f"{client.base_url}Patient/{url_id}",
        "resource": resource,
        "request": {
            "method": "PUT",
            "url": f"Patient/{url_id}",
            "ifMatch": f'W/"{uuid.uuid4()}"',
        },
    }


def transaction_atomicity(client: FhirClient) -> bool | None:
    """Whether a failing entry fails the whole transaction Bundle; None if the answer says
    neither. Writes nothing: the Bundle is a harmless read and a write that must fail.

    Atomic servers refuse the Bundle (4xx); batch-like ones answer 200 with the read's result
    and a per-entry error. Unreachable, refused or rate-limited: that FhirError is raised.
    """
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "GET", "url": f"Patient?_id={uuid.uuid4()}"}},
            failing_entry(client),
        ],
    }
    try:
        results = client.transaction(bundle)
    except FATAL:
        raise
    except FhirError as exc:
        if exc.retryable and exc.status is not None and exc.status < 500:
            raise  # a concurrent-update clash (409): says nothing about atomicity
        if exc.status is not None and 400 <= exc.status < 500:
            return True
        log.info("transaction probe: no verdict (%s)", exc)
        return None
    if results[1].status >= 400:
        return False
    log.warning("transaction probe: the server accepted a write it should have refused")
    return None


# -- the device's record of its server ---------------------------------------------------------


def server_facts(gateway: SyncGateway) -> dict[str, Any]:
    """What ``status --json`` shows under ``server``: atomic_transactions and when it was
    checked (both None until the first check)."""
    facts = gateway.journal(SERVER_FACTS_KEY)
    base: dict[str, Any] = {"atomic_transactions": None, "checked_at": None}
    return base | facts if isinstance(facts, dict) else base


def record_server_facts(gateway: SyncGateway, client: FhirClient, now: datetime) -> bool | None:
    """Probe atomicity now and keep the answer (a probe without a verdict keeps the last one)."""
    atomic = transaction_atomicity(client)
    if atomic is None:
        atomic = server_facts(gateway)["atomic_transactions"]
    facts = {"atomic_transactions": atomic, "checked_at": now.isoformat(timespec="seconds")}
    gateway.set_journal(SERVER_FACTS_KEY, facts)
    return atomic


def refresh_server_facts(
    gateway: SyncGateway, client: FhirClient, now: datetime, *, force: bool = False
) -> None:
    """At the start of a sync cycle: probe again when the last check is a day old or missing
    (``force``: now, at enrolment). A failed probe is logged and never fails the cycle or the
    enrolment: their own requests say what is wrong with the server."""
    checked = server_facts(gateway)["checked_at"]
    try:
        age = now - datetime.fromisoformat(checked) if checked is not None else None
        # A check "from the future" was made by a clock since set back: due (docs/clocks.md).
        due = force or age is None or age >= REFRESH_AFTER or age < timedelta(0)
    except (TypeError, ValueError):
        due = True
    if not due:
        return
    try:
        record_server_facts(gateway, client, now)
    except FhirError as exc:
        log.info("could not check the server's transactions: %s", exc)
