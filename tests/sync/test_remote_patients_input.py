"""Looking a patient up on the central server: bad input, who may, and a server that cannot be
asked each give one clear message and change nothing (no request, no audit record, no journal).
The server is a stand-in here (httpx.MockTransport); tests/sync/test_remote_patients.py runs
the look-up against both real servers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain.errors import RoleError, ValidationError
from app.services.clinic import Clinic, open_clinic
from app.services.remote_lookup import RemoteQuery, RemoteUnavailableError
from app.services.settings import DeviceSettings
from app.store.vault import Vault
from sync.fhir.client import FhirClient
from sync.remote_audit import UNSENT_KEY
from sync.remote_patients import VISITING_KEY, RemotePatients
from tests.clinic_fixtures import PASSPHRASES, FakeClock, create_vault, snapshot

TODAY = date(2026, 12, 2)
UNUSED_PORT_URL = "http://127.0.0.1:9/fhir"  # nothing listens on the discard port


@contextmanager
def clinic_as(tmp: Path, user: str, **settings: Any) -> Iterator[Clinic]:
    """A vault whose admin saved `settings`, opened as `user`."""
    vault = create_vault(tmp / "vault")
    admin = open_clinic(vault, clock=FakeClock())
    if settings:
        admin.settings.update(admin.actor, **settings)
    admin.close()
    again = Vault.open(tmp / "vault")
    again.unlock(user, PASSPHRASES[user])
    clinic = open_clinic(again, clock=FakeClock())
    try:
        yield clinic
    finally:
        clinic.close()


def remote_audit(clinic: Clinic) -> list[Any]:
    """The look-ups and fetches in the device's audit (not the admin's set-up before)."""
    return [e for e in clinic.queries.audit(limit=20) if e.action.startswith("RemotePatient")]


Handler = Callable[[httpx.Request], httpx.Response]


def lookup_on(clinic: Clinic, handler: Handler) -> tuple[RemotePatients, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return handler(request)

    def client_for(s: DeviceSettings) -> FhirClient:
        return FhirClient(s.server_url or "", transport=httpx.MockTransport(answer))

    return RemotePatients(clinic, client_for), sent


def one_patient(request: httpx.Request) -> httpx.Response:
    if request.method == "GET":
        patient = {
            "resourceType": "Patient",
            "id": "p1",
            "meta": {"versionId": "1"},
            "name": [{"family": "Mollel", "given": ["Rehema"]}],
            "birthDate": "1988-08-08",
            "gender": "female",
            "managingOrganization": {"reference": "Organization/o9", "display": "Kibaha HC"},
        }
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": patient}]}
        return httpx.Response(200, json=bundle)
    body = json.loads(request.content)
    return httpx.Response(201, json={**body, "id": "a1", "meta": {"versionId": "1"}})


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        (RemoteQuery(), "name", "Enter a name, an identifier or a birth date"),
        (RemoteQuery(name="   ", identifier=" "), "name", "Enter a name"),
        (RemoteQuery(name="Ana", birth_date="02/01/1990"), "birth_date", "YYYY-MM-DD"),
        (RemoteQuery(name="Ana", birth_date="1990-02-30"), "birth_date", "YYYY-MM-DD"),
        (RemoteQuery(name="Ana", birth_date="2031-01-01"), "birth_date", "in the future"),
        (RemoteQuery(birth_date="1990-02-01"), "name", "A birth date alone matches too many"),
        (RemoteQuery(name="A"), "name", "at least 2 letters"),
        (RemoteQuery(name="Ana$x"), "name", "may not contain"),
        (RemoteQuery(name="a b c d e"), "name", "at most 4 words"),
        (RemoteQuery(identifier="MRN-1,MRN-2"), "identifier", "commas"),
        (RemoteQuery(identifier="x" * 65), "identifier", "longer than 64"),
    ],
)
def test_bad_search_input_is_refused_with_its_field(
    query: RemoteQuery, field: str, says: str
) -> None:
    with pytest.raises(ValidationError, match=says) as refused:
        query.checked(TODAY)
    assert refused.value.field == field


def test_a_search_is_tidied_before_it_is_sent() -> None:
    tidy = RemoteQuery(name="  Silva,  Ana ", identifier=" MRN-7 ", birth_date=" 1990-02-01 ")
    assert tidy.checked(TODAY) == RemoteQuery("Silva Ana", "MRN-7", "1990-02-01")
    assert RemoteQuery(identifier="urn:x|7").checked(TODAY).fields_used() == ["identifier"]


def test_bad_input_sends_nothing_and_records_nothing(tmp_path: Path) -> None:
    with clinic_as(tmp_path, "desk", server_url="https://fhir.test/R4") as clinic:
        lookup, sent = lookup_on(clinic, one_patient)
        before = snapshot(clinic)
        with pytest.raises(ValidationError, match="YYYY-MM-DD"):
            lookup.search(RemoteQuery(name="Rehema", birth_date="1988-8-8"))
        with pytest.raises(ValidationError, match="Enter a name"):
            lookup.search(RemoteQuery())
        with pytest.raises(ValidationError, match="server patient id") as refused:
            lookup.bring("../Patient/x")
        assert refused.value.field == "server_id"
        assert sent == []
        assert snapshot(clinic) == before
        assert remote_audit(clinic) == []
        assert clinic.sync_gateway.journal(VISITING_KEY) is None


def test_admins_may_not_look_patients_up(tmp_path: Path) -> None:
    with clinic_as(tmp_path, "admin", server_url="https://fhir.test/R4") as clinic:
        lookup, sent = lookup_on(clinic, one_patient)
        with pytest.raises(RoleError, match="admin role may not look patients up"):
            lookup.search(RemoteQuery(name="Rehema"))
        with pytest.raises(RoleError):
            lookup.bring("p1")
        assert sent == []


@pytest.mark.parametrize("user", ["desk", "doc"])
def test_staff_and_clinicians_may(tmp_path: Path, user: str) -> None:
    with clinic_as(tmp_path, user, server_url="https://fhir.test/R4") as clinic:
        lookup, _sent = lookup_on(clinic, one_patient)
        [row] = lookup.search(RemoteQuery(name="Rehema")).patients
        assert (row.display_name, row.organization, row.local_id) == (
            "MOLLEL, Rehema",
            "Kibaha HC",
            None,
        )
        [entry] = remote_audit(clinic)
        assert (entry.user, entry.action) == (user, "RemotePatientSearched")
        assert entry.detail == "name 'Rehema'; 1 found"


def test_a_device_not_enrolled_says_so(tmp_path: Path) -> None:
    with clinic_as(tmp_path, "desk") as clinic:
        before = snapshot(clinic)
        with pytest.raises(RemoteUnavailableError, match="not enrolled") as refused:
            RemotePatients(clinic).search(RemoteQuery(name="Rehema"))
        assert refused.value.kind == "not-enrolled"
        assert snapshot(clinic) == before


def test_an_offline_device_says_so_and_changes_nothing(tmp_path: Path) -> None:
    with clinic_as(tmp_path, "desk", server_url=UNUSED_PORT_URL) as clinic:
        before = snapshot(clinic)
        with pytest.raises(RemoteUnavailableError, match="looks offline") as refused:
            RemotePatients(clinic).search(RemoteQuery(name="Rehema"))
        assert refused.value.kind == "offline"
        with pytest.raises(RemoteUnavailableError, match="looks offline"):
            RemotePatients(clinic).bring("p1")
        assert snapshot(clinic) == before
        assert remote_audit(clinic) == []


@pytest.mark.parametrize(
    ("status", "kind", "says"),
    [
        (401, "refused", "refused this device's credentials"),
        (400, "refused", r"refused the request \(HTTP 400\)"),
        (500, "server", "did not answer properly"),
    ],
)
def test_a_server_failure_is_one_plain_message_without_what_was_typed(
    tmp_path: Path, status: int, kind: str, says: str
) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": "bad name Rehema"}],
    }
    with clinic_as(tmp_path, "desk", server_url="https://fhir.test/R4") as clinic:
        lookup, _sent = lookup_on(clinic, lambda _r: httpx.Response(status, json=outcome))
        with pytest.raises(RemoteUnavailableError, match=says) as refused:
            lookup.search(RemoteQuery(name="Rehema"))
        assert refused.value.kind == kind
        assert "Rehema" not in str(refused.value)
        assert remote_audit(clinic) == []


def test_an_audit_record_the_server_did_not_take_is_sent_with_the_next_look_up(
    tmp_path: Path,
) -> None:
    refuse = [True]

    def flaky_audit(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and refuse[0]:
            return httpx.Response(500)
        return one_patient(request)

    with clinic_as(tmp_path, "desk", server_url="https://fhir.test/R4") as clinic:
        lookup, sent = lookup_on(clinic, flaky_audit)
        assert len(lookup.search(RemoteQuery(name="Rehema")).patients) == 1
        [kept] = clinic.sync_gateway.journal(UNSENT_KEY)
        assert kept["subtype"][0]["code"] == "search"
        assert "Rehema" not in json.dumps(kept)
        refuse[0] = False
        lookup.search(RemoteQuery(name="Mollel"))
        posts = [r for r in sent if r.method == "POST"]
        assert len(posts) == 1 + 2  # the refused one, then it and the new one
        assert clinic.sync_gateway.journal(UNSENT_KEY) is None
