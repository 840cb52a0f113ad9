"""A clinic records immunizations (given here, and from a card at the front desk); the chart
lists them with the doses due and overdue; the clinic's list names every child with a dose
due or overdue on the device's day; an override schedule from IT is used, a broken one is not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.errors import ValidationError
from app.services.clinic import Clinic
from app.store.immunization_data import SCHEDULE_FILE, bundled_schedule, bundled_vaccines
from app.store.reference_data import catalog_for
from tests.clinic_fixtures import CATALOG, DESK, DOC, FakeClock, clinic_in, register, snapshot

WITH_VACCINES = replace(
    CATALOG, vaccines=bundled_vaccines(), immunization_schedule=bundled_schedule()
)


@pytest.fixture
def clinic(tmp_path: Path, clock: FakeClock) -> Iterator[Clinic]:
    # FakeClock: 2026-11-21T09:00Z
    with clinic_in(tmp_path / "vault", clock, WITH_VACCINES) as opened:
        yield opened


def give(clinic: Clinic, pid: str, vaccine: str, dose: int, day: str, **more: object) -> str:
    """A clinician records a dose given here; returns the immunization's id."""
    command = c.RecordImmunization(
        patient_id=pid,
        vaccine=vaccine,
        dose_number=dose,
        given_on=day,
        **more,  # type: ignore[arg-type]
    )
    return clinic.commands.execute(command, DOC).item_ids[0]


def test_the_chart_lists_given_doses_and_what_is_due(clinic: Clinic) -> None:
    pid = register(clinic, patient_id="baby-1", birth_date="2026-08-01")
    give(clinic, pid, "bcg", 1, "2026-08-01", lot="B-1", site="left-arm")
    give(clinic, pid, "penta", 1, "2026-09-12")
    card = c.RecordImmunization(
        patient_id=pid,
        vaccine="bopv",
        dose_number=1,
        given_on="2026-08-02",
        historical=True,
        source="card",
    )
    clinic.commands.execute(card, DESK)
    chart = clinic.queries.chart(pid, DOC)
    assert [i.data["vaccine_id"] for i in chart.immunizations] == ["bcg", "bopv", "penta"]
    assert chart.immunizations[1].data["historical"] is True
    due = {(d.series_id, d.dose): d for d in chart.immunizations_due}
    # 16 weeks old: penta 2 (due at 10 weeks, 2026-10-10) is overdue; bOPV 1 too.
    assert due[("dtp", 2)].status == "overdue" and due[("dtp", 2)].due_on == "2026-10-10"
    assert due[("opv", 1)].status == "overdue"
    assert ("bcg", 1) not in due and ("opv-birth", 1) not in due
    assert "penta" in due[("dtp", 2)].vaccines
    # The JSON the CLI prints carries both.
    as_json = chart.to_json()
    assert as_json["immunizations_due"][0]["status"] in ("due", "overdue")


def test_refused_input_records_nothing(clinic: Clinic) -> None:
    pid = register(clinic, patient_id="baby-2", birth_date="2026-08-01")
    before = snapshot(clinic)
    with pytest.raises(ValidationError) as info:
        give(clinic, pid, "penta", 1, "2026-07-30")
    assert info.value.field == "given_on"
    with pytest.raises(ValidationError) as info:
        give(clinic, pid, "penta", 1, "2026-10-01", lot_expiry="2026-09-30")
    assert info.value.field == "lot_expiry"
    assert snapshot(clinic) == before


def test_the_clinic_list_names_children_with_doses_due_or_overdue(clinic: Clinic) -> None:
    late = register(clinic, patient_id="late", given="Neema", birth_date="2026-06-20")
    on_time = register(clinic, patient_id="ontime", given="Juma", birth_date="2026-10-01")
    register(clinic, patient_id="adult", given="Grace", birth_date="1975-03-02")
    give(clinic, on_time, "bcg", 1, "2026-10-01")
    give(clinic, on_time, "bopv", 1, "2026-10-01")
    give(clinic, on_time, "hepb-birth", 1, "2026-10-01")
    rows = clinic.queries.immunizations_due(date(2026, 11, 21))
    names = {r.patient_id for r in rows}
    assert names == {"late", "ontime"}
    # Overdue first: the late child's doses lead.
    assert rows[0].status == "overdue" and rows[0].patient_id == late
    on_time_rows = [(r.series_id, r.dose, r.status) for r in rows if r.patient_id == on_time]
    # 7 weeks old: the 6-week doses are due (not yet overdue).
    assert ("dtp", 1, "due") in on_time_rows and all(s == "due" for _, _, s in on_time_rows)
    # The default day is the clock's.
    assert clinic.queries.immunizations_due() == rows


def test_an_it_schedule_in_the_data_directory_replaces_the_bundled_one(tmp_path: Path) -> None:
    data = json.loads(
        (
            Path(__file__).parents[2] / "resources/protocols/who_immunization_schedule.json"
        ).read_text()
    )
    data["version"] = "clinic-2027-1"
    data["series"] = [s for s in data["series"] if s["id"] == "bcg"]
    (tmp_path / SCHEDULE_FILE).write_text(json.dumps(data))
    schedule = catalog_for(tmp_path).immunization_schedule
    assert schedule.version == "clinic-2027-1" and [s.id for s in schedule.series] == ["bcg"]


def test_a_broken_it_schedule_is_not_used_and_the_log_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / SCHEDULE_FILE).write_text('{"version": "x", "series": [{"id": "bcg"}]}')
    schedule = catalog_for(tmp_path).immunization_schedule
    assert schedule.version == bundled_schedule().version
    assert "immunization_schedule.json is not used" in caplog.text
    assert '"vaccines" must list' in caplog.text
