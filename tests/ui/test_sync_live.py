"""The sync panel on the real background worker and the real FHIR peer: a conflict made on
two devices appears with both values, and "Keep mine" settles it everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.services.sync_status import SyncState
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from sync.clinic_sync import engine_for
from sync.fhir.client import FhirClient
from tests.peer.harness import PeerServer
from tests.sync.devices import make_device
from tests.ui.conftest import ADMIN, ADMIN_PASS, CLINICIAN, CLINICIAN_PASS, open_as
from tests.ui.helpers import cell

pytestmark = pytest.mark.peer
TIMEOUT = 20_000
ORIGINAL, MINE, THEIRS = "+255 700 100 100", "+255 711 100 100", "+255 722 100 100"


def test_a_conflict_is_shown_and_kept_from_the_sync_panel(
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
    pid = here.commands.execute(
        c.RegisterPatient(
            given="Rehema",
            family="Mollel",
            birth_date="1988-08-08",
            sex="female",
            phone=ORIGINAL,
        ),
        doc,
    ).patient_id
    with FhirClient(fhir_peer.base_url) as client:
        engine_for(here, client).run_cycle()
    other = make_device(tmp_path, "other", fhir_peer.base_url)
    other.sync()
    here.commands.execute(
        c.UpdateDemographics(
            patient_id=pid, changes={"phone": c.FieldChange(new=MINE, expected=ORIGINAL)}
        ),
        doc,
    )
    here.close()
    other.run(
        c.UpdateDemographics(
            patient_id=pid, changes={"phone": c.FieldChange(new=THEIRS, expected=ORIGINAL)}
        ),
        Actor("doc", Role.CLINICIAN),
    )
    other.sync()

    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)  # the worker starts now
    panel = window.sync_panel
    # The conflict shows as soon as rebase finds it, while the cycle still pulls: wait for both.
    qtbot.waitUntil(
        lambda: panel.table.rowCount() == 1 and panel.bridge.status.state is SyncState.IDLE,
        timeout=TIMEOUT,
    )
    cells = [cell(panel.table, 0, col) for col in range(4)]
    assert cells == ["UpdateDemographics", "phone", MINE, THEIRS]

    panel.table.selectRow(0)
    assert panel.keep_button.isEnabled()
    panel.keep_button.click()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 0, timeout=TIMEOUT)
    qtbot.waitUntil(
        lambda: panel.bridge.status.pending == 0 and panel.bridge.status.state is SyncState.IDLE,
        timeout=TIMEOUT,
    )

    other.sync()
    assert other.clinic.queries.patient(pid).phone == MINE  # type: ignore[union-attr]
    other.client.close()
    other.clinic.close()
