"""A declined hypertension protocol suggestion reaches the server and the other devices, on
both test servers: DeclineProtocolSuggestion records an event no FHIR resource stands for
(ProtocolSuggestionDeclined: it stays in this device's log) and a progress note, which is
pushed as a DocumentReference like any note. The command pushes cleanly: nothing pending,
nothing needing attention."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from app.services.protocol_queries import ProtocolQueries
from tests.realfhir.plugin import FhirServer
from tests.sync.devices import DOC, Device, devices_on, server_resource


@pytest.fixture
def devices(fhir_server: FhirServer, tmp_path: Path) -> Iterator[dict[str, Device]]:
    with devices_on(fhir_server, tmp_path, "a", "b") as made:
        yield made


def test_a_declined_suggestion_syncs_as_a_note(devices: dict[str, Device]) -> None:
    a, b = devices["a"], devices["b"]
    pid = a.run(
        c.RegisterPatient(given="Baraka", family="Mollel", birth_date="1961-05-04", sex="male")
    ).patient_id
    a.run(c.RecordDiagnosis(patient_id=pid, code="I10"))
    vitals_id = a.run(c.RecordVitals(patient_id=pid, systolic=158, diastolic=96)).item_ids[0]
    suggestion = ProtocolQueries.of(a.clinic).advice(pid, DOC).suggestion
    assert suggestion is not None and str(suggestion.summary) == "Start amlodipine 5 mg once daily"
    a.sync()
    b.sync()

    changes = a.run(
        c.DeclineProtocolSuggestion(
            patient_id=pid,
            vitals_id=vitals_id,
            suggestion=str(suggestion.summary),
            reason="Patient already buys amlodipine privately; checking the pack",
        )
    )
    note_id = changes.item_ids[-1]
    report = a.sync()
    assert (report.pending_after, report.needs_attention) == (0, 0)
    overview = a.clinic.queries.sync_overview()
    assert (overview.pending, overview.needs_attention) == (0, 0)

    on_server = server_resource(a.client, "DocumentReference", note_id)
    assert on_server is not None
    (content,) = on_server.resource["content"]
    text = base64.b64decode(content["attachment"]["data"]).decode("utf-8")
    assert text == (
        "Hypertension protocol suggestion declined: Start amlodipine 5 mg once daily. "
        "Reason: Patient already buys amlodipine privately; checking the pack"
    )

    b.sync()
    assert [n.data["text"] for n in b.chart(pid).notes] == [text]
    declined_here = ProtocolQueries.of(a.clinic).advice(pid, DOC).suggestion
    assert declined_here is not None and declined_here.declined_reason is not None
    # The decline event is this device's; another device reads the note, not the decline.
    elsewhere = ProtocolQueries.of(b.clinic).advice(pid, DOC).suggestion
    assert elsewhere is not None and elsewhere.summary == suggestion.summary
    assert elsewhere.declined_reason is None
