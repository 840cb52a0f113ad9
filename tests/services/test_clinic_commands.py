"""ClinicCommands.execute: the one way anything gets recorded. Accepted commands are durable
with their outbox row; refused ones leave no trace; a retried command is recorded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.errors import (
    DoubleBookingError,
    NotFoundError,
    PreconditionError,
    RoleError,
    ValidationError,
)
from app.domain.rebase import ConflictDetail
from app.services.clinic import Clinic, open_clinic
from app.services.dto import Changes
from app.store.vault import Vault
from tests.clinic_fixtures import (
    ADMIN,
    CATALOG,
    DESK,
    DOC,
    PASSPHRASES,
    FakeClock,
    add_clinician,
    prescription,
    register,
    registration,
    snapshot,
)


def test_registering_reports_what_changed(clinic: Clinic) -> None:
    changes = clinic.commands.execute(registration(command_id="cmd-1"), DESK)
    assert changes.command_id == "cmd-1"
    assert changes.command_type == "RegisterPatient"
    assert changes.events == ["PatientRegistered"]
    assert changes.patient_id  # generated
    assert changes.areas == ["audit", "chart", "patients"]
    assert changes.duplicate is False
    assert clinic.queries.patient(changes.patient_id) is not None


def test_client_chosen_patient_id_is_kept_and_checked(clinic: Clinic) -> None:
    assert register(clinic, patient_id="pat-0001") == "pat-0001"
    with pytest.raises(ValidationError) as info:
        register(clinic, patient_id="pat 2")
    assert info.value.field == "patient_id"
    with pytest.raises(ValidationError) as info:
        register(clinic, patient_id="pat-0001", given="Other")
    assert info.value.message == "A patient with this id is already registered"


def test_a_command_id_is_generated_when_missing(clinic: Clinic) -> None:
    pid = register(clinic)
    first = clinic.commands.execute(c.AddNote(patient_id=pid, text="a"), DOC)
    second = clinic.commands.execute(c.AddNote(patient_id=pid, text="a"), DOC)
    assert first.command_id != second.command_id
    assert first.item_ids != second.item_ids


def test_the_same_command_twice_is_recorded_once(clinic: Clinic) -> None:
    pid = register(clinic)
    note = c.AddNote(patient_id=pid, text="Advised rest", command_id="retry-me")
    first = clinic.commands.execute(note, DOC)
    head = clinic.vault.events.head_position()
    again = clinic.commands.execute(note, DOC)
    assert again.duplicate is True
    assert (again.command_id, again.item_ids) == (first.command_id, first.item_ids)
    assert clinic.vault.events.head_position() == head
    assert len(clinic.queries.chart(pid, DOC, record_view=False).notes) == 1
    assert clinic.queries.sync_overview().pending == 2  # registration + note


def test_a_retried_registration_does_not_create_a_second_patient(clinic: Clinic) -> None:
    first = clinic.commands.execute(registration(command_id="reg-1"), DESK)
    again = clinic.commands.execute(registration(command_id="reg-1"), DESK)
    assert again.duplicate and again.patient_id == first.patient_id
    assert clinic.queries.patient_count() == 1


def test_each_accepted_command_is_pending_in_the_outbox(clinic: Clinic) -> None:
    assert clinic.queries.sync_overview().pending == 0
    pid = register(clinic)
    clinic.commands.execute(c.RecordVitals(patient_id=pid, heart_rate=72), DOC)
    overview = clinic.queries.sync_overview()
    assert (overview.pending, overview.synced, overview.needs_attention) == (2, 0, 0)
    assert overview.attention == []


def test_a_refused_command_leaves_no_trace(clinic: Clinic) -> None:
    pid = register(clinic)
    before = snapshot(clinic)
    with pytest.raises(ValidationError):
        clinic.commands.execute(c.RecordVitals(patient_id=pid, systolic=400, diastolic=80), DOC)
    with pytest.raises(NotFoundError):
        clinic.commands.execute(c.AddNote(patient_id="nobody", text="x"), DOC)
    with pytest.raises(RoleError):
        clinic.commands.execute(c.AddNote(patient_id=pid, text="x"), DESK)
    assert snapshot(clinic) == before


def test_a_refused_command_id_can_be_used_again_once_fixed(clinic: Clinic) -> None:
    pid = register(clinic)
    bad = c.RecordVitals(patient_id=pid, heart_rate=7, command_id="vitals-1")
    with pytest.raises(ValidationError):
        clinic.commands.execute(bad, DOC)
    fixed = c.RecordVitals(patient_id=pid, heart_rate=70, command_id="vitals-1")
    assert clinic.commands.execute(fixed, DOC).duplicate is False


def test_admins_record_nothing_clinical_and_open_no_charts(clinic: Clinic) -> None:
    pid = register(clinic)
    with pytest.raises(RoleError):
        clinic.commands.execute(c.RecordVitals(patient_id=pid, heart_rate=70), ADMIN)
    with pytest.raises(RoleError):
        clinic.commands.execute(registration(), ADMIN)
    with pytest.raises(RoleError) as info:
        clinic.queries.chart(pid, ADMIN)
    assert info.value.message == ("Admins manage users, devices and sync; they do not open charts")


def test_warnings_reach_the_caller(clinic: Clinic) -> None:
    pid = register(clinic)
    rx = prescription(pid, "paracetamol", dose=1, dose_unit="g", frequency="QID")
    assert clinic.commands.execute(rx, DOC).warnings == []
    assert clinic.commands.execute(rx, DOC).warnings == [
        "Paracetamol is already prescribed and active (duplicate prescription)"
    ]


def test_item_ids_name_the_changed_item_not_its_references(clinic: Clinic) -> None:
    pid = register(clinic)
    enc = clinic.commands.execute(c.StartEncounter(patient_id=pid, encounter_id="enc-1"), DOC)
    assert enc.item_ids == ["enc-1"]
    rx = prescription(pid, "amoxicillin", prescription_id="rx-1", encounter_id="enc-1")
    assert clinic.commands.execute(rx, DOC).item_ids == ["rx-1"]
    mark = c.MarkEnteredInError(patient_id=pid, item_id="rx-1", reason="wrong dose")
    assert clinic.commands.execute(mark, DOC).item_ids == ["rx-1"]


def test_an_item_id_used_on_another_chart_is_refused_plainly(clinic: Clinic) -> None:
    first, second = register(clinic), register(clinic, given="Baraka")
    clinic.commands.execute(c.AddNote(patient_id=first, note_id="note-1", text="a"), DOC)
    with pytest.raises(ValidationError) as info:
        clinic.commands.execute(c.AddNote(patient_id=second, note_id="note-1", text="b"), DOC)
    assert (info.value.message, info.value.field) == (
        "This id is already used by an item on another patient's chart; choose another",
        "note_id",
    )


def test_double_booking_is_checked_across_patients(clinic: Clinic) -> None:
    first, second = register(clinic), register(clinic, given="Baraka")
    slot = {"clinician": "doc", "start": "2026-11-24T10:00:00+03:00", "duration_minutes": 30}
    clinic.commands.execute(c.ScheduleFollowUp(patient_id=first, **slot), DESK)  # type: ignore[arg-type]
    overlapping = c.ScheduleFollowUp(
        patient_id=second,
        clinician="doc",
        start="2026-11-24T07:15:00Z",  # 10:15 at +03:00
    )
    with pytest.raises(DoubleBookingError):
        clinic.commands.execute(overlapping, DESK)
    add_clinician(clinic, "nurse")
    other_clinician = c.ScheduleFollowUp(
        patient_id=second, clinician="nurse", start="2026-11-24T07:15:00Z"
    )
    assert clinic.commands.execute(other_clinician, DESK).events == ["AppointmentScheduled"]


def test_two_open_clinics_on_one_vault_see_each_others_edits(
    tmp_path: Path, clinic: Clinic
) -> None:
    pid = register(clinic)
    vault = Vault.open(clinic.vault.data_dir)
    vault.unlock("desk", PASSPHRASES["desk"])
    other = open_clinic(vault, clock=FakeClock(), catalog=CATALOG)
    try:
        edit = c.UpdateDemographics(
            patient_id=pid, changes={"phone": c.FieldChange("0754 000 111", "+255 754 123 456")}
        )
        other.commands.execute(edit, DESK)
        # The first clinic's cached chart must not hide the other's edit.
        with pytest.raises(PreconditionError) as info:
            clinic.commands.execute(edit, DESK)
        assert info.value.message == "Phone was changed by someone else since you opened the chart"
        again = c.UpdateDemographics(
            patient_id=pid, changes={"phone": c.FieldChange("0766 1234", "0754 000 111")}
        )
        clinic.commands.execute(again, DESK)
    finally:
        other.close()
    assert clinic.queries.chart(pid, DOC, record_view=False).patient.phone == "0766 1234"


def test_commands_survive_locking_and_reopening(clinic: Clinic) -> None:
    pid = register(clinic)
    clinic.commands.execute(c.RecordVitals(patient_id=pid, heart_rate=72), DOC)
    digest = clinic.queries.digest()
    data_dir = clinic.vault.data_dir
    clinic.close()
    vault = Vault.open(data_dir)
    vault.unlock("doc", PASSPHRASES["doc"])
    reopened = open_clinic(vault, clock=FakeClock(), catalog=CATALOG)
    try:
        assert reopened.queries.digest() == digest
        view = reopened.queries.chart(pid, DOC, record_view=False)
        assert view.last_vitals is not None
        assert view.last_vitals.data["measurements"] == {"heart_rate": 72}
    finally:
        reopened.close()


def test_a_sync_conflict_is_settled_once_by_a_person(clinic: Clinic, clock: FakeClock) -> None:
    pid, other = register(clinic), register(clinic, given="Baraka")
    edit = c.UpdateDemographics(
        patient_id=pid,
        command_id="cmd-phone",
        changes={"phone": c.FieldChange("0754 000 111", "+255 754 123 456")},
    )
    clinic.commands.execute(edit, DESK)
    gateway = clinic.sync_gateway
    gateway.mark_attention(
        "cmd-phone", "the server has another phone", ConflictDetail("phone", None, None)
    )
    overview = clinic.queries.sync_overview()
    assert (overview.pending, overview.needs_attention) == (2, 1)
    assert [(a.command_id, a.patient_id) for a in overview.attention] == [("cmd-phone", pid)]

    def settle(patient_id: str, conflict: str) -> Changes:
        return clinic.commands.execute(
            c.ResolveSyncConflict(
                patient_id=patient_id, conflict_command_id=conflict, resolution="take-servers"
            ),
            DESK,
        )

    with pytest.raises(NotFoundError) as info:
        settle(pid, "cmd-unknown")
    assert (info.value.message, info.value.field) == (
        "There is no open sync conflict with this id",
        "conflict_command_id",
    )
    with pytest.raises(NotFoundError) as info:
        settle(other, "cmd-phone")
    assert (info.value.message, info.value.field) == (
        "That sync conflict belongs to another patient",
        "patient_id",
    )
    assert settle(pid, "cmd-phone").events == ["SyncConflictResolved"]
    assert clinic.queries.sync_overview().needs_attention == 0
    with pytest.raises(NotFoundError):
        settle(pid, "cmd-phone")
