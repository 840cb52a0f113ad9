"""Issue 12: the allergy and duplicate checks compare ingredients and drug classes, whatever
the drug or allergy was typed as (brand, combination, older or foreign spelling, slip of the
keyboard), and a drug the medicine list cannot resolve is never accepted unchecked.

Every case runs on the bundled catalog (resources/codes/*.json, with medicine_vocabulary.json).
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.domain import commands as c
from app.domain.chart import PatientChart
from app.domain.decision import Decision
from app.domain.errors import AllergyConflictError, DomainError, ValidationError
from app.domain.events import AllergyRecorded, MedicationPrescribed
from app.domain.medicines import key_of, resolve_drug, words
from app.store.reference_data import bundled_catalog
from tests.clinic_fixtures import prescription
from tests.domain.builders import PID, accept, chart_after, context

CATALOG = bundled_catalog()
CTX = context(catalog=CATALOG)

REFUSED = "refused: needs an override reason"
CAUTION = "accepted with a cross-reactivity caution"
ACK = "refused: needs the unchecked acknowledgement"
ACCEPTED = "accepted"


def rx(drug: str, **more: object) -> c.PrescribeMedication:
    return prescription(PID, drug, **more)


def allergic_to(substance: str, allergy_id: str = "al-1") -> c.RecordAllergy:
    return c.RecordAllergy(patient_id=PID, allergy_id=allergy_id, substance=substance)


_CHARTS: dict[str, PatientChart] = {}


def chart_allergic_to(substance: str) -> PatientChart:
    if substance not in _CHARTS:
        _CHARTS[substance] = chart_after(allergic_to(substance), ctx=CTX)
    return _CHARTS[substance]


def outcome(chart: PatientChart, drug: str) -> tuple[str, DomainError | Decision]:
    try:
        decision = accept(rx(drug), chart, CTX)
    except AllergyConflictError as err:
        return REFUSED, err
    except ValidationError as err:
        assert err.field == "unchecked_acknowledged", err.message
        return ACK, err
    if any(w.startswith("Possible cross-reactivity") for w in list(map(str, decision.warnings))):
        return CAUTION, decision
    return ACCEPTED, decision


# (recorded allergy, drug typed, expected outcome)
CASES = [
    # -- penicillins: brands, combinations, BAN spellings and slips ----------------------------
    ("Penicillins", "amoxicillin", REFUSED),
    ("Penicillins", "Amoxycillin", REFUSED),
    ("Penicillins", "AMOXIL 500 mg capsules", REFUSED),
    ("Penicillins", "Augmentin", REFUSED),
    ("Penicillins", "Augmentin 625", REFUSED),
    ("Penicillins", "co-amoxiclav", REFUSED),
    ("Penicillins", "amoxicillin + clavulanate", REFUSED),
    ("Penicillins", "Amoxicillin/clavulanic acid", REFUSED),
    ("Penicillins", "amoxicilin", REFUSED),
    ("Penicillins", "amoxicillen", REFUSED),
    ("Penicillins", "ampicillin", REFUSED),
    ("Penicillins", "Penbritin", REFUSED),
    ("Penicillins", "Unasyn", REFUSED),
    ("Penicillins", "penicillin V", REFUSED),
    ("Penicillins", "Phenoxymethylpenicillin", REFUSED),
    ("Penicillins", "benzathine penicillin G", REFUSED),
    ("Penicillins", "Bicillin L-A", REFUSED),
    ("Penicillins", "benzylpenicillin", REFUSED),
    ("Penicillins", "cloxacillin", REFUSED),
    ("Penicillins", "Orbenin", REFUSED),
    ("Penicillins", "flucloxacillin", REFUSED),
    ("Penicillins", "floxacillin", REFUSED),
    ("Penicillins", "Floxapen", REFUSED),
    ("Penicillins", "Tazocin", REFUSED),
    ("Penicillins", "piperacillin/tazobactam", REFUSED),
    ("penicillin allergy", "Augmentin", REFUSED),
    ("PCN", "amoxicillin", REFUSED),
    ("penicilin", "Amoxil", REFUSED),
    ("amoxycillin", "ampicillin", REFUSED),
    ("Augmentin", "amoxicillin", REFUSED),
    ("Augmentin allergy", "flucloxacillin", REFUSED),
    ("Amoxil", "Penicillin VK", REFUSED),
    ("flucloxacillin", "Augmentin", REFUSED),
    ("Penicillins", "azithromycin", ACCEPTED),
    ("Penicillins", "Zithromax", ACCEPTED),
    ("Penicillins", "ciprofloxacin", ACCEPTED),
    # -- cephalosporins: cross-reactivity is a caution, a cephalosporin allergy refuses --------
    ("Penicillins", "cefalexin", CAUTION),
    ("Penicillins", "cephalexin", CAUTION),
    ("Penicillins", "Keflex", CAUTION),
    ("Penicillins", "ceftriaxone", CAUTION),
    ("Penicillins", "Rocephin", CAUTION),
    ("Penicillins", "cefuroxime", CAUTION),
    ("Penicillins", "Zinnat", CAUTION),
    ("Penicillins", "Suprax", CAUTION),
    ("Penicillins", "cefadroxil", CAUTION),
    ("Penicillins", "cephazolin", CAUTION),
    ("amoxycillin", "ceftriaxone", CAUTION),
    ("Augmentin", "Keflex", CAUTION),
    ("Cephalosporins", "cefalexin", REFUSED),
    ("Cephalosporins", "Rocephin", REFUSED),
    ("Cephalosporins", "amoxicillin", CAUTION),
    ("Keflex", "ceftriaxone", REFUSED),
    ("cephalexin", "Augmentin", CAUTION),
    ("Beta-lactam antibiotics (all)", "Augmentin", REFUSED),
    ("Beta-lactam antibiotics (all)", "Keflex", REFUSED),
    # -- sulfonamides: co-trimoxazole brands and spellings ---------------------------------------
    ("sulpha drugs", "Bactrim", REFUSED),
    ("sulpha drugs", "Septrin", REFUSED),
    ("sulfa", "Septra", REFUSED),
    ("sulfa", "co-trimoxazole", REFUSED),
    ("sulfa", "cotrimoxazole", REFUSED),
    ("sulfa", "TMP-SMX", REFUSED),
    ("sulfa", "TMP/SMX", REFUSED),
    ("sulfa", "sulphamethoxazole + trimethoprim", REFUSED),
    ("sulfa", "trimethoprim/sulfamethoxazole", REFUSED),
    ("sulfa", "Fansidar", REFUSED),
    ("sulfa", "silver sulphadiazine", REFUSED),
    ("sulfa", "sulfasalazine", REFUSED),
    ("Sulfonamides", "Bactrim DS", REFUSED),
    ("Bactrim", "Septrin", REFUSED),
    ("Bactrim", "sulfadiazine", REFUSED),
    ("Bactrim", "trimethoprim", REFUSED),
    ("Septrin allergy", "co-trimoxazole 960 mg tablets", REFUSED),
    ("sulfa", "furosemide", CAUTION),
    ("sulfa", "frusemide", CAUTION),
    ("sulfa", "Lasix", CAUTION),
    ("sulfa", "hydrochlorothiazide", CAUTION),
    ("sulfa", "dapsone", CAUTION),
    ("sulpha", "amoxicillin", ACCEPTED),
    # -- NSAIDs and aspirin ------------------------------------------------------------------
    ("NSAIDs", "ibuprofen", REFUSED),
    ("NSAIDs", "Brufen", REFUSED),
    ("NSAIDs", "Advil", REFUSED),
    ("NSAIDs", "Nurofen 200mg", REFUSED),
    ("NSAIDs", "ibuprofin", REFUSED),
    ("NSAIDs", "diclofenac", REFUSED),
    ("NSAIDs", "Voltaren gel", REFUSED),
    ("NSAIDs", "naproxen", REFUSED),
    ("NSAIDs", "Naprosyn", REFUSED),
    ("NSAIDs", "indomethacin", REFUSED),
    ("NSAIDs", "indometacin", REFUSED),
    ("NSAIDs", "mefenamic acid", REFUSED),
    ("NSAIDs", "Ponstan", REFUSED),
    ("NSAIDs", "piroxicam", REFUSED),
    ("NSAIDs", "Toradol", REFUSED),
    ("NSAIDs", "aspirin", REFUSED),
    ("NSAIDs", "acetylsalicylic acid", REFUSED),
    ("NSAIDs", "Disprin", REFUSED),
    ("NSAIDs", "celecoxib", REFUSED),
    ("NSAIDs", "paracetamol", ACCEPTED),
    ("NSAIDs", "acetaminophen", ACCEPTED),
    ("NSAIDs", "Panadol", ACCEPTED),
    ("aspirin", "Disprin", REFUSED),
    ("aspirin", "acetyl salicylic acid", REFUSED),
    ("aspirin", "ASA", REFUSED),
    ("Aspirin allergy", "Ecotrin", REFUSED),
    ("aspirin", "ibuprofen", CAUTION),
    ("aspirin", "Voltaren", CAUTION),
    ("aspirin", "naproxen", CAUTION),
    ("aspirin", "paracetamol", ACCEPTED),
    ("ibuprofen", "Nurofen", REFUSED),
    ("ibuprofen", "ibuprofin", REFUSED),
    ("ibuprofen", "diclofenac", CAUTION),
    ("Voltaren", "diclofenac sodium", REFUSED),
    ("Voltaren", "ibuprofen", CAUTION),
    ("naproxen", "Aleve", REFUSED),
    ("naproxen", "ibuprofen", CAUTION),
    ("paracetamol", "Tylenol with codeine", REFUSED),
    ("paracetamol", "co-codamol", REFUSED),
    ("Codeine", "Tylenol with codeine", REFUSED),
    # -- drugs the list does not know: refused until acknowledged, never guessed ---------------
    ("Penicillins", "Nurofen Plus", ACK),
    ("Penicillins", "prednisone", ACK),
    ("Penicillins", "xyzmycin", ACK),
    ("sulfa", "amoxicillin + xyzmycin", ACK),
    ("Penicillins", "amoxicillin + xyzmycin", REFUSED),
    ("Zubrin", "Zubrin", REFUSED),
    ("peanut", "Coartem", ACCEPTED),
    ("peanut", "Zubrin", ACK),
]


def test_the_table_covers_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60
    assert len({(a, d) for a, d, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("allergy", "drug", "expected"), CASES)
def test_prescribing_against_a_recorded_allergy(allergy: str, drug: str, expected: str) -> None:
    found, result = outcome(chart_allergic_to(allergy), drug)
    assert found == expected, result
    if expected == REFUSED:
        assert isinstance(result, AllergyConflictError)
        assert result.allergy_id == "al-1"
        assert result.message.startswith(
            f"The patient has a recorded allergy to {allergy} that matches "
        )


@pytest.mark.parametrize(
    ("allergy", "drug"), [(a, d) for a, d, expected in CASES if expected == REFUSED][:12]
)
def test_an_override_reason_records_the_overridden_allergy_and_the_ingredients(
    allergy: str, drug: str
) -> None:
    decision = accept(
        rx(drug, override_reason="tolerated before", unchecked_acknowledged=True),
        chart_allergic_to(allergy),
        CTX,
    )
    (event,) = decision.events
    assert isinstance(event, MedicationPrescribed)
    assert (event.override_reason, event.overridden_allergy_ids) == ("tolerated before", ["al-1"])
    assert event.ingredient_ids == sorted(resolve_drug(CATALOG, drug).ingredients)


def test_a_brand_keeps_its_typed_name_with_the_listed_product_and_ingredients() -> None:
    (event,) = accept(rx("Augmentin"), chart_after(ctx=CTX), CTX).events
    assert isinstance(event, MedicationPrescribed)
    assert (event.drug, event.drug_id, event.drug_match) == (
        "Augmentin",
        "amoxicillin_clavulanic_acid",
        "name",
    )
    assert event.ingredient_ids == ["amoxicillin", "clavulanic_acid"]
    assert (event.unchecked, event.typed_drug) == (False, None)


def test_a_misspelling_is_read_as_the_one_close_drug_and_said_so() -> None:
    decision = accept(rx("amoxicilin"), chart_after(ctx=CTX), CTX)
    (event,) = decision.events
    assert isinstance(event, MedicationPrescribed)
    assert (event.drug, event.drug_id, event.drug_match, event.typed_drug) == (
        "amoxicillin",
        "amoxicillin",
        "spelling",
        "amoxicilin",
    )
    assert list(map(str, decision.warnings)) == [
        "“amoxicilin” was read as amoxicillin, the closest name in the medicine list; check "
        "that this is the drug you meant"
    ]


def test_an_unlisted_drug_is_refused_with_a_way_to_confirm_it() -> None:
    chart = chart_allergic_to("Penicillins")
    found, err = outcome(chart, "Nurofen Plus")
    assert found == ACK and isinstance(err, ValidationError)
    assert err.message == (
        "Nurofen Plus is not in the medicine list — allergies and duplicates were not checked; "
        "confirm to prescribe it anyway"
    )
    decision = accept(rx("Nurofen Plus", unchecked_acknowledged=True), chart, CTX)
    (event,) = decision.events
    assert isinstance(event, MedicationPrescribed)
    assert (event.drug, event.drug_id, event.unchecked, event.ingredient_ids) == (
        "Nurofen Plus",
        None,
        True,
        [],
    )
    assert list(map(str, decision.warnings)) == [
        "Nurofen Plus is not in the medicine list: allergies and duplicates were checked "
        "against its name only"
    ]


def test_a_partly_known_drug_names_the_unknown_part_and_keeps_the_known_ingredients() -> None:
    chart = chart_allergic_to("sulfa")
    _, err = outcome(chart, "amoxicillin + xyzmycin")
    assert err.message == (  # type: ignore[union-attr]
        "xyzmycin (in amoxicillin + xyzmycin) is not in the medicine list — allergies and "
        "duplicates were not checked for it; confirm to prescribe it anyway"
    )
    (event,) = accept(rx("amoxicillin + xyzmycin", unchecked_acknowledged=True), chart, CTX).events
    assert isinstance(event, MedicationPrescribed)
    assert (event.unchecked, event.ingredient_ids) == (True, ["amoxicillin"])


def test_the_acknowledgement_is_not_recorded_for_a_listed_drug() -> None:
    (event,) = accept(rx("Bactrim", unchecked_acknowledged=True), chart_after(ctx=CTX), CTX).events
    assert isinstance(event, MedicationPrescribed) and event.unchecked is False


# -- duplicates: the same ingredient under another name ----------------------------------------

DUPLICATES = [
    ("amoxicillin", "Augmentin", "Augmentin contains amoxicillin, already prescribed and active "
     "in amoxicillin (duplicate prescription)"),
    ("Augmentin", "co-amoxiclav", "co-amoxiclav is already prescribed and active (duplicate "
     "prescription)"),
    ("amoxicillin", "Amoxil", "Amoxil is already prescribed and active (duplicate prescription)"),
    ("amoxicillin", "amoxicilin", "amoxicillin is already prescribed and active (duplicate "
     "prescription)"),
    ("paracetamol", "Panadol", "Panadol is already prescribed and active (duplicate "
     "prescription)"),
    ("paracetamol", "co-codamol", "co-codamol contains paracetamol, already prescribed and "
     "active in paracetamol (duplicate prescription)"),
    ("Tylenol", "Tylenol with codeine", "Tylenol with codeine contains paracetamol, already "
     "prescribed and active in Tylenol (duplicate prescription)"),
    ("Bactrim", "trimethoprim", "trimethoprim contains trimethoprim, already prescribed and "
     "active in Bactrim (duplicate prescription)"),
    ("ibuprofen", "Nurofen", "Nurofen is already prescribed and active (duplicate "
     "prescription)"),
    ("Voltaren", "diclofenac", "diclofenac is already prescribed and active (duplicate "
     "prescription)"),
    ("ibuprofen", "diclofenac", None),
    ("amoxicillin", "azithromycin", None),
]  # fmt: skip


@pytest.mark.parametrize(("first", "second", "warning"), DUPLICATES)
def test_a_shared_ingredient_is_a_duplicate_prescription(
    first: str, second: str, warning: str | None
) -> None:
    chart = chart_after(rx(first), ctx=CTX)
    decision = accept(rx(second), chart, CTX)
    duplicates = [w for w in list(map(str, decision.warnings)) if "duplicate" in w]
    assert duplicates == ([warning] if warning else [])


def test_a_stopped_prescription_is_no_duplicate() -> None:
    chart = chart_after(
        replace(rx("amoxicillin"), prescription_id="rx-1"),
        c.DiscontinueMedication(patient_id=PID, prescription_id="rx-1", reason="done"),
        ctx=CTX,
    )
    assert accept(rx("Augmentin"), chart, CTX).warnings == []


def test_a_server_copy_without_ingredients_is_resolved_from_its_drug() -> None:
    chart = chart_after(replace(rx("Augmentin"), prescription_id="rx-1"), ctx=CTX)
    chart.items["rx-1"].data.pop("ingredient_ids")
    chart.items["rx-1"].data["drug_id"] = None
    warnings = list(map(str, accept(rx("amoxicillin"), chart, CTX).warnings))
    assert warnings == [
        "amoxicillin contains amoxicillin, already prescribed and active in Augmentin "
        "(duplicate prescription)"
    ]


# -- allergies typed as free text ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "substance_id", "ingredients", "classes", "match"),
    [
        ("Augmentin allergy", None, {"amoxicillin", "clavulanic_acid"}, {"penicillin"}, "name"),
        ("amoxycillin", None, {"amoxicillin"}, {"penicillin"}, "name"),
        ("sulpha drugs", "sulfonamide", set(), {"sulfonamide"}, "listed"),
        ("Bactrim", None, {"sulfamethoxazole", "trimethoprim"}, {"sulfonamide"}, "name"),
        ("NSAIDs", "nsaid", set(), {"nsaid"}, "listed"),
        ("aspirin", "aspirin", {"aspirin"}, {"salicylate"}, "listed"),
        ("penicilin", "penicillin", set(), {"penicillin"}, "spelling"),
    ],
)
def test_a_typed_allergy_resolves_to_ingredients_and_classes(
    typed: str, substance_id: str | None, ingredients: set[str], classes: set[str], match: str
) -> None:
    (event,) = accept(allergic_to(typed), chart_after(ctx=CTX), CTX).events
    assert isinstance(event, AllergyRecorded)
    assert event.substance_id == substance_id
    assert ingredients <= set(event.ingredient_ids)
    assert set(event.class_ids) == classes
    assert (event.substance_match, event.unresolved) == (match, False)


def test_an_unmatched_medication_allergy_is_recorded_and_marked_unresolved() -> None:
    decision = accept(allergic_to("Zubrin"), chart_after(ctx=CTX), CTX)
    (event,) = decision.events
    assert isinstance(event, AllergyRecorded)
    assert (event.unresolved, event.substance_match, event.ingredient_ids) == (True, None, [])
    assert list(map(str, decision.warnings)) == [
        "Zubrin is not matched to the medicine list — prescriptions are only checked against "
        "its exact name"
    ]


def test_an_unmatched_food_allergy_is_not_marked() -> None:
    command = replace(allergic_to("mango"), category="food")
    (event,) = accept(command, chart_after(ctx=CTX), CTX).events
    assert isinstance(event, AllergyRecorded) and event.unresolved is False


def test_an_allergy_recorded_before_resolution_is_resolved_when_prescribing() -> None:
    chart = chart_allergic_to("Augmentin allergy")
    old = PatientChart(PID, dict(chart.demographics), [], registered=True)
    item = replace(chart.items["al-1"], data=dict(chart.items["al-1"].data))
    for key in ("ingredient_ids", "class_ids", "caution_class_ids", "substance_match"):
        item.data.pop(key)
    old.items["al-1"] = item
    assert outcome(old, "ampicillin")[0] == REFUSED


# -- properties: no spelling of a listed drug escapes a matching allergy --------------------

MEDICINES = sorted(CATALOG.medicines.values(), key=lambda m: m.id)
ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _other_listed(text: str, medicine_id: str) -> bool:
    """The text is exactly another medicine's name: it is that drug, not a slip."""
    found = resolve_drug(CATALOG, text)
    return found.how in ("listed", "name") and (
        found.medicine is None or found.medicine.id != medicine_id
    )


