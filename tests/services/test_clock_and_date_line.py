"""The clinic's day comes from its one clock and the device's time zone: late in the evening
and across the date line, "today", "due today", "overdue", ages and birth dates follow the
clinic's calendar, not UTC's and not the test machine's wall clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.errors import ValidationError
from app.services.clinic import Clinic
from app.services.clock import (
    START_AT_VARIABLE,
    clock_starting_at,
    configured_clock,
    parse_instant,
)
from tests.clinic_fixtures import DESK, DOC, FakeClock, clinic_in, register

# 11:30 UTC on 2 December: 01:30 on the 3rd in Kiribati (UTC+14), 00:30 on the 2nd in
# American Samoa (UTC-11). The two sides of the date line are a whole day apart.
INSTANT = datetime(2026, 12, 2, 11, 30, tzinfo=UTC)
EAST_OF_LINE, WEST_OF_LINE = "Pacific/Kiritimati", "Pacific/Pago_Pago"


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the process's time zone for one test (restored afterwards)."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def book(clinic: Clinic, pid: str, appointment_id: str, start: datetime) -> None:
    clinic.commands.execute(
        c.ScheduleFollowUp(
            patient_id=pid,
            appointment_id=appointment_id,
            clinician="doc",
            start=start.astimezone().isoformat(timespec="seconds"),  # as the UI books it
        ),
        DESK,
    )


@pytest.mark.parametrize(
    ("zone_name", "local_day", "newborn_accepted"),
    [(EAST_OF_LINE, date(2026, 12, 3), True), (WEST_OF_LINE, date(2026, 12, 2), False)],
)
def test_today_is_the_clinics_day_on_either_side_of_the_date_line(
    tmp_path: Path,
    zone: Callable[[str], None],
    zone_name: str,
    local_day: date,
    newborn_accepted: bool,
) -> None:
    zone(zone_name)
    clock = FakeClock(INSTANT)
    with clinic_in(tmp_path / "vault", clock) as clinic:
        pid = register(clinic)
        # One hour ago: already today in Kiribati; still yesterday in Samoa.
        book(clinic, pid, "ap-hour-ago", INSTANT - timedelta(hours=1))
        due = [a.appointment_id for a in clinic.queries.due_today()]
        assert due == (["ap-hour-ago"] if local_day == date(2026, 12, 3) else [])
        assert [a.appointment_id for a in clinic.queries.overdue_followups()] == ["ap-hour-ago"]
        # A baby born today where the clinic is: a birth date of the 3rd is today east of the
        # line and tomorrow west of it.
        newborn = c.RegisterPatient(
            given="Tiny", family="Teiti", birth_date="2026-12-03", sex="female"
        )
        if newborn_accepted:
            clinic.commands.execute(newborn, DESK)
        else:
            with pytest.raises(ValidationError) as refused:
                clinic.commands.execute(newborn, DESK)
            assert refused.value.field == "birth_date"
        # Attended is allowed from the appointment's own day on.
        clinic.commands.execute(c.MarkAttended(patient_id=pid, appointment_id="ap-hour-ago"), DOC)


def test_late_in_the_evening_a_follow_up_in_two_hours_is_tomorrow(
    tmp_path: Path, zone: Callable[[str], None]
) -> None:
    zone("Africa/Nairobi")
    evening = datetime(2026, 12, 2, 23, 30).astimezone()  # 23:30 local time
    clock = FakeClock(evening.astimezone(UTC))
    with clinic_in(tmp_path / "vault", clock) as clinic:
        pid = register(clinic)
        book(clinic, pid, "ap-later", evening + timedelta(hours=2))
        assert clinic.queries.due_today() == []
        tomorrow = [a.appointment_id for a in clinic.queries.schedule(date(2026, 12, 3))]
        assert tomorrow == ["ap-later"]
        with pytest.raises(ValidationError, match="on 2026-12-03"):
            clinic.commands.execute(c.MarkAttended(patient_id=pid, appointment_id="ap-later"), DOC)
        clock.advance(minutes=31)  # past midnight: the appointment's day has come
        assert [a.appointment_id for a in clinic.queries.due_today()] == ["ap-later"]
        clinic.commands.execute(c.MarkAttended(patient_id=pid, appointment_id="ap-later"), DOC)


def test_a_chart_reads_the_age_on_the_clinics_day(
    tmp_path: Path, zone: Callable[[str], None]
) -> None:
    zone(EAST_OF_LINE)
    clock = FakeClock(INSTANT)  # the 3rd in Kiribati
    with clinic_in(tmp_path / "vault", clock) as clinic:
        pid = register(clinic, birth_date="2000-12-03")
        chart = clinic.queries.chart(pid, DOC, record_view=False)
        assert chart.age_years == 26  # a birthday today, local time


def test_the_configured_clock_starts_at_fieldchart_now_and_ticks() -> None:
    ticks = iter([100.0, 100.0, 102.5])
    clock = clock_starting_at(INSTANT, timer=lambda: next(ticks))
    assert clock() == INSTANT
    assert clock() == INSTANT + timedelta(seconds=2.5)
    started = configured_clock({START_AT_VARIABLE: "2026-12-02T23:59:30Z"})()
    assert (
        timedelta(0)
        <= started - datetime(2026, 12, 2, 23, 59, 30, tzinfo=UTC)
        < timedelta(seconds=5)
    )


@pytest.mark.parametrize("bad", ["tomorrow", "2026-12-02T23:59:30", "2026-13-02T00:00:00Z"])
def test_a_bad_fieldchart_now_is_refused_plainly(bad: str) -> None:
    with pytest.raises(ValueError, match="FIELDCHART_NOW must be an ISO 8601 instant"):
        configured_clock({START_AT_VARIABLE: bad})
    with pytest.raises(ValueError):
        parse_instant(bad)
