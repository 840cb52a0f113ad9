"""What the prescribing checks resolved (ingredients, how the drug was recognised, the
unchecked and unresolved markers) reaches the server in one FieldChart extension and comes
back unchanged, so every device's chart shows the same markers (issue 12)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.domain import events as ev
from sync.fhir.mapping.medicine_check import EXT_MEDICINE_CHECK
from tests.sync.mapping_builders import (
    ALL_ITEMS,
    ALLERGY,
    OVERRIDDEN,
    PRESCRIBED,
    chart_of,
    server_copy,
    validate,
    writes_nothing,
)
from tests.sync.test_mapping_clinical import only, read, resources_of

UNCHECKED = replace(
    PRESCRIBED,
    drug="Nurofen Plus",
    drug_id=None,
    unchecked=True,
)
BRAND = replace(
    OVERRIDDEN,
    drug="Augmentin",
    drug_id="amoxicillin_clavulanic_acid",
    ingredient_ids=["amoxicillin", "clavulanic_acid"],
    drug_match="name",
)
SLIP = replace(
    OVERRIDDEN,
    ingredient_ids=["amoxicillin"],
    drug_match="spelling",
    typed_drug="amoxicilin",
)
RESOLVED = replace(
    ALLERGY,
    ingredient_ids=["amoxicillin", "amoxicillin_clavulanic_acid", "clavulanic_acid"],
    class_ids=["penicillin"],
    caution_class_ids=["beta_lactam", "cephalosporin"],
    substance_match="name",
)
UNRESOLVED = replace(ALLERGY, substance="Zubrin", substance_id=None, unresolved=True)


@pytest.mark.parametrize(
    "event", [UNCHECKED, BRAND, SLIP, RESOLVED, UNRESOLVED], ids=lambda e: type(e).__name__
)
def test_the_check_results_round_trip(event: ev.DomainEvent) -> None:
    if isinstance(event, ev.MedicationPrescribed):
        item_id = event.prescription_id
    else:
        assert isinstance(event, ev.AllergyRecorded)
        item_id = event.allergy_id
    # The other items as built for the mapping tests, with this one in place of its twin.
    others = [e for e in ALL_ITEMS if all(e is not t for t in (PRESCRIBED, OVERRIDDEN, ALLERGY))]
    item = chart_of(*others, event).items[item_id]
    resource = only(item)
    validate(resource)
    assert any(e["url"] == EXT_MEDICINE_CHECK for e in resource["extension"])
    assert read(resource).data == item.data
    [(key, written)] = resources_of(item).items()
    assert writes_nothing(server_copy(written), only(item, {key: server_copy(written)}))


def test_nothing_resolved_writes_no_extension() -> None:
    item = chart_of(*ALL_ITEMS).items["rx-1"]
    urls = [e["url"] for e in only(item).get("extension", [])]
    assert EXT_MEDICINE_CHECK not in urls
