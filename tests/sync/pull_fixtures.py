"""A district on a FHIR server for the pull tests: facilities (Organizations) with patients and
a diagnosis each, written by "another system" straight to the server; a new device scoped to
one of them; and what a device received, read off its transport."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sync.engine import SyncEngine
from sync.fhir.client import FhirClient
from sync.fhir_mapper import FhirResourceMapper
from sync.scope import SyncScope
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, make_device


@dataclass
class Facility:
    organization: str  # "Organization/<server id>"
    patients: list[str] = field(default_factory=list)  # server ids
    conditions: list[str] = field(default_factory=list)


def add_facility(client: FhirClient, patients: int, tag: str) -> Facility:
    org = client.create("Organization", {"resourceType": "Organization", "name": f"HC {tag}"})
    facility = Facility(f"Organization/{org.resource['id']}")
    for n in range(patients):
        add_patient(client, facility, f"{tag}{n}")
    return facility


def add_patient(client: FhirClient, facility: Facility, given: str) -> str:
    """A patient of the facility and a diagnosis about them, both written by another system."""
    patient = client.create(
        "Patient",
        {
            "resourceType": "Patient",
            "name": [{"family": "Pull", "given": [given]}],
            "birthDate": "1990-01-01",
            "gender": "female",
            "managingOrganization": {"reference": facility.organization},
        },
    ).resource
    facility.patients.append(patient["id"])
    facility.conditions.append(add_condition(client, patient["id"]))
    return str(patient["id"])


def add_condition(client: FhirClient, patient_id: str, text: str = "Malaria") -> str:
    condition = client.create(
        "Condition",
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{patient_id}"},
            "code": {"text": text},
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "recordedDate": "2026-12-01",
        },
    ).resource
    return str(condition["id"])


def scoped(device: Device, scope: SyncScope) -> Device:
    """The device with an engine pulling ``scope``."""
    clinic = device.clinic
    mapper = FhirResourceMapper(clinic.catalog)
    device.engine = SyncEngine(
        clinic.sync_gateway, device.client, mapper, device.clock, scope=scope
    )
    return device


@contextmanager
def new_device(
    server: FhirServer, tmp: Path, name: str, scope: SyncScope | None
) -> Iterator[Device]:
    device = make_device(tmp, name, server.base_url, server.auth())
    try:
        yield scoped(device, scope) if scope is not None else device
    finally:
        device.close()


class Received:
    """Every resource a device's transport brought back (search pages and batch answers)."""

    def __init__(self, device: Device) -> None:
        self.resources: list[dict[str, Any]] = []
        device.transport.after = self._take

    def _take(self, request: httpx.Request, response: httpx.Response) -> None:
        if "json" not in response.headers.get("Content-Type", ""):
            return
        try:
            body = json.loads(response.content)
        except ValueError:
            return
        self._walk(body)

    def _walk(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        if body.get("resourceType") == "Bundle":
            for entry in body.get("entry") or []:
                if isinstance(entry, dict):
                    self._walk(entry.get("resource"))
        elif isinstance(body.get("id"), str) and body.get("resourceType") != "OperationOutcome":
            self.resources.append(body)

    def ids(self, resource_type: str) -> set[str]:
        return {r["id"] for r in self.resources if r["resourceType"] == resource_type}

    def referring_to(self, patients: list[str]) -> list[dict[str, Any]]:
        """Received resources that are, or are about, one of these patients."""
        refs = {f"Patient/{p}" for p in patients}
        return [
            r
            for r in self.resources
            if (r["resourceType"] == "Patient" and r["id"] in patients)
            or any(ref in json.dumps(r) for ref in refs)
        ]


def tag() -> str:
    return uuid.uuid4().hex[:6]
