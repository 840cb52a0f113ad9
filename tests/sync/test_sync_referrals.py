"""Referrals over sync, against the in-memory peer and the real Medplum server: a clinician
refers offline, the referral lands as a ServiceRequest pointing at the server's copies of the
summarised items; the receiving facility (another system writing to the server) completes it
and the chart shows that after the next pull; a cancel made against a status the facility
changed meanwhile needs a person, with both statuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.domain import commands as c
from sync.fhir.client import FhirClient
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import Device, clinical_view, devices_on, server_resource
from tests.sync.mapping_builders import validate


@pytest.fixture
def devices(fhir_server: FhirServer, tmp_path: Path) -> Iterator[dict[str, Device]]:
    with devices_on(fhir_server, tmp_path, "a", "b") as made:
        yield made


def referred_offline(a: Device) -> tuple[str, str]:
    """A patient with a problem and vitals, referred with both in the summary, nothing synced
    yet; (patient id, referral id)."""
    pid = a.run(
        c.RegisterPatient(given="Rehema", family="Kombo", birth_date="1958-05-14", sex="female")
    ).patient_id
    a.run(c.RecordDiagnosis(patient_id=pid, diagnosis_id=f"dx-{pid[:8]}", code="I10"))
    a.run(c.RecordVitals(patient_id=pid, vitals_id=f"vs-{pid[:8]}", systolic=186, diastolic=114))
    referral = a.run(
        c.ReferPatient(
            patient_id=pid,
            to_facility="Tanga Regional Referral Hospital",
            reason="Hypertensive urgency",
            urgency="urgent",
            summary_item_ids=(f"dx-{pid[:8]}", f"vs-{pid[:8]}"),
            note="Reply letter please",
        )
    ).item_ids[0]
    return pid, referral


def facility_sets_status(client: FhirClient, referral_id: str, status: str, note: str) -> None:
    """The receiving facility's system updates the ServiceRequest at the server's id."""
    found = server_resource(client, "ServiceRequest", referral_id)
    assert found is not None
    theirs: dict[str, Any] = dict(found.resource)
    theirs.pop("meta", None)
    theirs["status"] = status
    theirs["note"] = [*theirs.get("note", []), {"text": note}]
    client.put("ServiceRequest", theirs["id"], theirs, if_match_version=found.version_id)


def test_a_referral_lands_and_the_facilitys_completion_comes_back(
    devices: dict[str, Device],
) -> None:
    a, b = devices["a"], devices["b"]
    pid, referral = referred_offline(a)
    report = a.sync()
    assert (report.pending_after, report.needs_attention) == (0, 0)

    found = server_resource(a.client, "ServiceRequest", referral)
    assert found is not None
    sent = found.resource
    validate(sent)
    assert (sent["status"], sent["intent"], sent["priority"]) == ("active", "order", "urgent")
    assert sent["performer"] == [{"display": "Tanga Regional Referral Hospital"}]
    condition = server_resource(a.client, "Condition", f"dx-{pid[:8]}")
    assert condition is not None
    # The summary's references name the server's own copies (its ids, not ours).
    assert {"reference": f"Condition/{condition.resource['id']}"} in sent["supportingInfo"]
    assert sent["subject"]["reference"].startswith("Patient/")

    facility_sets_status(a.client, referral, "completed", "Seen; started losartan 50 mg")
    a.sync()
    b.sync()
    for device in (a, b):
        (shown,) = device.chart(pid).referrals
        assert (shown.item_id, shown.status) == (referral, "completed")
        assert shown.data["status_changed_at"]
        assert shown.data["facility_notes"] == ["Seen; started losartan 50 mg"]
        assert [e["kind"] for e in shown.data["summary"]] == ["diagnosis", "vitals"]
    assert clinical_view(a.chart(pid)) == clinical_view(b.chart(pid))


def test_a_cancel_against_the_facilitys_completion_needs_a_person(
    devices: dict[str, Device],
) -> None:
    a, b = devices["a"], devices["b"]
    pid, referral = referred_offline(a)
    a.sync()
    b.sync()
    facility_sets_status(a.client, referral, "completed", "Done")
    b.run(
        c.CancelReferral(
            patient_id=pid, referral_id=referral, reason="Obsolete", expected_status="active"
        )
    )
    report = b.sync()
    assert report.needs_attention == 1
    [item] = b.clinic.queries.sync_overview().attention
    assert item.command_type == "CancelReferral"
    assert item.detail is not None
    assert (item.detail["field"], item.detail["mine"], item.detail["servers"]) == (
        "status",
        "revoked",
        "completed",
    )
    (shown,) = b.chart(pid).referrals
    assert shown.status == "completed"  # the server's status is what the chart shows
    found = server_resource(b.client, "ServiceRequest", referral)
    assert found is not None and found.resource["status"] == "completed"


def test_a_cancel_reaches_the_server_as_revoked_with_its_reason(
    devices: dict[str, Device],
) -> None:
    a, b = devices["a"], devices["b"]
    pid, referral = referred_offline(a)
    a.sync()
    a.run(
        c.CancelReferral(
            patient_id=pid, referral_id=referral, reason="Seen by a visiting specialist",
            expected_status="active",
        )
    )  # fmt: skip
    assert a.sync().pending_after == 0
    found = server_resource(a.client, "ServiceRequest", referral)
    assert found is not None
    validate(found.resource)
    assert found.resource["status"] == "revoked"
    b.sync()
    (shown,) = b.chart(pid).referrals
    assert shown.status == "revoked"
    assert shown.data["status_reason"] == "Seen by a visiting specialist"