@st.composite
def written_as(draw: st.DrawFn, name: str) -> str:
    """`name` in another case, with accents, spaces and hyphens sprinkled in."""
    out = []
    for char in name:
        if char.isalpha():
            char = char.upper() if draw(st.booleans()) else char.lower()
            if draw(st.integers(0, 9)) == 0:
                char = unicodedata.normalize("NFC", char + "\u0301")
        out.append(char)
        if char.isalpha() and draw(st.integers(0, 12)) == 0:
            out.append(draw(st.sampled_from([" ", "-", "  "])))
    return "".join(out)


@st.composite
def one_slip(draw: st.DrawFn, name: str) -> str:
    """`name` with one letter changed, dropped, added, or two neighbours swapped."""
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    i = draw(st.sampled_from(letters))
    kind = draw(st.sampled_from(["change", "drop", "add", "swap"]))
    letter = draw(st.sampled_from(ALPHABET))
    if kind == "change":
        return name[:i] + letter + name[i + 1 :]
    if kind == "drop":
        return name[:i] + name[i + 1 :]
    if kind == "add":
        return name[:i] + letter + name[i:]
    j = i + 1 if i + 1 < len(name) and name[i + 1].isalpha() else i - 1
    assume(j >= 0 and name[j].isalpha() and name[i] != name[j])
    a, b = sorted((i, j))
    return name[:a] + name[b] + name[a] + name[b + 1 :]


