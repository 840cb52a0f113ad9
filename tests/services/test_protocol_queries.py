"""The hypertension protocol through the services: the suggestion is read from the chart
fold commands decide on; declining it needs a reason, is recorded with a progress note (so
it reaches the server) and marks the suggestion for that reading as declined; IT's protocol
file in the data directory replaces the bundled one, and an unusable file gives a plain
message instead of a suggestion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.errors import AlreadyDoneError, NotFoundError, RoleError, ValidationError
from app.services.clinic import Clinic
from app.services.protocol_queries import ProtocolQueries
from app.store.protocol_data import LOCAL_PROTOCOL_FILE, bundled_text
from app.store.reference_data import bundled_catalog
from tests.clinic_fixtures import ADMIN, DESK, DOC, FakeClock, clinic_in, registration

PID = "pat-htn"


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    with clinic_in(tmp_path / "vault", FakeClock(), catalog=bundled_catalog()) as opened:
        for command in (
            registration(patient_id=PID, sex="male", birth_date="1958-02-01"),
            c.RecordDiagnosis(patient_id=PID, diagnosis_id="dx-1", code="I10"),
            c.PrescribeMedication(
                patient_id=PID, prescription_id="rx-aml", drug="amlodipine", dose=5,
                dose_unit="mg", route="oral", frequency="QD",
            ),
            c.RecordVitals(patient_id=PID, vitals_id="bp-1", systolic=152, diastolic=94),
        ):  # fmt: skip
            opened.commands.execute(command, DOC)
        yield opened


def decline(reason: str | None, vitals_id: str = "bp-1") -> c.DeclineProtocolSuggestion:
    return c.DeclineProtocolSuggestion(
        patient_id=PID,
        vitals_id=vitals_id,
        suggestion="Increase amlodipine from 5 to 10 mg once daily",
        reason=reason,  # type: ignore[arg-type]
    )


def test_the_suggestion_is_the_next_step_for_the_chart_now(clinic: Clinic) -> None:
    advice = ProtocolQueries.of(clinic).advice(PID, DOC)
    s = advice.suggestion
    assert advice.protocol_origin == "bundled" and advice.problem is None
    assert s is not None
    assert (s.kind, s.drug, s.dose, s.prescription_id, s.vitals_id) == (
        "increase", "amlodipine", 10.0, "rx-aml", "bp-1"
    )  # fmt: skip
    # 30 days after the device's day (FakeClock: 21 Nov 2026, 09:00 UTC)
    assert s.follow_up == "2026-12-21"
    assert ProtocolQueries.of(clinic).advice(PID, DESK).suggestion == s  # staff see it too


def test_admins_do_not_read_charts(clinic: Clinic) -> None:
    with pytest.raises(RoleError):
        ProtocolQueries.of(clinic).advice(PID, ADMIN)


def test_declining_needs_a_reason_and_records_nothing_without_one(clinic: Clinic) -> None:
    before = clinic.queries.chart(PID, DOC, record_view=False)
    for blank in (None, "", "   "):
        with pytest.raises(ValidationError) as info:
            clinic.commands.execute(decline(blank), DOC)
        assert (info.value.field, info.value.message) == ("reason", "Reason is required")
    with pytest.raises(RoleError):
        clinic.commands.execute(decline("cost"), DESK)
    with pytest.raises(NotFoundError) as found:
        clinic.commands.execute(decline("cost", vitals_id="nope"), DOC)
    assert found.value.field == "vitals_id"
    clinic.commands.execute(c.RecordVitals(patient_id=PID, vitals_id="hr-only", heart_rate=80), DOC)
    with pytest.raises(ValidationError) as info:
        clinic.commands.execute(decline("cost", vitals_id="hr-only"), DOC)
    assert info.value.field == "vitals_id"
    after = clinic.queries.chart(PID, DOC, record_view=False)
    assert after.notes == before.notes == []
    assert not any("declined" in t.text for t in after.timeline)


def test_a_decline_is_a_note_and_marks_that_readings_suggestion(clinic: Clinic) -> None:
    changes = clinic.commands.execute(decline("Patient prefers to wait a month"), DOC)
    assert changes.events == ["ProtocolSuggestionDeclined", "NoteAdded"]
    chart = clinic.queries.chart(PID, DOC, record_view=False)
    (note,) = chart.notes
    assert note.data["text"] == (
        "Hypertension protocol suggestion declined: Increase amlodipine from 5 to 10 mg once "
        "daily. Reason: Patient prefers to wait a month"
    )
    assert any("suggestion declined" in t.text for t in chart.timeline)
    s = ProtocolQueries.of(clinic).advice(PID, DOC).suggestion
    assert s is not None and s.declined_reason == "Patient prefers to wait a month"
    with pytest.raises(AlreadyDoneError):
        clinic.commands.execute(decline("again"), DOC)
    # A new reading gets a new suggestion, not declined.
    clinic.commands.execute(
        c.RecordVitals(patient_id=PID, vitals_id="bp-2", systolic=150, diastolic=92), DOC
    )
    fresh = ProtocolQueries.of(clinic).advice(PID, DOC).suggestion
    assert fresh is not None and (fresh.vitals_id, fresh.declined_reason) == ("bp-2", None)
    actions = [a.action for a in clinic.queries.audit(patient_id=PID)]
    assert "ProtocolSuggestionDeclined" in actions


def test_accepting_is_the_ordinary_commands_with_the_suggested_values(clinic: Clinic) -> None:
    s = ProtocolQueries.of(clinic).advice(PID, DOC).suggestion
    assert s is not None and s.prescription_id is not None and s.dose is not None
    clinic.commands.execute(
        c.ChangeDose(patient_id=PID, prescription_id=s.prescription_id, dose=s.dose), DOC
    )
    after = ProtocolQueries.of(clinic).advice(PID, DOC).suggestion
    assert after is not None and (after.kind, after.drug, after.step) == ("add", "losartan", 3)


def test_it_edits_the_protocol_in_the_data_directory(clinic: Clinic) -> None:
    edited = json.loads(bundled_text())
    edited["version"] = "district-2027.1"
    edited["control_target"] = {"systolic_below": 160, "diastolic_below": 100}
    local = clinic.vault.data_dir / LOCAL_PROTOCOL_FILE
    local.write_text(json.dumps(edited), encoding="utf-8")
    advice = ProtocolQueries.of(clinic).advice(PID, DOC)
    assert (advice.protocol_origin, advice.protocol_version) == (
        LOCAL_PROTOCOL_FILE,
        "district-2027.1",
    )
    assert advice.suggestion is not None and advice.suggestion.kind == "continue"
    assert "district-2027.1" in str(advice.suggestion.explanation)

    edited["steps"][0]["component"] = "beta_blocker"
    local.write_text(json.dumps(edited), encoding="utf-8")
    broken = ProtocolQueries.of(clinic).advice(PID, DOC)
    assert broken.suggestion is None
    assert broken.problem is not None
    assert "steps[1].component: 'beta_blocker' is not one of the components" in broken.problem
    local.write_text("{not json", encoding="utf-8")
    assert "not valid JSON (line 1)" in str(ProtocolQueries.of(clinic).advice(PID, DOC).problem)
