"""Merging two records of one person and undoing it, through the services: the survivor's
chart reads both records' items (a link, not a copy), decide sees the replaced record's
allergies, the replaced record leaves search but says who replaced it, conflicting allergies
are kept and flagged, undo gives each record exactly its own items back, and bad input names
its field and records nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.errors import (
    AllergyConflictError,
    DomainError,
    NotFoundError,
    RoleError,
    ValidationError,
)
from app.services.clinic import Clinic
from app.services.duplicate_check import RegistrationDraft, similar_patients
from app.services.indicators.service import ReportService
from tests.clinic_fixtures import (
    DESK,
    DOC,
    FakeClock,
    clinic_in,
    prescription,
    register,
    snapshot,
)
from tests.services.test_immunizations import WITH_VACCINES


def two_records(clinic: Clinic) -> tuple[str, str]:
    survivor = register(clinic, given="Amina", family="Otieno", birth_date="1980-04-23")
    replaced = register(
        clinic,
        given="Amina",
        family="Otieno Achieng",
        birth_date="1980-04-23",
        identifiers=(c.Identifier("urn:fieldchart:mrn", "MRN-0002"),),
    )
    return survivor, replaced


def allergy(clinic: Clinic, pid: str, substance: str, criticality: str, aid: str) -> None:
    clinic.commands.execute(
        c.RecordAllergy(
            patient_id=pid, allergy_id=aid, substance=substance, criticality=criticality
        ),
        DOC,
    )


def merge(clinic: Clinic, survivor: str, replaced: str, merge_id: str = "m-1") -> list[str]:
    changes = clinic.commands.execute(
        c.MergePatients(
            patient_id=survivor,
            replaced_patient_id=replaced,
            reason="same person, registered twice",
            merge_id=merge_id,
        ),
        DOC,
    )
    return changes.warnings


def test_the_survivor_shows_both_records_and_undo_unlinks_exactly(clinic: Clinic) -> None:
    survivor, replaced = two_records(clinic)
    clinic.commands.execute(
        c.RecordVitals(patient_id=survivor, vitals_id="v-own", systolic=150, diastolic=95), DOC
    )
    clinic.commands.execute(
        c.RecordVitals(patient_id=replaced, vitals_id="v-other", systolic=130, diastolic=85), DOC
    )
    allergy(clinic, replaced, "penicillin", "high", "al-other")
    before = {
        pid: sorted(i.item_id for i in [*chart.encounters, *chart.allergies])
        for pid in (survivor, replaced)
        for chart in [clinic.queries.chart(pid, DOC, record_view=False)]
    }

    assert merge(clinic, survivor, replaced) == []
    chart = clinic.queries.chart(survivor, DOC, record_view=False)
    assert [a.item_id for a in chart.allergies] == ["al-other"]
    assert chart.allergy_banner == ["penicillin (HIGH criticality) (from the merged record)"]
    assert set(chart.merged_item_ids) == {"v-other", "al-other"}
    assert any("merged into this chart: same person" in t.text for t in chart.timeline)
    assert [(m.merge_id, m.replaced_patient_id, m.name) for m in chart.merges] == [
        ("m-1", replaced, "Otieno Achieng, Amina")
    ]
    assert sorted(p for p, _ in chart.vitals_series["systolic"]) == sorted(
        p for p, _ in chart.vitals_series["systolic"]
    )
    assert sorted(v for _, v in chart.vitals_series["systolic"]) == [130.0, 150.0]
    # The replaced record: out of search and the list, found by id, saying who replaced it.
    assert [p.patient_id for p in clinic.queries.search_patients("Otieno")] == [survivor]
    assert replaced not in [p.patient_id for p in clinic.queries.search_patients("")]
    assert [p.patient_id for p in clinic.queries.search_patients(replaced)] == [replaced]
    assert clinic.queries.chart(replaced, DOC, record_view=False).replaced_by == survivor
    # Deciding on the survivor sees the replaced record's allergy.
    with pytest.raises(AllergyConflictError):
        clinic.commands.execute(prescription(survivor, "amoxicillin"), DOC)
    # New items go to the survivor; the replaced record takes none.
    with pytest.raises(ValidationError) as refused:
        clinic.commands.execute(c.RecordVitals(patient_id=replaced, systolic=120), DOC)
    assert refused.value.field == "patient_id"
    # A linked item is read, not changed, from the survivor's chart.
    with pytest.raises(ValidationError) as linked:
        clinic.commands.execute(
            c.UpdateAllergyStatus(patient_id=survivor, allergy_id="al-other", status="inactive"),
            DOC,
        )
    assert linked.value.field == "allergy_id"

    clinic.commands.execute(c.UndoMerge(patient_id=survivor, merge_id="m-1", reason="not"), DOC)
    after = {
        pid: sorted(i.item_id for i in [*chart.encounters, *chart.allergies])
        for pid in (survivor, replaced)
        for chart in [clinic.queries.chart(pid, DOC, record_view=False)]
    }
    assert after == before
    unmerged = clinic.queries.chart(survivor, DOC, record_view=False)
    assert (unmerged.merges, unmerged.merged_item_ids, unmerged.allergy_banner) == ([], [], [])
    assert clinic.queries.chart(replaced, DOC, record_view=False).replaced_by is None
    assert {p.patient_id for p in clinic.queries.search_patients("Otieno")} == {
        survivor,
        replaced,
    }
    clinic.commands.execute(prescription(survivor, "amoxicillin"), DOC)  # no allergy here now


def test_conflicting_allergies_are_both_kept_and_flagged(clinic: Clinic) -> None:
    survivor, replaced = two_records(clinic)
    allergy(clinic, survivor, "Penicillin", "low", "al-1")
    allergy(clinic, replaced, "penicillin", "high", "al-2")
    (warning,) = merge(clinic, survivor, replaced)
    assert "criticality" in warning and "both are kept" in warning
    chart = clinic.queries.chart(survivor, DOC, record_view=False)
    assert sorted(a.item_id for a in chart.allergies) == ["al-1", "al-2"]
    assert chart.merge_warnings == [warning]
    assert chart.allergy_banner == [
        "Penicillin",
        "penicillin (HIGH criticality) (from the merged record)",
    ]


def test_staff_merge_demographics_only_records(clinic: Clinic) -> None:
    survivor, replaced = two_records(clinic)
    clinic.commands.execute(
        c.MergePatients(patient_id=survivor, replaced_patient_id=replaced, reason="twice"), DESK
    )
    (held,) = clinic.queries.chart(survivor, DESK, record_view=False).merges
    clinic.commands.execute(
        c.UndoMerge(patient_id=survivor, merge_id=held.merge_id, reason="wrong"), DESK
    )
    allergy(clinic, replaced, "peanut", "low", "al-3")
    unchanged = snapshot(clinic)
    with pytest.raises(RoleError, match="clinician"):
        clinic.commands.execute(
            c.MergePatients(patient_id=survivor, replaced_patient_id=replaced, reason="x"), DESK
        )
    assert snapshot(clinic) == unchanged


@pytest.mark.parametrize(
    ("command", "error", "field"),
    [
        (
            lambda s, r: dict(replaced_patient_id=s, reason="x"),
            ValidationError,
            "replaced_patient_id",
        ),
        (
            lambda s, r: dict(replaced_patient_id="nobody", reason="x"),
            NotFoundError,
            "replaced_patient_id",
        ),
        (
            lambda s, r: dict(replaced_patient_id="", reason="x"),
            ValidationError,
            "replaced_patient_id",
        ),
        (lambda s, r: dict(replaced_patient_id=r, reason=" "), ValidationError, "reason"),
    ],
)
def test_bad_merges_name_the_field_and_record_nothing(
    clinic: Clinic,
    command: Callable[[str, str], dict[str, str]],
    error: type[DomainError],
    field: str,
) -> None:
    survivor, replaced = two_records(clinic)
    unchanged = snapshot(clinic)
    with pytest.raises(error) as refused:
        clinic.commands.execute(
            c.MergePatients(patient_id=survivor, **command(survivor, replaced)), DOC
        )
    assert refused.value.field == field
    assert snapshot(clinic) == unchanged


def test_an_already_replaced_record_and_a_merge_not_in_effect_are_refused(
    clinic: Clinic,
) -> None:
    survivor, replaced = two_records(clinic)
    third = register(clinic, given="Amina", family="Otieno", birth_date="1980-04-24")
    merge(clinic, survivor, replaced)
    unchanged = snapshot(clinic)
    with pytest.raises(ValidationError) as again:
        clinic.commands.execute(
            c.MergePatients(patient_id=third, replaced_patient_id=replaced, reason="x"), DOC
        )
    assert again.value.field == "replaced_patient_id"
    with pytest.raises(ValidationError) as chained:
        clinic.commands.execute(
            c.MergePatients(patient_id=third, replaced_patient_id=survivor, reason="x"), DOC
        )
    assert chained.value.field == "replaced_patient_id"
    with pytest.raises(NotFoundError) as not_in_effect:
        clinic.commands.execute(c.UndoMerge(patient_id=third, merge_id="m-1", reason="x"), DOC)
    assert not_in_effect.value.field == "merge_id"
    clinic.commands.execute(c.UndoMerge(patient_id=survivor, merge_id="m-1", reason="x"), DOC)
    with pytest.raises(NotFoundError):  # undone already
        clinic.commands.execute(c.UndoMerge(patient_id=survivor, merge_id="m-1", reason="x"), DOC)
    assert snapshot(clinic).head == unchanged.head + 1


def test_a_replaced_record_is_listed_once_under_the_survivor(
    tmp_path: Path, clock: FakeClock
) -> None:
    with clinic_in(tmp_path / "vault", clock, WITH_VACCINES) as clinic:
        _listed_once(clinic, clock)


def _listed_once(clinic: Clinic, clock: FakeClock) -> None:
    born = (clock.now - timedelta(days=70)).date().isoformat()
    survivor = register(clinic, given="Baraka", family="Mwangi", birth_date=born, sex="male")
    replaced = register(clinic, given="Barakah", family="Mwangi", birth_date=born, sex="male")
    clinic.commands.execute(
        c.RecordImmunization(patient_id=replaced, vaccine="bcg", dose_number=1), DOC
    )
    start = (clock.now + timedelta(hours=1)).isoformat()
    clinic.commands.execute(
        c.ScheduleFollowUp(patient_id=replaced, clinician="doc", start=start), DESK
    )
    clock.advance(hours=3)  # the follow-up is overdue: a call to make
    assert {r.patient_id for r in clinic.queries.call_worklist()} == {replaced}
    bcg_due = {r.patient_id for r in clinic.queries.immunizations_due() if r.series_id == "bcg"}
    assert bcg_due == {survivor}  # the replaced record had its BCG

    merge(clinic, survivor, replaced)

    # The worklist and the due list name the person once, as the survivor, with both
    # records' appointments and doses; the duplicate check no longer offers the replaced one.
    assert [r.patient_id for r in clinic.queries.call_worklist()] == [survivor]
    due = clinic.queries.immunizations_due()
    assert replaced not in {r.patient_id for r in due}
    assert survivor not in {r.patient_id for r in due if r.series_id == "bcg"}
    draft = RegistrationDraft(given="Baraka", family="Mwangi", birth_date=born, sex="male")
    offered = {p.patient_id for p in similar_patients(clinic, draft).patients}
    assert offered == {survivor}


def test_indicators_count_a_merged_person_once(clinic: Clinic) -> None:
    survivor, replaced = two_records(clinic)
    for pid in (survivor, replaced):  # each record: hypertension, seen this month
        clinic.commands.execute(c.RecordDiagnosis(patient_id=pid, code="I10"), DOC)
        clinic.commands.execute(c.StartEncounter(patient_id=pid), DOC)
    service = ReportService(clinic.vault, clinic.catalog)

    def counts() -> tuple[int, int, int]:
        report = service.month(DESK, "2026-11")
        registered, under_care, visits = (
            report.value(i).numerator for i in ("new_registrations", "htn_under_care", "visits")
        )
        return registered, under_care, visits

    assert counts() == (2, 2, 2)
    merge(clinic, survivor, replaced)
    assert counts() == (1, 1, 2)  # one person, registered once, seen twice
