"""Decision support when prescribing: a drug that matches a recorded allergy (by name or by
drug class) is refused unless the clinician gives an override reason; a duplicate active
prescription is allowed with a warning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app.domain import commands as c
from app.domain.errors import AllergyConflictError
from app.domain.events import MedicationPrescribed
from app.domain.reference import AllergySubstance, Catalog, Medicine
from app.store.reference_data import bundled_catalog
from tests.clinic_fixtures import prescription
from tests.domain.builders import PID, accept, chart_after, context, refuse


def prescribe(drug: str, override_reason: str | None = None) -> c.PrescribeMedication:
    return prescription(PID, drug, frequency="three times daily", override_reason=override_reason)


def allergic_to(substance: str, allergy_id: str = "al-1") -> c.RecordAllergy:
    return c.RecordAllergy(
        patient_id=PID, allergy_id=allergy_id, substance=substance, reaction="anaphylaxis"
    )


def prescribed(decision_events: Sequence[object]) -> MedicationPrescribed:
    (event,) = decision_events
    assert isinstance(event, MedicationPrescribed)
    return event


def test_drug_class_match_is_refused_without_an_override() -> None:
    # "Penicillins" rules out the class penicillin; amoxicillin is a penicillin (and beta-lactam).
    chart = chart_after(allergic_to("Penicillins"))
    err = refuse(prescribe("amoxicillin"), chart, error=AllergyConflictError)
    assert isinstance(err, AllergyConflictError)
    assert err.message == (
        "The patient has a recorded allergy to Penicillins that matches Amoxicillin; "
        "give a reason to override"
    )
    assert (err.field, err.allergy_id) == ("override_reason", "al-1")


def test_drug_class_match_is_accepted_with_an_override_that_is_recorded() -> None:
    chart = chart_after(allergic_to("Penicillins"))
    decision = accept(prescribe("Amoxicillin", override_reason=" tolerated before "), chart)
    event = prescribed(decision.events)
    assert event.override_reason == "tolerated before"
    assert event.overridden_allergy_ids == ["al-1"]


def test_drug_name_match_with_unlisted_allergy_and_drug() -> None:
    chart = chart_after(allergic_to("Chloroquine"))
    err = refuse(prescribe(" CHLOROQUINE "), chart, error=AllergyConflictError)
    assert err.message == (
        "The patient has a recorded allergy to Chloroquine that matches CHLOROQUINE; "
        "give a reason to override"
    )


def test_free_text_allergy_matches_a_listed_medicine_by_name() -> None:
    chart = chart_after(allergic_to("ibuprofen"))
    err = refuse(prescribe("Ibuprofen"), chart, error=AllergyConflictError)
    assert isinstance(err, AllergyConflictError)
    assert err.allergy_id == "al-1"


def test_allergy_listing_medicine_ids_rules_them_out() -> None:
    catalog = Catalog(
        medicines={"cotrim": Medicine("cotrim", "Co-trimoxazole")},
        substances={
            "sulfa": AllergySubstance("sulfa", "Sulfa drugs", medicines=frozenset({"cotrim"}))
        },
    )
    ctx = context(catalog=catalog)
    chart = chart_after(allergic_to("Sulfa drugs"), ctx=ctx)
    err = refuse(prescribe("Co-trimoxazole"), chart, ctx=context(catalog=catalog))
    assert isinstance(err, AllergyConflictError)


def test_every_matching_allergy_is_recorded_as_overridden() -> None:
    chart = chart_after(
        allergic_to("Penicillins", "al-1"),
        allergic_to("Amoxicillin", "al-2"),
        allergic_to("peanut", "al-3"),
    )
    event = prescribed(accept(prescribe("amoxicillin", "no alternative"), chart).events)
    assert sorted(event.overridden_allergy_ids) == ["al-1", "al-2"]


def test_unrelated_allergy_does_not_block() -> None:
    chart = chart_after(allergic_to("Sulfonamide antibiotics"), allergic_to("peanut", "al-2"))
    event = prescribed(accept(prescribe("amoxicillin"), chart).events)
    assert event.overridden_allergy_ids == []


def test_override_reason_without_a_conflict_is_not_recorded() -> None:
    event = prescribed(accept(prescribe("amoxicillin", "just in case")).events)
    assert event.override_reason is None


def test_inactive_or_erroneous_allergies_do_not_block() -> None:
    inactive = chart_after(
        allergic_to("Penicillins"),
        c.UpdateAllergyStatus(patient_id=PID, allergy_id="al-1", status="inactive"),
    )
    assert prescribed(accept(prescribe("amoxicillin"), inactive).events).drug_id == "amoxicillin"
    in_error = chart_after(
        allergic_to("Penicillins"),
        c.MarkEnteredInError(patient_id=PID, item_id="al-1", reason="other patient"),
    )
    assert prescribed(accept(prescribe("amoxicillin"), in_error).events).drug_id == "amoxicillin"


def test_duplicate_active_prescription_warns_but_is_recorded() -> None:
    chart = chart_after(prescribe("paracetamol"))
    decision = accept(prescribe("Paracetamol"), chart)
    assert prescribed(decision.events).drug_id == "paracetamol"
    assert list(map(str, decision.warnings)) == [
        "Paracetamol is already prescribed and active (duplicate prescription)"
    ]


def test_duplicate_free_text_prescription_warns_too() -> None:
    # Zinc sulfate is not in the test catalog: prescribing it needs an acknowledgement, and
    # the duplicate check can only compare names.
    chart = chart_after(replace(prescribe("Zinc sulfate"), unchecked_acknowledged=True))
    decision = accept(replace(prescribe("zinc SULFATE"), unchecked_acknowledged=True), chart)
    assert list(map(str, decision.warnings)) == [
        "zinc SULFATE is not in the medicine list: allergies and duplicates were checked "
        "against its name only",
        "zinc SULFATE is already prescribed and active (duplicate prescription)",
    ]


def test_no_duplicate_warning_once_the_first_is_stopped() -> None:
    chart = chart_after(
        prescription(
            PID, "paracetamol", prescription_id="rx-1", dose=1, dose_unit="g", frequency="QID"
        ),
        c.DiscontinueMedication(patient_id=PID, prescription_id="rx-1", reason="course done"),
    )
    assert accept(prescribe("paracetamol"), chart).warnings == []


# The bundled catalog: a penicillin allergy lists cephalosporins as a caution class (and the
# other way round); cefalexin is a cephalosporin.
BUNDLED = context(catalog=bundled_catalog())


def test_a_cross_reacting_class_is_a_caution_not_a_refusal() -> None:
    chart = chart_after(allergic_to("Penicillins"), ctx=BUNDLED)
    decision = accept(prescribe("cefalexin"), chart, BUNDLED)
    event = prescribed(decision.events)
    assert event.override_reason is None and event.overridden_allergy_ids == []
    assert list(map(str, decision.warnings)) == [
        "Possible cross-reactivity: the patient has a recorded allergy to Penicillins, and "
        "cefalexin belongs to a related drug class; check the reaction before giving it"
    ]


def test_an_allergy_to_the_class_itself_still_refuses() -> None:
    chart = chart_after(allergic_to("Cephalosporins"), ctx=BUNDLED)
    refuse(prescribe("cefalexin"), chart, BUNDLED, error=AllergyConflictError)


def test_no_caution_for_an_unrelated_drug_or_an_inactive_allergy() -> None:
    chart = chart_after(allergic_to("Penicillins"), ctx=BUNDLED)
    assert accept(prescribe("paracetamol"), chart, BUNDLED).warnings == []
    resolved = chart_after(
        allergic_to("Penicillins"),
        c.UpdateAllergyStatus(patient_id=PID, allergy_id="al-1", status="resolved"),
        ctx=BUNDLED,
    )
    assert accept(prescribe("cefalexin"), resolved, BUNDLED).warnings == []
