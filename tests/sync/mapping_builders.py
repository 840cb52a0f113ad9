"""Builders for the mapping tests: charts folded from real domain events, server copies with
versions, something another system added to a resource, and R4B validation."""

from __future__ import annotations

import copy
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from app.domain import events as ev
from app.domain.chart import Item, PatientChart, fold
from sync.fhir.mapping import ResourceKey, changed_elements, item_writers, same_meaning

PID = "3f1c1c7e-5b7a-4f8e-9a51-0c2d2c6b7d11"
T0 = "2026-11-21T09:00:00+03:00"
FOREIGN_EXTENSION = {
    "url": "http://district-hospital.example.org/fhir/StructureDefinition/ward",
    "valueString": "B2",
}
FOREIGN_IDENTIFIER = {"system": "http://district-hospital.example.org/ids", "value": "DH-9"}
FOREIGN_TAG = {"system": "http://district-hospital.example.org/tags", "code": "reviewed"}
NARRATIVE = {"status": "additional", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}


def validate(resource: dict[str, Any]) -> None:
    """The resource must parse with the fhir.resources R4B model of its type."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def registered(**overrides: Any) -> ev.PatientRegistered:
    fields: dict[str, Any] = {
        "patient_id": PID,
        "given": "Amina",
        "family": "Ødegård",
        "birth_date": "1980-04-23",
        "sex": "female",
        "phone": "+255 754 123 456",
        "address": "Plot 7, Mbeya",
        "identifiers": [{"system": "urn:fieldchart:mrn", "value": "MRN-0001"}],
    }
    fields.update(overrides)
    return ev.PatientRegistered(**fields)


def chart_of(*events: ev.DomainEvent) -> PatientChart:
    """The chart after registering the patient and applying `events`."""
    return fold(PID, [registered(), *events])


def item_after(item_id: str, *events: ev.DomainEvent) -> Item:
    item = chart_of(*events).items[item_id]
    return item


def written(
    item: Item,
    bases: dict[ResourceKey, Any] | None = None,
    *,
    rxnorm: str | None = None,
) -> dict[ResourceKey, dict[str, Any]]:
    """Every resource of the item as push builds it: the builders of `item_writers` (which
    `writes_for_events` hands to push), each on its server copy from `bases` (absent: new)."""
    found = bases or {}
    return {
        key: build(found.get(key)) for key, build in item_writers(PID, item, rxnorm=rxnorm).items()
    }


def writes_nothing(base: dict[str, Any], proposed: dict[str, Any]) -> bool:
    """Push skips PUTting `proposed` over the server copy `base` (the app's check,
    `same_meaning`), and such a PUT would not change a single element either."""
    return same_meaning(proposed, base) and not changed_elements(base, proposed)


def server_copy(resource: dict[str, Any], version: str = "v1") -> dict[str, Any]:
    """What the server hands back: our resource plus its version metadata."""
    stored = copy.deepcopy(resource)
    meta = stored.setdefault("meta", {})
    meta["versionId"] = version
    meta["lastUpdated"] = "2026-11-21T06:00:01.123Z"
    return stored


def touched_by_another_system(resource: dict[str, Any]) -> dict[str, Any]:
    """The server copy after another system added an extension, an identifier, a tag and a
    narrative: none of them FieldChart's."""
    changed = server_copy(resource, "v2")
    changed["extension"] = [*changed.get("extension", []), FOREIGN_EXTENSION]
    changed["identifier"] = [*changed.get("identifier", []), FOREIGN_IDENTIFIER]
    changed["meta"]["tag"] = [FOREIGN_TAG]
    changed["text"] = NARRATIVE
    return changed


# -- events of a realistic encounter --------------------------------------------------------

ENCOUNTER = ev.EncounterStarted(encounter_id="enc-1", started_at=T0, reason="Cough, 3 days")
FINISHED = ev.EncounterFinished(encounter_id="enc-1", finished_at="2026-11-21T09:40:00+03:00")
VITALS = ev.VitalsRecorded(
    vitals_id="vit-1",
    taken_at="2026-11-21T09:05:00+03:00",
    measurements={
        "systolic": 142.0,
        "diastolic": 91.0,
        "heart_rate": 88.0,
        "respiratory_rate": 18.0,
        "temperature": 37.9,
        "spo2": 96.0,
        "weight": 71.5,
        "height": 164.0,
    },
    bmi=26.6,
    encounter_id="enc-1",
)
DIAGNOSIS = ev.DiagnosisRecorded(
    diagnosis_id="dx-1",
    code="I10",
    text="Essential (primary) hypertension",
    recorded_at="2026-11-21T09:20:00+03:00",
    onset="2026-10-01T00:00:00+03:00",
    encounter_id="enc-1",
)
FREE_TEXT_DIAGNOSIS = ev.DiagnosisRecorded(
    diagnosis_id="dx-2",
    code=None,
    text="Suspected malaria, awaiting RDT",
    recorded_at="2026-11-21T09:21:00+03:00",
)
RESOLVED = ev.DiagnosisResolved(diagnosis_id="dx-2", resolved_at="2026-11-28T10:00:00+03:00")
ALLERGY = ev.AllergyRecorded(
    allergy_id="alg-1",
    substance="Penicillins",
    substance_id="penicillin",
    category="medication",
    criticality="high",
    recorded_at="2026-11-21T09:10:00+03:00",
    reaction="Urticaria",
    severity="moderate",
)
PRESCRIBED = ev.MedicationPrescribed(
    prescription_id="rx-1",
    drug="Amlodipine",
    drug_id="amlodipine",
    dose=5.0,
    dose_unit="mg",
    route="oral",
    frequency="QD",
    prescribed_at="2026-11-21T09:30:00+03:00",
    duration_days=30,
    encounter_id="enc-1",
    instructions="Take in the morning",
)
OVERRIDDEN = ev.MedicationPrescribed(
    prescription_id="rx-2",
    drug="Amoxicillin",
    drug_id="amoxicillin",
    dose=500.0,
    dose_unit="mg",
    route="oral",
    frequency="TID",
    prescribed_at="2026-11-21T09:31:00+03:00",
    duration_days=7,
    override_reason="Tolerated amoxicillin in 2024 under observation",
    overridden_allergy_ids=["alg-1"],
)
DISCONTINUED = ev.MedicationDiscontinued(
    prescription_id="rx-1", reason="Ankle swelling", discontinued_at="2026-12-01T08:00:00+03:00"
)
NOTE = ev.NoteAdded(
    note_id="note-1",
    text="Pt well.\nBP high — recheck in 2 weeks. Ħ ü 漢字 👍",
    written_at="2026-11-21T09:35:00+03:00",
    encounter_id="enc-1",
)
APPOINTMENT = ev.AppointmentScheduled(
    appointment_id="apt-1",
    clinician="doc",
    start="2026-12-05T10:00:00+03:00",
    end="2026-12-05T10:15:00+03:00",
    reason="BP recheck",
)
ALL_ITEMS = (
    ENCOUNTER,
    VITALS,
    DIAGNOSIS,
    FREE_TEXT_DIAGNOSIS,
    ALLERGY,
    PRESCRIBED,
    OVERRIDDEN,
    NOTE,
    APPOINTMENT,
)
ITEM_IDS = ("enc-1", "vit-1", "dx-1", "dx-2", "alg-1", "rx-1", "rx-2", "note-1", "apt-1")
