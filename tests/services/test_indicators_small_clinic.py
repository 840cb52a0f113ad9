"""Monthly indicators of a small clinic recorded through the real commands, whose every number
is known by hand (docs/reports/indicators.md); the same month twice gives byte-identical files
whatever the clock says; pending commands make every export warn; admins get no report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fhir.resources.R4B.measurereport import MeasureReport

from app.domain import commands as c
from app.domain.errors import RoleError, ValidationError
from app.domain.reference import Icd10Code
from app.services.clinic import Clinic
from app.services.indicators.service import ReportService
from app.store.immunization_data import bundled_schedule, bundled_vaccines
from tests.clinic_fixtures import ADMIN, CATALOG, DESK, DOC, FakeClock, clinic_in, register

WITH_VACCINES = replace(
    CATALOG,
    vaccines=bundled_vaccines(),
    immunization_schedule=bundled_schedule(),
    icd10={**CATALOG.icd10, "I11.9": Icd10Code("I11.9", "Hypertensive heart disease")},
)


def at(clock: FakeClock, when: str) -> None:
    clock.now = datetime.fromisoformat(when).replace(tzinfo=UTC)


def visit(
    clinic: Clinic,
    clock: FakeClock,
    pid: str,
    when: str,
    bp: tuple[int, int] | None = None,
    code: str | None = None,
) -> None:
    """A visit at `when` (UTC): an encounter, maybe a BP and a diagnosis, finished."""
    at(clock, when)
    enc = clinic.commands.execute(c.StartEncounter(patient_id=pid), DOC).item_ids[0]
    if bp is not None:
        clinic.commands.execute(
            c.RecordVitals(patient_id=pid, encounter_id=enc, systolic=bp[0], diastolic=bp[1]), DOC
        )
    if code is not None:
        clinic.commands.execute(
            c.RecordDiagnosis(patient_id=pid, encounter_id=enc, code=code, text=code), DOC
        )
    clinic.commands.execute(c.FinishEncounter(patient_id=pid, encounter_id=enc), DOC)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Clinic, FakeClock]]:
    clock = FakeClock()
    with clinic_in(tmp_path_factory.mktemp("ind") / "vault", clock, WITH_VACCINES) as clinic:
        # Recorded in time order, as a clinic would. F: hypertensive, last seen in October
        # 2025: lost to follow-up by November 2026, not under care.
        at(clock, "2025-10-01T08:00:00")
        f = register(clinic, patient_id="pat-f", given="Fumo")
        visit(clinic, clock, f, "2025-10-01T09:00:00", (150, 90), "I10")
        # C: hypertensive since March, last visit July (outside the past 3 months): under
        # care, in the BP denominator, not controlled, a missed visit.
        at(clock, "2026-03-01T08:00:00")
        cc = register(clinic, patient_id="pat-c", given="Chausiku")
        visit(clinic, clock, cc, "2026-03-01T09:00:00", (120, 70), "I10")
        # A: hypertensive since May, controlled in November (130/80).
        at(clock, "2026-05-10T08:00:00")
        a = register(clinic, patient_id="pat-a", given="Asha")
        visit(clinic, clock, a, "2026-05-10T09:00:00", (150, 95), "I10")
        # B: hypertensive since June (I11.9), last BP in the past 3 months 140/85 (not
        # controlled: systolic must be below 140); seen in September: no missed visit.
        at(clock, "2026-06-01T08:00:00")
        b = register(clinic, patient_id="pat-b", given="Baraka")
        visit(clinic, clock, b, "2026-06-01T09:00:00", (160, 100), "I11.9")
        visit(clinic, clock, cc, "2026-07-20T09:00:00", (125, 75))
        visit(clinic, clock, b, "2026-09-15T09:00:00", (140, 85))
        # Appointments on 12 November: A attends, B does not come, C's is cancelled.
        at(clock, "2026-11-01T08:00:00")
        booked = [
            clinic.commands.execute(
                c.ScheduleFollowUp(
                    patient_id=pid, clinician="doc", start=f"2026-11-12T{hour}:00:00+00:00"
                ),
                DESK,
            ).item_ids[0]
            for pid, hour in ((a, "09"), (b, "10"), (cc, "11"))
        ]
        # D: diabetic, registered and first seen in November: new, under care (DM).
        at(clock, "2026-11-05T08:00:00")
        d = register(clinic, patient_id="pat-d", given="Daudi")
        visit(clinic, clock, d, "2026-11-05T09:00:00", (135, 85), "E11.9")
        # E: hypertensive, registered in November (under 3 months: not in the BP denominator).
        e = register(clinic, patient_id="pat-e", given="Eshe")
        visit(clinic, clock, e, "2026-11-06T09:00:00", (128, 78), "I10")
        visit(clinic, clock, a, "2026-11-10T09:00:00", (130, 80))
        at(clock, "2026-11-12T12:00:00")
        clinic.commands.execute(c.MarkAttended(patient_id=a, appointment_id=booked[0]), DESK)
        clinic.commands.execute(c.MarkNoShow(patient_id=b, appointment_id=booked[1]), DESK)
        clinic.commands.execute(c.CancelAppointment(patient_id=cc, appointment_id=booked[2]), DESK)
        # G: turns 12 months on 2026-11-15 with MR and three pentavalent doses before;
        # H: turns 12 months on 2026-11-30 with one penta dose and no measles dose.
        at(clock, "2026-11-20T08:00:00")
        g = register(clinic, patient_id="pat-g", given="Gift", birth_date="2025-11-15")
        h = register(clinic, patient_id="pat-h", given="Hawa", birth_date="2025-11-30")
        for pid, vaccine, dose, day in (
            (g, "penta", 1, "2026-01-01"),
            (g, "penta", 2, "2026-02-01"),
            (g, "penta", 3, "2026-03-01"),
            (g, "mr", 1, "2026-08-15"),
            (h, "penta", 1, "2026-01-15"),
        ):
            clinic.commands.execute(
                c.RecordImmunization(
                    patient_id=pid, vaccine=vaccine, dose_number=dose, given_on=day
                ),
                DOC,
            )
        at(clock, "2026-12-02T10:00:00")
        yield clinic, clock


def test_every_indicator_of_november_matches_the_hand_count(
    built: tuple[Clinic, FakeClock],
) -> None:
    clinic, _ = built
    report = ReportService(clinic.vault, clinic.catalog).month(DESK, "2026-11")
    got = {v.id: (v.numerator, v.denominator) for v in report.values}
    assert got == {
        "visits": (3, None),  # A, D, E in November
        "new_registrations": (4, None),  # D, E, G, H (recorded in November)
        "htn_under_care": (4, None),  # A, B, C, E (F lost)
        "dm_under_care": (1, None),  # D
        "bp_controlled": (1, 3),  # A of A, B, C (E diagnosed < 3 months ago)
        "missed_visits": (1, 5),  # C of A, B, C, D, E
        "lost_to_follow_up": (1, 6),  # F of A-F
        "follow_up_show_rate": (1, 2),  # A of A, B (C's was cancelled)
        "mcv1_coverage": (1, 2),  # G (H has no measles dose)
        "penta3_coverage": (1, 2),  # G
    }
    assert report.value("bp_controlled").score == pytest.approx(0.3333)
    assert report.unsynced_commands > 0  # nothing synced in this test


def test_an_earlier_month_counts_only_what_happened_by_its_end(
    built: tuple[Clinic, FakeClock],
) -> None:
    clinic, _ = built
    report = ReportService(clinic.vault, clinic.catalog).month(DOC, "2026-06")
    got = {v.id: (v.numerator, v.denominator) for v in report.values}
    assert got["visits"] == (1, None)  # B's first visit
    assert got["htn_under_care"] == (4, None)  # A, B, C and F (seen 2025-10: within 12 months)
    # Diagnosed by 2026-03-30: C and F; neither has a BP after 2026-03-30: both uncontrolled.
    assert got["bp_controlled"] == (0, 2)
    assert got["lost_to_follow_up"] == (0, 4)


def test_the_same_month_twice_gives_byte_identical_files(built: tuple[Clinic, FakeClock]) -> None:
    clinic, clock = built
    service = ReportService(clinic.vault, clinic.catalog)
    first = {
        f: service.export(DESK, "2026-11", f, org_unit="DiszpKrYNg8").text
        for f in ("csv", "dhis2", "measurereport")
    }
    clock.advance(days=40)  # a later run, on another day: the clock is not part of the file
    second = {
        f: service.export(DESK, "2026-11", f, org_unit="DiszpKrYNg8").text
        for f in ("csv", "dhis2", "measurereport")
    }
    clock.now -= timedelta(days=40)
    assert first == second
    assert first["csv"].encode() == second["csv"].encode()


def test_exports_warn_of_unsynced_commands_and_validate(built: tuple[Clinic, FakeClock]) -> None:
    clinic, _ = built
    service = ReportService(clinic.vault, clinic.catalog)
    csv_out = service.export(DESK, "2026-11", "csv")
    assert csv_out.warning and "not yet synced" in csv_out.warning
    lines = csv_out.text.splitlines()
    assert lines[0].startswith("# warning: ")
    assert lines[1] == "month,indicator,name,numerator,denominator,score"
    assert "2026-11,bp_controlled,BP controlled (HEARTS),1,3,0.3333" in lines
    dhis2 = json.loads(service.export(DESK, "2026-11", "dhis2", org_unit="DiszpKrYNg8").text)
    assert dhis2["period"] == "202611" and dhis2["orgUnit"] == "DiszpKrYNg8"
    assert "not yet synced" in dhis2["comment"]
    assert {
        "dataElement": "FcBpCtrlNum",
        "period": "202611",
        "orgUnit": "DiszpKrYNg8",
        "value": "1",
        "categoryOptionCombo": "HllvX50cXC0",
        "comment": dhis2["comment"],
    } in dhis2["dataValues"]
    text = service.export(DESK, "2026-11", "measurereport").text
    MeasureReport.model_validate_json(text)  # FHIR R4B's own validation
    report = json.loads(text)
    assert report["status"] == "pending" and report["type"] == "summary"
    assert len(report["group"]) == 10
    bp = next(g for g in report["group"] if g["code"]["coding"][0]["code"] == "bp_controlled")
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in bp["population"]}
    assert counts == {"initial-population": 3, "denominator": 3, "numerator": 1}
    assert bp["measureScore"]["value"] == 0.3333


def test_bad_requests_are_refused_with_the_field_named(built: tuple[Clinic, FakeClock]) -> None:
    clinic, _ = built
    service = ReportService(clinic.vault, clinic.catalog)
    with pytest.raises(ValidationError) as month:
        service.month(DESK, "2026-13")
    assert month.value.field == "month"
    with pytest.raises(ValidationError) as fmt:
        service.export(DESK, "2026-11", "xlsx")
    assert fmt.value.field == "format"
    with pytest.raises(ValidationError) as unit:
        service.export(DESK, "2026-11", "dhis2")  # the bundled file names no orgUnit
    assert unit.value.field == "orgUnit"
    with pytest.raises(RoleError):
        service.month(ADMIN, "2026-11")
