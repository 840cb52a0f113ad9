"""What the retention rules read of a patient on the device: server id, open encounter, last
activity, and what holds them (the removal itself: tests/store/test_purge.py)."""

from __future__ import annotations

from app.domain import commands as c
from app.services.clinic import Clinic
from app.services.retention import RetentionService
from app.store.purge import HOLD_PENDING
from tests.clinic_fixtures import DOC, FakeClock, register


def service(clinic: Clinic) -> RetentionService:
    return RetentionService(clinic.vault, clinic.runner, clinic.clock)


def test_local_patients_have_no_server_id_until_synced(clinic: Clinic) -> None:
    pid = register(clinic)
    assert service(clinic).local_patients() == {pid: None}


def test_an_open_encounter_and_the_last_activity(clinic: Clinic, clock: FakeClock) -> None:
    pid = register(clinic)
    registered_at = clock()
    assert service(clinic).last_activity(pid) == registered_at
    assert not service(clinic).has_open_encounter(pid)
    clock.advance(days=3)
    encounter = clinic.commands.execute(c.StartEncounter(patient_id=pid), DOC).item_ids[0]
    assert service(clinic).has_open_encounter(pid)
    assert service(clinic).last_activity(pid) == clock()
    clock.advance(hours=2)
    clinic.commands.execute(c.FinishEncounter(patient_id=pid, encounter_id=encounter), DOC)
    assert not service(clinic).has_open_encounter(pid)
    assert service(clinic).last_activity(pid) == clock()
    assert service(clinic).last_activity("no-such-patient") is None


def test_a_new_registration_holds_its_patient(clinic: Clinic) -> None:
    pid = register(clinic)
    other = "another-patient"
    assert service(clinic).holds([pid, other]) == {pid: [HOLD_PENDING], other: []}
    outcome = service(clinic).remove([])
    assert (outcome.removed, outcome.kept, outcome.purge_ids) == ((), (), ())
