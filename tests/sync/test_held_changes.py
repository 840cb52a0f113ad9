"""Held server changes (issue 15, item 3): the identity rule, and what happens around a hold —
a pending local change on a held resource, a server that undoes its change, a kept version that
the server changed again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.identity import identity_changes, is_identity_change
from sync.fhir_mapper import FhirResourceMapper
from sync.held_changes import ACCEPT_SERVER, KEEP_OURS, resolve_held
from tests.realfhir.plugin import FhirServer
from tests.reliability.identity_changes import move_item, register, rewrite_patient
from tests.sync.devices import DOC, Device, devices_on, server_resource

AMANI = {"given": "Amani", "family": "Ødegård", "birth_date": "1984-03-02", "sex": "female"}


@pytest.mark.parametrize(
    ("change", "held"),
    [
        ({"family": "Odegard"}, False),  # accents and case: no change at all
        ({"family": "Odegaard"}, False),  # a spelling fix
        ({"birth_date": "1984-02-03"}, False),  # a corrected birth date
        ({"sex": "male"}, False),
        ({"family": "Mushi"}, False),  # a married name
        ({"given": "Neema", "birth_date": "1986-05-05"}, True),  # a sibling
        # Both parts of the name: corrections made at two clinics arrive as one version.
        ({"family": "Smith", "given": "John"}, False),
        ({"family": "Smith", "sex": "male"}, True),  # a record reused for someone else
        ({"family": "Smith", "birth_date": "1975-05-05", "sex": "male"}, True),
    ],
)
def test_two_identity_facts_at_once_are_an_identity_change(
    change: dict[str, str], held: bool
) -> None:
    assert is_identity_change(AMANI, {**AMANI, **change}) is held


def test_the_changed_facts_are_named_in_order() -> None:
    after = {**AMANI, "sex": "male", "family": "Smith"}
    assert identity_changes(AMANI, after) == ["family", "sex"]


@pytest.fixture
def device(fhir_server: FhirServer, tmp_path: Path) -> Iterator[Device]:
    with devices_on(fhir_server, tmp_path, "a") as made:
        yield made["a"]


def held_ids(device: Device) -> set[str]:
    return {h["resource_id"] for h in device.clinic.sync_gateway.held_changes()}


def test_a_pending_change_on_a_held_patient_is_not_lost(device: Device) -> None:
    pid = register(device, "Amani", "Ødegård", "1984-03-02", "female")
    device.sync()
    rewrite_patient(
        device, pid, name=[{"family": "Smith", "given": ["John"]}], birthDate="1975-05-05"
    )
    phone = "+255 700 999 000"
    change = {"phone": c.FieldChange(new=phone, expected=None)}
    device.run(c.UpdateDemographics(patient_id=pid, changes=change))
    report = device.sync()
    assert held_ids(device) == {pid}
    assert device.chart(pid).patient.family == "Ødegård"
    assert device.chart(pid).patient.phone == phone  # still here, pending or attention
    assert (report.pending_after, report.needs_attention) == (1, 1)  # the command, the hold
    events = device.clinic.vault.events.stream_version(f"patient-{pid}")
    assert device.sync().pending_after == 1
    assert device.clinic.vault.events.stream_version(f"patient-{pid}") == events  # no re-bases
    (hold,) = device.clinic.sync_gateway.held_changes()
    mapper = FhirResourceMapper(device.clinic.catalog)
    resolve_held(device.clinic.sync_gateway, mapper, hold["id"], ACCEPT_SERVER, DOC)
    assert device.sync().pending_after == 0
    found = server_resource(device.client, "Patient", pid)
    assert found is not None and found.resource["name"][0]["family"] == "Smith"
    assert found.resource["telecom"][0]["value"] == phone


def test_a_server_that_undoes_its_move_releases_the_hold(device: Device) -> None:
    pid = register(device, "Amani", "Ødegård", "1984-03-02", "female")
    other = register(device, "Baraka", "Mwangi", "1990-07-11", "male")
    vitals = device.run(c.RecordVitals(patient_id=pid, heart_rate=72)).item_ids[0]
    device.sync()
    move_item(device, "Observation", vitals, other)
    device.sync()
    assert held_ids(device) == {vitals}
    move_item(device, "Observation", vitals, pid)  # the other system puts it back
    device.sync()
    assert held_ids(device) == set()
    texts = [e.text for e in device.chart(pid).timeline]
    assert any("moved to another patient by the server — needs review" in t for t in texts)


def test_a_kept_version_changed_again_on_the_server_is_sent_back_later(device: Device) -> None:
    pid = register(device, "Amani", "Ødegård", "1984-03-02", "female")
    device.sync()
    rewrite_patient(
        device, pid, name=[{"family": "Smith", "given": ["John"]}], birthDate="1975-05-05"
    )
    device.sync()
    (hold,) = device.clinic.sync_gateway.held_changes()
    mapper = FhirResourceMapper(device.clinic.catalog)
    resolve_held(device.clinic.sync_gateway, mapper, hold["id"], KEEP_OURS, DOC)
    rewrite_patient(device, pid, gender="male")  # the other system again, before our push back
    device.sync()  # push back refused (412); the pull holds the newer version, still kept
    assert [h["state"] for h in device.clinic.sync_gateway.held_changes()] == ["push-back"]
    device.sync()
    assert held_ids(device) == set()
    found = server_resource(device.client, "Patient", pid)
    assert found is not None
    assert found.resource["name"][0]["family"] == "Ødegård"
    assert found.resource["gender"] == "female"
    assert device.chart(pid).patient.family == "Ødegård"
