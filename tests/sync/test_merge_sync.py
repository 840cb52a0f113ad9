"""A merge travels as FHIR Patient.link, on the in-memory peer and on the real Medplum: device A
merges two records and pushes both Patients (survivor `replaces`, replaced `replaced-by` and
inactive); device B, which recorded vitals for the replaced record while offline, pulls and sees
one chart with them; after both sync, both devices show B's vitals on the survivor. An undo on B
removes the links and makes the replaced Patient active again, and A follows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from sync.fhir.mapping.patient_link import EXT_MERGE_ID
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, devices_on, server_resource


@pytest.fixture
def devices(fhir_server: FhirServer, tmp_path: Path) -> Iterator[dict[str, Device]]:
    with devices_on(fhir_server, tmp_path, "a", "b") as made:
        yield made


def register(device: Device, family: str) -> str:
    return device.run(
        c.RegisterPatient(given="Neema", family=family, birth_date="1975-03-09", sex="female")
    ).patient_id


def links(device: Device, pid: str) -> tuple[list[tuple[str, str]], object]:
    """(type, merge id) of the server Patient's links, and its `active`."""
    found = server_resource(device.client, "Patient", pid)
    assert found is not None
    resource = found.resource
    return [
        (link["type"], link["extension"][0]["valueString"])
        for link in resource.get("link", [])
        if link.get("extension", [{}])[0].get("url") == EXT_MERGE_ID
    ], resource.get("active")


def test_a_merge_reaches_the_other_device_with_its_offline_vitals_and_an_undo_follows(
    devices: dict[str, Device],
) -> None:
    a, b = devices["a"], devices["b"]
    survivor, replaced = register(a, "Kileo"), register(a, "Kiléo")
    a.sync()
    b.sync()
    # B, offline, takes vitals for the record A is about to merge away.
    b.run(c.RecordVitals(patient_id=replaced, vitals_id=f"v-{replaced[:8]}", heart_rate=72))
    a.run(
        c.MergePatients(
            patient_id=survivor, replaced_patient_id=replaced, merge_id=f"m-{survivor[:8]}",
            reason="registered twice",
        )
    )  # fmt: skip
    a.sync()
    merge_id = f"m-{survivor[:8]}"
    assert links(a, survivor) == ([("replaces", merge_id)], None)
    assert links(a, replaced) == ([("replaced-by", merge_id)], False)

    b.sync()  # pushes B's vitals, pulls the merge
    a.sync()  # pulls B's vitals (the replaced record's: shown on the survivor by the link)
    for device in (a, b):
        chart = device.chart(survivor)
        assert [m.merge_id for m in chart.merges] == [merge_id], device.name
        assert f"v-{replaced[:8]}" in chart.merged_item_ids, device.name
        assert [v for _, v in chart.vitals_series["heart_rate"]] == [72.0], device.name
        assert device.chart(replaced).replaced_by == survivor
        found = [p.patient_id for p in device.clinic.queries.search_patients(survivor)]
        assert found == [survivor]

    b.run(c.UndoMerge(patient_id=survivor, merge_id=merge_id, reason="twins"))
    b.sync()
    assert links(b, survivor) == ([], None)
    assert links(b, replaced) == ([], True)
    a.sync()
    for device in (a, b):
        assert device.chart(survivor).merges == [], device.name
        assert device.chart(replaced).replaced_by is None, device.name
        assert [i.item_id for i in device.chart(replaced).encounters] == []
        assert "heart_rate" in device.chart(replaced).vitals_series
        assert "heart_rate" not in device.chart(survivor).vitals_series
