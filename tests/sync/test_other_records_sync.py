"""Records other systems wrote about a patient (issue 16, part 5), on both test servers: after a
sync every well-formed one of the seeded foreign set shows in the chart, the quarantine holds
exactly the malformed ones, an update on the server replaces the record, an entered-in-error
one is flagged, and none is ever changed or pushed from here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.errors import DomainError
from sync.scope import SyncScope
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import DOC, Device, devices_on, server_resource
from tests.sync.foreign_seed import ForeignSet, seed_foreign, shown_items
from tests.sync.pull_fixtures import Received, add_facility, new_device, tag
from tests.sync.test_pull_scope import refuse_chaining

BAD_BASE64 = "a document whose attachment is not base64"


@pytest.fixture
def device(fhir_server: FhirServer, tmp_path: Path) -> Iterator[Device]:
    with devices_on(fhir_server, tmp_path, "a") as made:
        yield made["a"]


def registered(device: Device) -> tuple[str, str]:
    """(our id, server id) of a patient registered here and pushed."""
    pid = device.run(
        c.RegisterPatient(given="Neema", family="Mushi", birth_date="1990-05-01", sex="female")
    ).patient_id
    device.sync()
    copy = server_resource(device.client, "Patient", pid)
    assert copy is not None
    return pid, str(copy.resource["id"])


def quarantined_of(device: Device, seeded: ForeignSet) -> set[str]:
    """The seeded resources in quarantine (a shared server may bring others' too)."""
    ours = set(seeded.shown) | set(seeded.malformed)
    rows = device.clinic.sync_gateway.quarantined(10_000)
    return {str(r["resource_id"]) for r in rows} & ours


def test_every_well_formed_foreign_record_shows_and_only_malformed_ones_are_quarantined(
    device: Device, fhir_server: FhirServer
) -> None:
    pid, server_pid = registered(device)
    before_pull = device.clock()
    seeded = seed_foreign(device.client, server_pid)
    assert len(seeded.shown) == 8
    # The peer stores anything; the real Medplum refuses bad base64 itself.
    assert seeded.refused == ([] if fhir_server.isolated else [BAD_BASE64])
    assert len(seeded.malformed) == 4 - len(seeded.refused)

    device.sync()

    view = device.chart(pid)
    shown = {i.item_id: i for i in shown_items(view)}
    assert set(seeded.shown) <= set(shown)
    for server_id, text in seeded.shown.items():
        item = shown[server_id]
        assert text.lower() in repr(item.data).lower(), (text, item.kind)
    assert quarantined_of(device, seeded) == set(seeded.malformed)
    # The timeline says what each one is, and where it came from.
    others = [i for i in view.other_records if i.item_id in seeded.shown]
    lines = {e.item_id: e.text for e in view.timeline if e.kind == "other"}
    for item in others:
        assert lines[item.item_id].startswith(f"{item.data['label']} from ")
    # "As of" before the pull: the chart did not have them yet.
    earlier = device.clinic.queries.chart(pid, DOC, as_of=before_pull, record_view=False)
    assert not {i.item_id for i in shown_items(earlier)} & set(seeded.shown)
    # Read-only here, and never pushed.
    if others:
        with pytest.raises(DomainError, match="read-only here"):
            device.run(c.MarkEnteredInError(patient_id=pid, item_id=others[0].item_id, reason="x"))
    assert device.sync().pushed == 0
    assert device.clinic.queries.sync_overview().pending == 0


def test_a_server_update_replaces_an_other_record_and_entered_in_error_is_flagged(
    device: Device,
) -> None:
    pid, server_pid = registered(device)
    seeded = seed_foreign(device.client, server_pid)
    device.sync()
    by_text = {text: server_id for server_id, text in seeded.shown.items()}
    procedure = device.client.read("Procedure", by_text["Appendectomy"])
    statement = device.client.read("MedicationStatement", by_text["Ferrous sulfate"])
    assert procedure is not None and statement is not None
    device.client.put(
        "Procedure",
        procedure.resource["id"],
        {**procedure.resource, "status": "entered-in-error"},
        procedure.version_id,
    )
    device.client.put(
        "MedicationStatement",
        statement.resource["id"],
        {**statement.resource, "dosage": [{"text": "2 tablets daily"}]},
        statement.version_id,
    )

    device.sync()

    found = {i.item_id: i for i in shown_items(device.chart(pid))}
    assert found[by_text["Appendectomy"]].entered_in_error
    changed = found[by_text["Ferrous sulfate"]]
    assert changed.data["value"] == "2 tablets daily" and not changed.entered_in_error


@pytest.mark.parametrize("mode", ["chained", "patient-list", "group"])
def test_every_scope_strategy_pulls_other_systems_records_of_its_patients_only(
    fhir_server: FhirServer, tmp_path: Path, mode: str
) -> None:
    with fhir_server.client() as client:
        here, there = add_facility(client, 2, f"A{tag()}"), add_facility(client, 1, f"B{tag()}")
        ours = seed_foreign(client, here.patients[0])
        seed_foreign(client, there.patients[0])
        if mode == "group":
            group = client.create(
                "Group",
                {
                    "resourceType": "Group",
                    "type": "person",
                    "actual": True,
                    "member": [{"entity": {"reference": f"Patient/{here.patients[0]}"}}],
                },
            ).resource
    scope = (
        SyncScope(group=f"Group/{group['id']}")
        if mode == "group"
        else SyncScope(organization=here.organization)
    )
    with new_device(fhir_server, tmp_path, "s", scope) as device:
        if mode == "patient-list":
            device.transport.before = refuse_chaining
        received = Received(device)
        device.sync()
        assert received.referring_to(there.patients) == []
        local = device.clinic.sync_gateway.local_id("Patient", here.patients[0])
        assert local is not None
        shown = {i.item_id for i in shown_items(device.chart(local))}
        assert set(ours.shown) <= shown
