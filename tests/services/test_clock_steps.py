"""A device clock that steps back (docs/clocks.md): "as of" never hides a registered patient,
the timeline keeps log order where the clinical time is only the clock's reading, and the step
is said when it is written and found afterwards."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain import commands as c
from app.domain.errors import NotFoundError
from app.projections.timeline_order import in_display_order
from app.services.clinic import Clinic
from app.store import recorded_order
from app.store.database import read_transaction
from tests.clinic_fixtures import DOC, NOW, FakeClock, register


def test_as_of_after_a_step_back_still_shows_the_patient(
    clinic: Clinic, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    pid = register(clinic)  # 09:00
    clock.advance(hours=-1)  # the clock is set back an hour: 08:00
    clock.advance(minutes=10)
    clinic.commands.execute(c.AddNote(patient_id=pid, text="after the step"), DOC)  # 08:10
    # Before: the note (08:10) without the registration (09:00): "No patient with this id".
    with caplog.at_level("WARNING", logger="app.services.clinic_queries"):
        view = clinic.queries.chart(pid, DOC, as_of=NOW - timedelta(minutes=30), record_view=False)
    assert view.patient.patient_id == pid
    assert [n.data["text"] for n in view.notes] == ["after the step"]
    assert "includes 1 event(s) stamped after that time" in caplog.text


def test_as_of_before_anything_recorded_still_says_not_yet_registered(
    clinic: Clinic, clock: FakeClock
) -> None:
    pid = register(clinic)
    clock.advance(hours=-1)
    clinic.commands.execute(c.AddNote(patient_id=pid, text="x"), DOC)
    with pytest.raises(NotFoundError, match="not yet registered"):
        clinic.queries.chart(pid, DOC, as_of=NOW - timedelta(hours=2), record_view=False)


def test_as_of_is_the_log_up_to_the_last_position_recorded_by_then(
    clinic: Clinic, clock: FakeClock
) -> None:
    pid = register(clinic)  # 09:00
    clock.advance(minutes=20)
    clinic.commands.execute(c.AddNote(patient_id=pid, text="first"), DOC)  # 09:20
    clock.advance(minutes=-40)
    clinic.commands.execute(c.AddNote(patient_id=pid, text="second"), DOC)  # 08:40
    clock.advance(minutes=30)
    clinic.commands.execute(c.AddNote(patient_id=pid, text="third"), DOC)  # 09:10

    def notes_as_of(minutes: int) -> list[str]:
        moment = NOW + timedelta(minutes=minutes)
        view = clinic.queries.chart(pid, DOC, as_of=moment, record_view=False)
        return sorted(n.data["text"] for n in view.notes)

    assert notes_as_of(-10) == ["first", "second"]  # 08:50: up to "second" (08:40)
    assert notes_as_of(5) == ["first", "second"]
    assert notes_as_of(15) == ["first", "second", "third"]


def test_the_timeline_keeps_log_order_where_the_clock_stepped_back(
    clinic: Clinic, clock: FakeClock
) -> None:
    pid = register(clinic)
    clock.advance(minutes=5)
    clinic.commands.execute(c.AddNote(patient_id=pid, text="before"), DOC)
    clock.advance(hours=-1)
    clinic.commands.execute(c.AddNote(patient_id=pid, text="after"), DOC)
    # Vitals with a clinical time of their own, two hours before: that time decides.
    taken = (NOW - timedelta(hours=2)).isoformat()
    clinic.commands.execute(c.RecordVitals(patient_id=pid, heart_rate=72, taken_at=taken), DOC)
    view = clinic.queries.chart(pid, DOC, record_view=False)
    texts = [e.text.split(":")[0] for e in view.timeline]
    assert texts == ["Note", "Note", "Registered Amina Ødegård, born 1980-04-23, female", "Vitals"]
    assert [e.text for e in view.timeline[:2]] == ["Note: after", "Note: before"]


def test_display_order_without_steps_is_clinical_time_then_position() -> None:
    rows = [
        (1, "2026-11-21T09:00:00+00:00", "2026-11-21T09:00:00.100+00:00"),
        (2, "2026-11-21T08:00:00+00:00", "2026-11-21T09:01:00.000+00:00"),  # its own time
        (3, "2026-11-21T09:02:00+00:00", "2026-11-21T09:02:00.300+00:00"),
        (4, "2026-11-21T09:02:00+00:00", "2026-11-21T09:02:00.900+00:00"),
    ]
    assert [r[0] for r in in_display_order(rows)] == [4, 3, 1, 2]


def test_a_step_back_is_logged_without_patient_data_and_found(
    clinic: Clinic, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    pid = register(clinic, given="Zawadi")
    clock.advance(minutes=-90)
    with caplog.at_level("WARNING", logger="app.store.recorded_order"):
        clinic.commands.execute(c.AddNote(patient_id=pid, text="secret words"), DOC)
    # (The fixture's users were added by the wall clock, a step back before this one.)
    message = [r.getMessage() for r in caplog.records if r.name == "app.store.recorded_order"][-1]
    assert "stepped back 5400 s" in message
    assert "Zawadi" not in message and "secret" not in message and pid not in message
    with read_transaction(clinic.vault.engine) as conn:
        steps = recorded_order.steps_back(conn)
    assert [round(s.seconds) for s in steps][-1] == 5400
