"""Issue 12: the audit names the patient next to the id, shows admin actions (users,
passphrases, settings: names only, never values) and is read up to date."""

from __future__ import annotations

from app.domain import commands as c
from app.domain.roles import Role
from app.services.clinic import Clinic
from app.store.crypto import FAST_FOR_TESTS
from tests.clinic_fixtures import ADMIN, DESK, DOC, FakeClock, register


def test_audit_entries_carry_the_patients_name(clinic: Clinic) -> None:
    pid = register(clinic, given="Asha", family="Mwangi")
    clinic.queries.chart(pid, DOC)
    clinic.commands.execute(c.AddNote(patient_id=pid, text="seen"), DOC)
    entries = [e for e in clinic.queries.audit() if e.patient_id == pid]
    assert [(e.action, e.patient_name) for e in entries] == [
        ("NoteAdded", "Mwangi, Asha"),
        ("ChartViewed", "Mwangi, Asha"),
        ("PatientRegistered", "Mwangi, Asha"),
    ]


def test_admin_actions_appear_in_the_audit_at_once(clinic: Clinic, clock: FakeClock) -> None:
    clock.advance(minutes=3)
    clinic.vault.add_user("nurse", Role.CLINICIAN, "nurse passphrase", kdf=FAST_FOR_TESTS)
    clinic.vault.disable_user("nurse")
    newest, before = clinic.queries.audit(limit=2)
    assert (before.action, before.subject, before.detail, before.user, before.role) == (
        "UserAdded",
        "nurse",
        "clinician",
        "admin",
        "admin",
    )
    assert (newest.action, newest.subject, newest.patient_id) == ("UserDisabled", "nurse", None)


def test_a_settings_change_is_audited_by_name_never_by_value(clinic: Clinic) -> None:
    clinic.settings.update(ADMIN, auto_lock_minutes=5, auth_mode="bearer", bearer_token="s3cret")
    clinic.settings.update(ADMIN, auto_lock_minutes=5)  # nothing changed: nothing audited
    changes = [e for e in clinic.queries.audit() if e.action == "SettingsChanged"]
    assert [(e.user, e.detail) for e in changes] == [
        ("admin", "auth_mode, bearer_token, auto_lock_minutes")
    ]
    assert all("s3cret" not in str(e) for e in clinic.queries.audit())


def test_the_audit_filters_admin_actions_by_user(clinic: Clinic) -> None:
    register(clinic)
    clinic.vault.add_user("nurse", Role.STAFF, "nurse passphrase", kdf=FAST_FOR_TESTS)
    assert {e.action for e in clinic.queries.audit(user=DESK.user)} == {"PatientRegistered"}
    assert "UserAdded" in {e.action for e in clinic.queries.audit(user="admin")}
