"""Clinic devices for sync tests: each its own vault, clinic services and sync engine, all
talking to one FHIR server (the in-memory peer or a real one, tests/realfhir), and what the
server holds of a test's own patients."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.services.clinic import Clinic, open_clinic
from app.services.dto import Changes, ChartView
from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from sync.clinic_sync import engine_for
from sync.engine import CycleReport, SyncEngine
from sync.fhir.client import FhirClient, VersionedResource
from sync.fhir.errors import FhirError
from sync.fhir.mapping import PULL_TYPES
from tests.realfhir.plugin import FhirServer

DOC = Actor("doc", Role.CLINICIAN)
STAFF = Actor("desk", Role.STAFF)


class FaultyTransport(httpx.BaseTransport):
    """Forwards to the real peer; `fault` may raise before or after the server answered."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.before: Callable[[httpx.Request], httpx.Response | None] | None = None
        self.after: Callable[[httpx.Request, httpx.Response], None] | None = None
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.before is not None:
            canned = self.before(request)
            if canned is not None:
                return canned
        response = self._inner.handle_request(request)
        if self.after is not None:
            response.read()
            self.after(request, response)
        return response

    def close(self) -> None:
        self._inner.close()


@dataclass
class Device:
    name: str
    clinic: Clinic
    client: FhirClient
    transport: FaultyTransport
    engine: SyncEngine
    clock: Callable[[], datetime]
    auth: httpx.Auth | None = None
    reports: list[CycleReport] = field(default_factory=list)

    def run(self, command: c.Command, actor: Actor = DOC) -> Changes:
        return self.clinic.commands.execute(command, actor)

    def sync(self) -> CycleReport:
        report = self.engine.run_cycle()
        self.reports.append(report)
        return report

    def chart(self, patient_id: str) -> ChartView:
        return self.clinic.queries.chart(patient_id, DOC, record_view=False)

    def close(self) -> None:
        self.client.close()
        self.clinic.close()

    def restart(self) -> None:
        """A new process on the same vault: new client, new engine, nothing in memory."""
        self.client.close()
        data_dir = self.clinic.vault.data_dir
        self.clinic.close()
        vault = Vault.open(data_dir)
        vault.unlock("admin", PASSPHRASE)
        self.clinic = open_clinic(vault, clock=self.clock)
        self.transport = FaultyTransport()
        self.client = FhirClient(self.client.base_url, self.auth, transport=self.transport)
        self.engine = engine_for(self.clinic, self.client)


PASSPHRASE = "device-passphrase"


class TickingClock:
    """Each reading is a little later than the last, as on a real device."""

    def __init__(self, start: datetime) -> None:
        self._ticks = itertools.count()
        self._start = start

    def __call__(self) -> datetime:
        return self._start + timedelta(milliseconds=next(self._ticks))


def server_time(base_url: str) -> datetime:
    """The server's clock (its Date header): a device's clock is set from the network, and
    the server stamps what it stores by its own clock, not by the test's."""
    response = httpx.get(f"{base_url}/metadata", timeout=10)
    return parsedate_to_datetime(response.headers["Date"])


def make_device(
    tmp: Path,
    name: str,
    base_url: str,
    auth: httpx.Auth | None = None,
    *,
    up_to_date: bool = False,
) -> Device:
    """A new device on the server at `base_url`. `up_to_date`: as if it had already pulled
    everything the server held a few seconds ago, so on a shared server that keeps every
    earlier test's data it pulls only what changed since (a new device pulls everything)."""
    vault, _ = Vault.create(tmp / name, "admin", PASSPHRASE, kdf=FAST_FOR_TESTS)
    now = server_time(base_url)
    clock = TickingClock(now - timedelta(hours=1))
    clinic = open_clinic(vault, clock=clock)
    transport = FaultyTransport()
    client = FhirClient(base_url, auth, transport=transport)
    if up_to_date:
        pulled_up_to(clinic, now)
    return Device(name, clinic, client, transport, engine_for(clinic, client), clock, auth)


@contextmanager
def devices_on(
    server: FhirServer, tmp: Path, *names: str, new: Collection[str] = ()
) -> Iterator[dict[str, Device]]:
    """Devices of these names on `server`, closed afterwards. On a shared server each is up to
    date with it as of now, except those named in `new`: never synced, their first sync pulls
    the whole server."""
    made = {
        name: make_device(
            tmp,
            name,
            server.base_url,
            server.auth(),
            up_to_date=name not in new and not server.isolated,
        )
        for name in names
    }
    try:
        yield made
    finally:
        for device in made.values():
            device.close()


