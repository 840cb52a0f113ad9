"""A server that rewrites who a patient is (issue 15, item 3): the sync panel lists the held
change with both versions, the chart keeps the last accepted identity, and a person accepts
the server's version with a click, after which the chart shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.services.sync_status import SyncState
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from tests.peer.harness import PeerServer
from tests.sync.devices import server_resource
from tests.ui.conftest import ADMIN, ADMIN_PASS, CLINICIAN, CLINICIAN_PASS, open_as
from tests.ui.helpers import cell

pytestmark = pytest.mark.peer
TIMEOUT = 20_000
OURS = "Rehema Mollel, born 1988-08-08, female"
THEIRS = "John Smith, born 1975-05-05, male"


def test_an_identity_rewrite_is_held_shown_with_both_versions_and_accepted(
    qtbot: QtBot,
    controller: AppController,
    seeded: Backend,
    fhir_peer: PeerServer,
    tmp_path: Path,
) -> None:
    admin = seeded.unlock(ADMIN, ADMIN_PASS)
    admin.settings.update(admin.vault.actor, server_url=fhir_peer.base_url)
    admin.close()
    here = seeded.unlock(CLINICIAN, CLINICIAN_PASS)
    doc = here.vault.actor
    register = c.RegisterPatient(
        given="Rehema", family="Mollel", birth_date="1988-08-08", sex="female"
    )
    pid = here.commands.execute(register, doc).patient_id
    here.commands.execute(c.RecordAllergy(patient_id=pid, substance="penicillin"), doc)
    with FhirClient(fhir_peer.base_url) as client:
        engine_for(here, client).run_cycle()
        # Another system rewrites the Patient into someone else.
        found = server_resource(client, "Patient", pid)
        assert found is not None
        body = {
            **found.resource,
            "name": [{"family": "Smith", "given": ["John"]}],
            "birthDate": "1975-05-05",
            "gender": "male",
        }
        client.put("Patient", body["id"], body, found.version_id)
    here.close()

    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)  # the worker starts now
    panel = window.sync_panel
    qtbot.waitUntil(
        lambda: panel.table.rowCount() == 1 and panel.bridge.status.state is SyncState.IDLE,
        timeout=TIMEOUT,
    )
    assert [cell(panel.table, 0, col) for col in range(4)] == [
        "Identity change",
        "family name, given names, birth date, sex",
        OURS,
        THEIRS,
    ]
    session = window.session
    assert session.clinic.queries.patient(pid).family == "Mollel"  # type: ignore[union-attr]

    panel.table.selectRow(0)
    assert panel.take_button.isEnabled() and panel.keep_button.isEnabled()
    assert not panel.edit_button.isEnabled()
    assert OURS in panel.details.text() and THEIRS in panel.details.text()
    panel.resize(1100, 620)
    shot = tmp_path / "held-identity-change.png"
    assert panel.grab().toImage().save(str(shot))

    panel.take_button.click()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 0, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: panel.bridge.status.state is SyncState.IDLE, timeout=TIMEOUT)
    patient = session.clinic.queries.patient(pid)
    assert patient is not None and (patient.given, patient.family) == ("John", "Smith")
    chart = session.clinic.queries.chart(pid, doc, record_view=False)
    texts = [e.text for e in chart.timeline]
    assert any("change of who this patient is was accepted" in t for t in texts)
    assert chart.allergy_banner  # the allergy stays with the chart the person accepted
