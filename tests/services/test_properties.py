"""Properties over generated clinic days.

(a) Any sequence of valid commands, applied one by one, gives the same read models as a
    rebuild from the log, and replaying the same commands into a fresh vault gives the same
    charts, patient list and schedule.
(b) A refused command changes nothing: log head, outbox and read models stay as they were.

`clinic_model` generates only commands that should be accepted; a refusal there is a failure.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain import commands as c
from app.domain.errors import (
    AllergyConflictError,
    DomainError,
    DoubleBookingError,
    NotFoundError,
    PreconditionError,
    RoleError,
    ValidationError,
)
from app.domain.roles import Actor
from app.services.clinic import Clinic
from tests.clinic_fixtures import (
    ADMIN,
    DESK,
    DOC,
    FakeClock,
    add_clinician,
    clinic_in,
    prescription,
    register,
    snapshot,
)
from tests.services.clinic_model import SLOTS, ClinicModel, Step, next_step

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def views(clinic: Clinic, pids: list[str]) -> object:
    """Everything a user could read, minus the audit (its device ids differ per vault)."""
    return (
        [clinic.queries.chart(pid, DOC, record_view=False) for pid in pids],
        clinic.queries.search_patients(""),
        clinic.queries.schedule(date(2026, 11, 20), days=5),
        clinic.queries.overdue_followups(),
    )


@SETTINGS
@given(data=st.data())
def test_valid_commands_rebuild_and_replay_to_the_same_read_models(
    workdir: Path, data: st.DataObject
) -> None:
    run = Path(tempfile.mkdtemp(dir=workdir))
    model = ClinicModel(FakeClock())
    steps: list[Step] = []
    with clinic_in(run / "live", model.clock) as live:
        add_clinician(live, "nurse")  # the model books "doc" and "nurse"
        for number in range(data.draw(st.integers(1, 30), label="steps")):
            model.clock.advance(minutes=1)
            drawn = next_step(data, model)
            command = dataclasses.replace(drawn.command, command_id=f"cmd-{number}")
            step = Step(command, drawn.actor, model.clock())
            try:
                live.commands.execute(step.command, step.actor)
            except DomainError as exc:  # the model said this must be accepted
                pytest.fail(f"refused {step.command!r} as {step.actor.role}: {exc.message}")
            steps.append(step)
        incremental = live.queries.digest()
        assert live.runner.rebuild() == incremental
        expected = views(live, sorted(model.patients))

    replay_clock = FakeClock()
    with clinic_in(run / "replay", replay_clock) as fresh:
        add_clinician(fresh, "nurse")
        for step in steps:
            assert step.at is not None
            replay_clock.now = step.at
            fresh.commands.execute(step.command, step.actor)
        assert views(fresh, sorted(model.patients)) == expected


# -- (b) a refused command changes nothing --------------------------------------------------


@pytest.fixture(scope="module")
def settled(workdir: Path) -> Iterator[Clinic]:
    """A clinic with one patient who has history: an allergy to penicillins, an active
    prescription, a booked follow-up and known demographics."""
    with clinic_in(workdir / "settled") as clinic:
        register(clinic, patient_id="pat-1")
        for command in (
            c.RecordAllergy(patient_id="pat-1", allergy_id="allergy-1", substance="Penicillins"),
            prescription("pat-1", "paracetamol", prescription_id="rx-1"),
            c.RecordVitals(patient_id="pat-1", vitals_id="vitals-1", heart_rate=80),
        ):
            clinic.commands.execute(command, DOC)
        clinic.commands.execute(
            c.ScheduleFollowUp(
                patient_id="pat-1", appointment_id="appt-1", clinician="doc", start=SLOTS[2]
            ),
            DESK,
        )
        yield clinic


RANGES = {
    "systolic": (40, 300),
    "heart_rate": (20, 300),
    "respiratory_rate": (4, 80),
    "temperature": (25, 45),
    "spo2": (50, 100),
    "weight": (0.2, 500),
    "height": (20, 272),
}


@st.composite
def out_of_range_vitals(draw: st.DrawFn) -> tuple[c.Command, Actor, type[DomainError]]:
    key = draw(st.sampled_from(sorted(RANGES)))
    low, high = RANGES[key]
    value = draw(
        st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False)
        | st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False)
    )
    extra = {"diastolic": 60.0} if key == "systolic" else {}
    return c.RecordVitals(patient_id="pat-1", **{key: value}, **extra), DOC, ValidationError  # type: ignore[arg-type]


def refused_commands() -> st.SearchStrategy[tuple[c.Command, Actor, type[DomainError]]]:
    note = c.AddNote(patient_id="pat-1", text="x")
    return st.one_of(
        out_of_range_vitals(),
        st.builds(
            lambda pid: (c.AddNote(patient_id=pid, text="x"), DOC, NotFoundError),
            st.uuids().map(str),
        ),
        st.builds(
            lambda pid, minutes: (
                c.RecordVitals(
                    patient_id=pid, heart_rate=70, taken_at=f"2026-11-21T09:{minutes:02d}:00Z"
                ),
                DOC,
                ValidationError,
            ),
            st.just("pat-1"),
            st.integers(6, 59),  # beyond the five minutes of clock skew
        ),
        st.sampled_from(
            [
                (note, DESK, RoleError),
                (note, ADMIN, RoleError),
                (c.RecordVitals(patient_id="pat-1", heart_rate=70), DESK, RoleError),
                (
                    c.ScheduleFollowUp(patient_id="pat-1", clinician="doc", start=SLOTS[3]),
                    ADMIN,
                    RoleError,
                ),
                (
                    c.RegisterPatient(given="A", family="B", birth_date="1980-01-01", sex="male"),
                    ADMIN,
                    RoleError,
                ),
                (
                    c.MarkEnteredInError(patient_id="pat-1", item_id="rx-1", reason="x"),
                    DESK,
                    RoleError,
                ),
                (
                    prescription("pat-1", "amoxicillin"),
                    DOC,
                    AllergyConflictError,
                ),
                (
                    c.ScheduleFollowUp(
                        patient_id="pat-1", clinician="doc", start="2026-11-23T09:05:00Z"
                    ),
                    DESK,
                    DoubleBookingError,
                ),
                (
                    c.RescheduleAppointment(
                        patient_id="pat-1",
                        appointment_id="appt-1",
                        start=SLOTS[4],
                        expected_start=SLOTS[3],
                    ),
                    DESK,
                    PreconditionError,
                ),
                (c.AddNote(patient_id="pat-1", note_id="rx-1", text="x"), DOC, ValidationError),
                (
                    c.RegisterPatient(
                        patient_id="pat-1",
                        given="A",
                        family="B",
                        birth_date="1980-01-01",
                        sex="male",
                    ),
                    DESK,
                    ValidationError,
                ),
            ]
        ),
        st.builds(
            lambda name, wrong: (
                c.UpdateDemographics(
                    patient_id="pat-1",
                    changes={name: c.FieldChange(new="0766 000 111", expected=wrong)},
                ),
                DESK,
                PreconditionError,
            ),
            st.sampled_from(("phone", "address")),
            st.sampled_from(("", "0700 000 000", "somewhere else")),
        ),
    )


@SETTINGS
@given(refused=refused_commands())
def test_a_refused_command_changes_nothing(
    settled: Clinic, refused: tuple[c.Command, Actor, type[DomainError]]
) -> None:
    command, actor, error = refused
    before = snapshot(settled)
    with pytest.raises(error):
        settled.commands.execute(command, actor)
    # Refusals are not audited at all, so even the audit table is unchanged.
    assert snapshot(settled) == before
