"""The chart's items carry what the prescribing checks resolved, so the chart can mark an
unchecked prescription and an allergy that the medicine list does not know (issue 12)."""

from __future__ import annotations

from app.domain import commands as c
from app.domain.chart import PatientChart, evolve
from app.domain.decide import decide
from app.domain.events import AllergyRecorded, MedicationPrescribed
from app.projections import chart_items
from app.store.reference_data import bundled_catalog
from tests.clinic_fixtures import prescription
from tests.domain.builders import PID, context
from tests.projections.records import History, query


def _decided(*commands: c.Command) -> list[object]:
    """The events of deciding `commands` in order on a registered patient (bundled list)."""
    ctx = context(catalog=bundled_catalog())
    chart = PatientChart(PID, registered=True)
    events: list[object] = []
    for command in commands:
        for event in decide(chart, command, ctx).events:
            evolve(chart, event)
            events.append(event)
    return events


def test_item_data_marks_unchecked_and_unresolved_and_lists_ingredients() -> None:
    events = _decided(
        c.RecordAllergy(patient_id=PID, allergy_id="al-1", substance="Zubrin"),
        c.RecordAllergy(patient_id=PID, allergy_id="al-2", substance="Augmentin allergy"),
        prescription(
            PID,
            "Nurofen Plus",
            prescription_id="rx-1",
            dose=1,
            dose_unit="tablet",
            unchecked_acknowledged=True,
        ),
        prescription(PID, "Bactrim", prescription_id="rx-2", dose=960, frequency="BID"),
    )
    h = History()
    h.register(PID, "Amina", "Mwakyusa")
    for event in events:
        assert isinstance(event, AllergyRecorded | MedicationPrescribed)
        h.add(PID, event)
    rows = query(h.records, lambda conn: chart_items.for_patient(conn, PID))
    data = {row["item_id"]: row["data"] for row in rows}
    assert (data["al-1"]["unresolved"], data["al-1"]["ingredient_ids"]) == (True, [])
    assert data["al-2"]["unresolved"] is False
    assert data["al-2"]["class_ids"] == ["penicillin"]
    assert {"amoxicillin", "clavulanic_acid"} <= set(data["al-2"]["ingredient_ids"])
    assert (data["rx-1"]["unchecked"], data["rx-1"]["ingredient_ids"]) == (True, [])
    assert data["rx-2"]["unchecked"] is False
    assert data["rx-2"]["ingredient_ids"] == ["sulfamethoxazole", "trimethoprim"]
    assert data["rx-2"]["drug_match"] == "name"
