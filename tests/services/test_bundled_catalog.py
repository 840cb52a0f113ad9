"""The code lists shipped in resources/codes/ load into the catalog the domain checks against,
and the decision support works with them as a clinic would use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.decide_clinical import VITAL_RANGES
from app.domain.errors import AllergyConflictError, ValidationError
from app.services.clinic import Clinic
from app.store.reference_data import bundled_catalog
from tests.clinic_fixtures import DOC, FakeClock, clinic_in, prescription, register


@pytest.fixture
def bundled_clinic(tmp_path: Path) -> Iterator[Clinic]:
    with clinic_in(tmp_path / "vault", FakeClock(), catalog=bundled_catalog()) as clinic:
        yield clinic


def test_the_bundled_lists_load() -> None:
    catalog = bundled_catalog()
    assert len(catalog.icd10) >= 200
    assert len(catalog.medicines) >= 100
    assert len(catalog.substances) >= 20
    assert {"oral", "intravenous", "intramuscular"} <= catalog.routes
    assert {"QD", "BID", "TID", "QID", "PRN"} <= catalog.frequencies
    assert catalog.icd10["I10"].title == "Essential (primary) hypertension"
    assert {"penicillin", "beta_lactam"} <= catalog.medicines["amoxicillin"].classes


def test_vital_sign_ranges_in_the_file_match_the_documented_ranges() -> None:
    vitals = bundled_catalog().vitals
    assert set(vitals) == set(VITAL_RANGES)
    for key, (low, high) in VITAL_RANGES.items():
        assert (vitals[key].minimum, vitals[key].maximum) == (low, high), key
        assert vitals[key].loinc, key


def test_allergy_substances_point_at_listed_medicines_and_classes() -> None:
    catalog = bundled_catalog()
    classes = set().union(*(m.classes for m in catalog.medicines.values()))
    for substance in catalog.substances.values():
        assert substance.medicines <= set(catalog.medicines), substance.id
        assert substance.classes <= classes, substance.id


def test_penicillin_allergy_blocks_amoxicillin_unless_overridden(bundled_clinic: Clinic) -> None:
    pid = register(bundled_clinic)
    bundled_clinic.commands.execute(
        c.RecordAllergy(patient_id=pid, allergy_id="al-1", substance="penicillin"), DOC
    )
    rx = prescription(pid, "amoxicillin")
    with pytest.raises(AllergyConflictError) as info:
        bundled_clinic.commands.execute(rx, DOC)
    assert info.value.message == (
        "The patient has a recorded allergy to penicillin that matches amoxicillin; "
        "give a reason to override"
    )
    bundled_clinic.commands.execute(
        c.PrescribeMedication(**{**vars(rx), "override_reason": "desensitised in hospital"}), DOC
    )
    (med,) = bundled_clinic.queries.chart(pid, DOC, record_view=False).medications
    assert med.data["overridden_allergy_ids"] == ["al-1"]


def test_listed_codes_and_routes_are_accepted_others_refused(bundled_clinic: Clinic) -> None:
    pid = register(bundled_clinic)
    bundled_clinic.commands.execute(c.RecordDiagnosis(patient_id=pid, code="e11.9"), DOC)
    (problem,) = bundled_clinic.queries.chart(pid, DOC, record_view=False).problems
    assert problem.data["code"] == "E11.9"
    with pytest.raises(ValidationError) as info:
        bundled_clinic.commands.execute(c.RecordDiagnosis(patient_id=pid, code="X99.999"), DOC)
    assert info.value.field == "code"
    rx = prescription(pid, "paracetamol", dose=1, dose_unit="g", route="buccal", frequency="QID")
    bundled_clinic.commands.execute(rx, DOC)
    with pytest.raises(ValidationError) as info:
        bundled_clinic.commands.execute(
            c.PrescribeMedication(**{**vars(rx), "route": "by mouth"}), DOC
        )
    assert info.value.field == "route"