def pulled_up_to(clinic: Clinic, instant: datetime) -> None:
    """The device counts as having pulled everything the server held a few seconds before
    `instant` (the server's time): on a shared server that keeps every earlier test's data, its
    next sync pulls only what changed since."""
    mark = (instant - timedelta(seconds=5)).isoformat(timespec="milliseconds")
    for resource_type in PULL_TYPES:
        clinic.sync_gateway.set_watermark(resource_type, mark)


def vault_pulled_up_to_now(data_dir: Path, user: str, passphrase: str, base_url: str) -> None:
    """`pulled_up_to` the server's time now, for a vault that is not open (a CLI's)."""
    vault = Vault.open(data_dir)
    vault.unlock(user, passphrase)
    clinic = open_clinic(vault)
    try:
        pulled_up_to(clinic, server_time(base_url))
    finally:
        clinic.close()


def clinical_view(view: ChartView) -> dict[str, Any]:
    """What must be equal across devices: the chart's content, not who recorded it where."""

    def items(entries: list[Any]) -> list[tuple[Any, ...]]:
        return sorted(
            (
                i.item_id,
                i.kind,
                i.status,
                i.entered_in_error,
                tuple(sorted((k, repr(v)) for k, v in i.data.items())),
            )
            for i in entries
        )

    p = view.patient
    return {
        "patient": (
            p.given,
            p.family,
            p.birth_date,
            p.sex,
            p.phone,
            p.address,
            sorted((i["system"], i["value"]) for i in p.identifiers),
        ),
        "allergy_banner": sorted(view.allergy_banner),
        "problems": items(view.problems),
        "allergies": items(view.allergies),
        "medications": items(view.medications),
        "encounters": items(view.encounters),
        "notes": items(view.notes),
        "appointments": items(view.appointments),
        "vitals": {k: sorted(v) for k, v in view.vitals_series.items()},
    }


def is_transaction(client: FhirClient, request: httpx.Request) -> bool:
    """A transaction (or batch) POSTed to the FHIR base: not a token request, not a search."""
    return request.method == "POST" and str(request.url) == client.base_url


#: The business identifier every resource FieldChart creates carries: our id for it.
OUR_ID_SYSTEM = "urn:fieldchart:fhir:id"


def server_copies(client: FhirClient, resource_type: str, local_id: str) -> list[dict[str, Any]]:
    """Every copy of one of our resources on the server: found by our identifier (a server that
    assigns ids), else at our own id (a server that let us create it with PUT)."""
    found = list(client.iter_search(resource_type, {"identifier": f"{OUR_ID_SYSTEM}|{local_id}"}))
    if found:
        return found
    try:
        at_our_id = client.read(resource_type, local_id)
    except FhirError:  # e.g. a server that only takes ids it assigned: 400 "Invalid id"
        return []
    return [] if at_our_id is None else [at_our_id.resource]


def server_resource(
    client: FhirClient, resource_type: str, local_id: str
) -> VersionedResource | None:
    """The server's copy of one of our resources (there must be at most one)."""
    copies = server_copies(client, resource_type, local_id)
    assert len(copies) <= 1, f"{resource_type} {local_id} is on the server {len(copies)} times"
    if not copies:
        return None
    return VersionedResource(copies[0], copies[0].get("meta", {}).get("versionId"))


def our_resources(
    client: FhirClient, resource_type: str, patients: Iterable[str]
) -> list[dict[str, Any]]:
    """The server's resources of a type that belong to these patients (our ids): the only
    ones a test may count on a server other tests (and other runs) write to as well."""
    found: list[dict[str, Any]] = []
    for local_id in patients:
        for patient in server_copies(client, "Patient", local_id):
            if resource_type == "Patient":
                found.append(patient)
                continue
            params = {"patient": f"Patient/{patient['id']}", "_count": "1000"}
            found.extend(client.iter_search(resource_type, params))
    return found


def server_count(client: FhirClient, resource_type: str, patients: Iterable[str]) -> int:
    """How many resources of a type the server holds for these patients (our ids)."""
    return len(our_resources(client, resource_type, patients))
