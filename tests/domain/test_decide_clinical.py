"""Encounters, diagnoses, allergies, prescriptions and notes: what a clinician may record and
the message they see when something is off."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.errors import (
    AlreadyDoneError,
    NotFoundError,
    PreconditionError,
    ValidationError,
)
from app.domain.events import (
    AllergyRecorded,
    AllergyStatusChanged,
    DiagnosisRecorded,
    DiagnosisResolved,
    EncounterFinished,
    EncounterStarted,
    MedicationDiscontinued,
    MedicationPrescribed,
    NoteAdded,
)
from tests.domain.builders import PID, accept, chart_after, context, refuse


def prescription(**overrides: object) -> c.PrescribeMedication:
    fields: dict[str, object] = {
        "patient_id": PID,
        "drug": "paracetamol",
        "dose": 500,
        "dose_unit": "mg",
        "route": "oral",
        "frequency": "every 6 hours",
    }
    fields.update(overrides)
    return c.PrescribeMedication(**fields)  # type: ignore[arg-type]


# -- encounters ----------------------------------------------------------------------------


def test_an_encounter_starts_now_or_at_a_past_time() -> None:
    (event,) = accept(c.StartEncounter(patient_id=PID, reason=" cough ")).events
    assert event == EncounterStarted(
        encounter_id="id-1", started_at="2026-11-21T09:00:00+00:00", reason="cough"
    )
    err = refuse(
        c.StartEncounter(patient_id=PID, started_at="2026-11-22T09:00:00Z"), error=ValidationError
    )
    assert (err.message, err.field) == ("Start time cannot be in the future", "started_at")


def test_finishing_an_encounter() -> None:
    chart = chart_after(
        c.StartEncounter(patient_id=PID, encounter_id="enc-1", started_at="2026-11-21T08:00:00Z")
    )
    (event,) = accept(c.FinishEncounter(patient_id=PID, encounter_id="enc-1"), chart).events
    assert event == EncounterFinished(encounter_id="enc-1", finished_at="2026-11-21T09:00:00+00:00")


def test_an_encounter_cannot_finish_before_it_started_or_twice() -> None:
    start = c.StartEncounter(
        patient_id=PID, encounter_id="enc-1", started_at="2026-11-21T08:00:00Z"
    )
    chart = chart_after(start)
    early = c.FinishEncounter(
        patient_id=PID, encounter_id="enc-1", finished_at="2026-11-21T07:59:00Z"
    )
    err = refuse(early, chart, error=ValidationError)
    assert (err.message, err.field) == (
        "An encounter cannot finish before it started",
        "finished_at",
    )
    finished = chart_after(start, c.FinishEncounter(patient_id=PID, encounter_id="enc-1"))
    err = refuse(
        c.FinishEncounter(patient_id=PID, encounter_id="enc-1"), finished, error=AlreadyDoneError
    )
    assert (err.message, err.field) == ("This encounter is already finished", "encounter_id")


def test_finishing_an_unknown_encounter() -> None:
    err = refuse(c.FinishEncounter(patient_id=PID, encounter_id="enc-9"), error=NotFoundError)
    assert (err.message, err.field) == (
        "No encounter with this id on the patient's chart",
        "encounter_id",
    )


# -- diagnoses -----------------------------------------------------------------------------


def test_a_listed_icd10_code_brings_its_title() -> None:
    (event,) = accept(c.RecordDiagnosis(patient_id=PID, code="i10")).events
    assert isinstance(event, DiagnosisRecorded)
    assert (event.code, event.text) == ("I10", "Essential (primary) hypertension")


def test_free_text_diagnosis_without_code() -> None:
    (event,) = accept(c.RecordDiagnosis(patient_id=PID, text="Suspected malaria")).events
    assert isinstance(event, DiagnosisRecorded)
    assert (event.code, event.text) == (None, "Suspected malaria")


def test_a_code_with_the_clinicians_own_wording() -> None:
    (event,) = accept(c.RecordDiagnosis(patient_id=PID, code="I10", text="High BP")).events
    assert isinstance(event, DiagnosisRecorded)
    assert (event.code, event.text) == ("I10", "High BP")


def test_unlisted_code_is_refused_with_a_way_out() -> None:
    err = refuse(c.RecordDiagnosis(patient_id=PID, code="Z99.89"), error=ValidationError)
    assert err.message == (
        "Z99.89 is not in the bundled ICD-10 list; pick a listed code or enter the "
        "diagnosis as free text"
    )
    assert err.field == "code"


def test_diagnosis_needs_a_code_or_text() -> None:
    err = refuse(c.RecordDiagnosis(patient_id=PID, code=" ", text=""), error=ValidationError)
    assert (err.message, err.field) == ("Enter an ICD-10 code or describe the diagnosis", "text")
    err = refuse(c.RecordDiagnosis(patient_id=PID, code="A" * 11), error=ValidationError)
    assert (err.message, err.field) == ("ICD-10 code is too long (at most 10 characters)", "code")


def test_onset_is_clinical_time_and_not_in_the_future() -> None:
    decision = accept(c.RecordDiagnosis(patient_id=PID, code="I10", onset="2024-03-01T00:00:00Z"))
    assert decision.occurred_at == "2024-03-01T00:00:00+00:00"
    err = refuse(
        c.RecordDiagnosis(patient_id=PID, code="I10", onset="2027-01-01T00:00:00Z"),
        error=ValidationError,
    )
    assert (err.message, err.field) == ("Onset cannot be in the future", "onset")


def test_resolving_a_diagnosis_once() -> None:
    record = c.RecordDiagnosis(patient_id=PID, diagnosis_id="dx-1", code="J06.9")
    resolve = c.ResolveDiagnosis(patient_id=PID, diagnosis_id="dx-1")
    (event,) = accept(resolve, chart_after(record)).events
    assert event == DiagnosisResolved(diagnosis_id="dx-1", resolved_at="2026-11-21T09:00:00+00:00")
    err = refuse(resolve, chart_after(record, resolve), error=AlreadyDoneError)
    assert (err.message, err.field) == ("This diagnosis is already resolved", "diagnosis_id")


def test_resolving_an_item_that_is_not_a_diagnosis() -> None:
    chart = chart_after(c.AddNote(patient_id=PID, note_id="n-1", text="seen"))
    err = refuse(c.ResolveDiagnosis(patient_id=PID, diagnosis_id="n-1"), chart, error=NotFoundError)
    assert (err.message, err.field) == (
        "No diagnosis with this id on the patient's chart",
        "diagnosis_id",
    )


def test_an_item_entered_in_error_cannot_be_acted_on() -> None:
    chart = chart_after(
        c.RecordDiagnosis(patient_id=PID, diagnosis_id="dx-1", code="I10"),
        c.MarkEnteredInError(patient_id=PID, item_id="dx-1", reason="wrong patient"),
    )
    err = refuse(
        c.ResolveDiagnosis(patient_id=PID, diagnosis_id="dx-1"), chart, error=NotFoundError
    )
    assert (err.message, err.field) == (
        "This diagnosis was marked as entered in error",
        "diagnosis_id",
    )


# -- allergies -----------------------------------------------------------------------------


def test_allergy_to_a_listed_substance_links_it_and_takes_its_category() -> None:
    (event,) = accept(
        c.RecordAllergy(patient_id=PID, substance="peanut", reaction="hives", severity="Mild")
    ).events
    assert event == AllergyRecorded(
        allergy_id="id-1",
        substance="peanut",
        substance_id="peanut",
        category="food",
        criticality="unable-to-assess",
        recorded_at="2026-11-21T09:00:00+00:00",
        reaction="hives",
        severity="mild",
        substance_match="listed",
    )


def test_allergy_to_an_unlisted_substance_defaults_to_medication() -> None:
    (event,) = accept(c.RecordAllergy(patient_id=PID, substance="Chloroquine")).events
    assert isinstance(event, AllergyRecorded)
    assert (event.substance_id, event.category) == (None, "medication")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("substance", " ", "Substance is required"),
        ("category", "drug", "Category must be one of: biologic, environment, food, medication"),
        ("severity", "bad", "Severity must be one of: mild, moderate, severe"),
        ("criticality", "very", "Criticality must be one of: high, low, unable-to-assess"),
        ("criticality", "", "Criticality is required"),
        ("reaction", "x" * 201, "Reaction is too long (at most 200 characters)"),
    ],
)
def test_allergy_fields_are_checked(field: str, value: str, message: str) -> None:
    fields = {"patient_id": PID, "substance": "Penicillins", field: value}
    err = refuse(c.RecordAllergy(**fields), error=ValidationError)
    assert (err.message, err.field) == (message, field)


def test_the_same_active_allergy_is_not_recorded_twice() -> None:
    chart = chart_after(c.RecordAllergy(patient_id=PID, substance="Penicillins"))
    err = refuse(c.RecordAllergy(patient_id=PID, substance=" PENICILLINS "), chart)
    assert (err.message, err.field) == ("This allergy is already recorded and active", "substance")


def test_allergy_status_changes_with_expected_status() -> None:
    chart = chart_after(c.RecordAllergy(patient_id=PID, allergy_id="al-1", substance="peanut"))
    (event,) = accept(
        c.UpdateAllergyStatus(
            patient_id=PID, allergy_id="al-1", status="Resolved", expected_status="active"
        ),
        chart,
    ).events
    assert event == AllergyStatusChanged(allergy_id="al-1", status="resolved", previous="active")


def test_allergy_status_refusals() -> None:
    chart = chart_after(
        c.RecordAllergy(patient_id=PID, allergy_id="al-1", substance="peanut"),
        c.UpdateAllergyStatus(patient_id=PID, allergy_id="al-1", status="inactive"),
    )
    stale = c.UpdateAllergyStatus(
        patient_id=PID, allergy_id="al-1", status="resolved", expected_status="active"
    )
    err = refuse(stale, chart, error=PreconditionError)
    assert isinstance(err, PreconditionError)
    assert (err.message, err.field) == (
        "The allergy's status was changed by someone else",
        "status",
    )
    assert (err.expected, err.actual) == ("active", "inactive")
    same = c.UpdateAllergyStatus(patient_id=PID, allergy_id="al-1", status="inactive")
    err = refuse(same, chart, error=AlreadyDoneError)
    assert (err.message, err.field) == ("The allergy is already inactive", "status")
    bad = c.UpdateAllergyStatus(patient_id=PID, allergy_id="al-1", status="gone")
    err = refuse(bad, chart, error=ValidationError)
    assert (err.message, err.field) == (
        "Status must be one of: active, inactive, resolved",
        "status",
    )
    unknown = c.UpdateAllergyStatus(patient_id=PID, allergy_id="al-9", status="inactive")
    err = refuse(unknown, chart, error=NotFoundError)
    assert (err.message, err.field) == (
        "No allergy with this id on the patient's chart",
        "allergy_id",
    )


# -- prescriptions -------------------------------------------------------------------------


def test_prescribing_a_listed_medicine_records_its_id_and_name() -> None:
    (event,) = accept(prescription(drug="PARACETAMOL", duration_days=5, route="Oral")).events
    assert isinstance(event, MedicationPrescribed)
    assert (event.drug, event.drug_id, event.route) == ("Paracetamol", "paracetamol", "oral")
    assert (event.dose, event.dose_unit, event.duration_days) == (500.0, "mg", 5)
    assert (event.override_reason, event.overridden_allergy_ids) == (None, [])


def test_prescribing_free_text_drug_needs_an_acknowledgement() -> None:
    # The test catalog does not list artemether or lumefantrine: nothing could be checked.
    err = refuse(prescription(drug="Artemether/lumefantrine 20/120"), error=ValidationError)
    assert (err.field, err.message) == (
        "unchecked_acknowledged",
        "Artemether/lumefantrine 20/120 is not in the medicine list — allergies and "
        "duplicates were not checked; confirm to prescribe it anyway",
    )
    decision = accept(
        prescription(drug="Artemether/lumefantrine 20/120", unchecked_acknowledged=True)
    )
    (event,) = decision.events
    assert isinstance(event, MedicationPrescribed)
    assert (event.drug, event.drug_id) == ("Artemether/lumefantrine 20/120", None)
    assert (event.unchecked, event.ingredient_ids, event.drug_match) == (True, [], None)
    assert list(map(str, decision.warnings)) == [
        "Artemether/lumefantrine 20/120 is not in the medicine list: allergies and duplicates "
        "were checked against its name only"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("drug", "", "Drug is required"),
        ("dose", 0, "Dose of 0 mg is outside the plausible range 0.0001–100000 mg"),
        ("dose", "500", "Dose must be a number"),
        ("dose_unit", "", "Dose unit is required"),
        ("route", "by mouth", None),
        ("frequency", " ", "Frequency is required"),
        ("duration_days", 0, "Duration must be a whole number of days from 1 to 3650"),
        ("duration_days", 3651, "Duration must be a whole number of days from 1 to 3650"),
        ("duration_days", 2.5, "Duration must be a whole number of days from 1 to 3650"),
        ("instructions", "x" * 1001, "Instructions is too long (at most 1000 characters)"),
        ("override_reason", "x" * 501, "Override reason is too long (at most 500 characters)"),
    ],
)
def test_prescription_fields_are_checked(field: str, value: object, message: str | None) -> None:
    err = refuse(prescription(**{field: value}), error=ValidationError)
    assert err.field == field
    if message is not None:
        assert err.message == message
    else:
        assert err.message.startswith("Route must be one of: ")
        assert "oral" in err.message and "intravenous" in err.message


def test_duration_bounds_are_accepted() -> None:
    for days in (1, 3650):
        (event,) = accept(prescription(duration_days=days)).events
        assert isinstance(event, MedicationPrescribed)
        assert event.duration_days == days


def test_discontinuing_a_prescription_once_with_a_reason() -> None:
    chart = chart_after(prescription(prescription_id="rx-1"))
    stop = c.DiscontinueMedication(patient_id=PID, prescription_id="rx-1", reason=" rash ")
    (event,) = accept(stop, chart).events
    assert event == MedicationDiscontinued(
        prescription_id="rx-1", reason="rash", discontinued_at="2026-11-21T09:00:00+00:00"
    )
    err = refuse(
        c.DiscontinueMedication(patient_id=PID, prescription_id="rx-1", reason=""),
        chart,
        error=ValidationError,
    )
    assert (err.message, err.field) == ("Reason is required", "reason")
    stopped = chart_after(prescription(prescription_id="rx-1"), stop)
    err = refuse(stop, stopped, error=AlreadyDoneError)
    assert (err.message, err.field) == ("This prescription is already stopped", "prescription_id")
    err = refuse(
        c.DiscontinueMedication(patient_id=PID, prescription_id="rx-9", reason="x"),
        chart,
        error=NotFoundError,
    )
    assert (err.message, err.field) == (
        "No prescription with this id on the patient's chart",
        "prescription_id",
    )


# -- notes ---------------------------------------------------------------------------------


def test_a_note_keeps_its_text_and_encounter() -> None:
    chart = chart_after(c.StartEncounter(patient_id=PID, encounter_id="enc-1"))
    (event,) = accept(
        c.AddNote(patient_id=PID, text="Seen with mother.\nAdvised fluids.", encounter_id="enc-1"),
        chart,
    ).events
    assert event == NoteAdded(
        note_id="id-1",
        text="Seen with mother.\nAdvised fluids.",
        written_at="2026-11-21T09:00:00+00:00",
        encounter_id="enc-1",
    )


def test_a_note_needs_text_of_at_most_10000_characters() -> None:
    err = refuse(c.AddNote(patient_id=PID, text="  "), error=ValidationError)
    assert (err.message, err.field) == ("Note is required", "text")
    err = refuse(c.AddNote(patient_id=PID, text="x" * 10_001), error=ValidationError)
    assert (err.message, err.field) == ("Note is too long (at most 10000 characters)", "text")
    assert accept(c.AddNote(patient_id=PID, text="x" * 10_000)).events


def test_generated_ids_come_from_the_context() -> None:
    (event,) = accept(c.AddNote(patient_id=PID, text="x"), ctx=context()).events
    assert isinstance(event, NoteAdded)
    assert event.note_id == "id-1"