def _spellings(med_name: str, medicine_id: str) -> st.SearchStrategy[str]:
    synonyms = sorted(n for n, m in CATALOG.medicine_names.items() if m == medicine_id)
    plain = st.sampled_from([med_name, *synonyms])
    variants = plain.flatmap(written_as)
    if len(key_of(words(med_name))) >= 7:
        variants = variants | plain.filter(lambda n: len(key_of(words(n))) >= 7).flatmap(one_slip)
    return variants


@st.composite
def listed_drug_spelling(draw: st.DrawFn) -> tuple[str, str, str]:
    med = draw(st.sampled_from(MEDICINES))
    text = draw(_spellings(med.name, med.id))
    assume(not _other_listed(text, med.id))
    return med.id, med.name, text


def _refused(chart: PatientChart, drug: str) -> bool:
    return outcome(chart, drug)[0] in (REFUSED, ACK)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(listed_drug_spelling())
def test_no_spelling_of_a_listed_drug_escapes_an_allergy_to_it(
    drug: tuple[str, str, str],
) -> None:
    _medicine_id, name, typed = drug
    assert _refused(chart_allergic_to(name), typed), typed


CLASS_ALLERGIES = {"penicillin": "Penicillins", "sulfonamide": "sulpha drugs", "nsaid": "NSAIDs"}
IN_CLASS = [(m, cls) for m in MEDICINES for cls in sorted(CLASS_ALLERGIES) if cls in m.classes]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.sampled_from(IN_CLASS).flatmap(
    lambda pair: st.tuples(st.just(pair), _spellings(pair[0].name, pair[0].id))
))  # fmt: skip
def test_no_spelling_of_a_class_member_escapes_a_class_allergy(
    drawn: tuple[tuple[object, str], str],
) -> None:
    (med, cls), typed = drawn
    assume(not _other_listed(typed, med.id))  # type: ignore[attr-defined]
    assert _refused(chart_allergic_to(CLASS_ALLERGIES[cls]), typed), typed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(listed_drug_spelling())
def test_a_slip_is_never_read_as_a_different_drug(drug: tuple[str, str, str]) -> None:
    medicine_id, _name, typed = drug
    found = resolve_drug(CATALOG, typed)
    assert found.medicine is None or found.medicine.id == medicine_id or not found.complete


def test_every_listed_name_resolves_to_its_own_medicine() -> None:
    for med in MEDICINES:
        assert resolve_drug(CATALOG, med.name).medicine == med, med.name
        assert resolve_drug(CATALOG, med.id).medicine == med, med.id
    for name, medicine_id in CATALOG.medicine_names.items():
        found = resolve_drug(CATALOG, name)
        assert found.medicine is not None and found.medicine.id == medicine_id, name
