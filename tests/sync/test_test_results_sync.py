"""Point-of-care test results across devices, on both test servers: a result recorded offline
reaches another device with its abnormal flag, and its entered-in-error mark follows; a district
lab's Observation of a bundled test, written straight to the server, shows in the results list
(and a numeric one in its plot series)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, devices_on, server_resource

LOINC = "http://loinc.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


@pytest.fixture
def devices(fhir_server: FhirServer, tmp_path: Path) -> Iterator[dict[str, Device]]:
    with devices_on(fhir_server, tmp_path, "a", "b") as made:
        yield made


def results_of(device: Device, pid: str) -> dict[str, dict[str, object]]:
    return {i.item_id: i.data for i in device.chart(pid).test_results}


def test_a_result_recorded_offline_reaches_another_device_and_so_does_its_correction(
    devices: dict[str, Device],
) -> None:
    a, b = devices["a"], devices["b"]
    # Fresh ids: the real server keeps every earlier run's resources.
    rdt_id, hb_id = (f"{kind}-{uuid.uuid4().hex[:12]}" for kind in ("rdt", "hb"))
    pid = a.run(
        c.RegisterPatient(given="Neema", family="Mushi", birth_date="1994-02-11", sex="female")
    ).patient_id
    a.run(c.RecordTestResult(patient_id=pid, result_id=rdt_id, test="malaria_rdt_pf",
                             result="positive"))  # fmt: skip
    a.run(c.RecordTestResult(patient_id=pid, result_id=hb_id, test="haemoglobin", value=9.1))
    assert set(results_of(a, pid)) == {rdt_id, hb_id}  # offline: nothing pushed yet

    a.sync()
    b.sync()
    seen = results_of(b, pid)
    assert seen[rdt_id]["result"] == "positive" and seen[rdt_id]["abnormal"] is True
    assert (seen[hb_id]["value"], seen[hb_id]["interpretation"]) == (9.1, "L")
    assert b.chart(pid).results_series["haemoglobin"][0][1] == 9.1
    assert server_resource(a.client, "Observation", rdt_id) is not None

    a.run(c.MarkEnteredInError(patient_id=pid, item_id=rdt_id, reason="wrong patient"))
    a.sync()
    b.sync()
    assert set(results_of(b, pid)) == {hb_id}


def test_a_district_labs_result_of_a_bundled_test_shows_in_the_results_list(
    devices: dict[str, Device],
) -> None:
    a = devices["a"]
    pid = a.run(
        c.RegisterPatient(given="Juma", family="Said", birth_date="1970-07-01", sex="male")
    ).patient_id
    a.sync()
    patient = server_resource(a.client, "Patient", pid)
    assert patient is not None
    subject = {"reference": f"Patient/{patient.resource['id']}"}
    lab = {"resourceType": "Observation", "status": "final", "subject": subject,
           "effectiveDateTime": "2026-11-28T09:30:00+03:00",
           "performer": [{"display": "Mkoani District Laboratory"}]}  # fmt: skip
    hb = a.client.create("Observation", {
        **lab,
        "code": {"coding": [{"system": LOINC, "code": "718-7"}], "text": "Haemoglobin"},
        "valueQuantity": {"value": 10.4, "system": "http://unitsofmeasure.org", "code": "g/dL"},
        "interpretation": [{"coding": [{"system": INTERPRETATION, "code": "L"}]}],
    })  # fmt: skip
    rdt = a.client.create("Observation", {
        **lab,
        "code": {"coding": [{"system": LOINC, "code": "70569-9"}]},
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                             "code": "260385009"}]},
    })  # fmt: skip

    a.sync()
    shown = results_of(a, pid)
    hb_data, rdt_data = shown[str(hb.resource["id"])], shown[str(rdt.resource["id"])]
    assert (hb_data["test"], hb_data["value"], hb_data["abnormal"]) == ("haemoglobin", 10.4, True)
    assert (rdt_data["test"], rdt_data["result"]) == ("malaria_rdt_pan", "negative")
    assert rdt_data["source"] == "Mkoani District Laboratory"
    assert [v for _, v in a.chart(pid).results_series["haemoglobin"]] == [10.4]
    assert not a.chart(pid).other_records  # read as results, not as "other" records
    texts = [e.text for e in a.chart(pid).timeline]
    assert "Test from the server: Haemoglobin 10.4 g/dL — abnormal (final)" in texts
