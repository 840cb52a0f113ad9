"""The medicine vocabulary loads cleanly, and IT's local medicine file adds names without
being able to change what the bundled lists say (resources/README.md, "Local medicine
names")."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from app.domain.allergens import resolve_allergen
from app.domain.medicines import resolve_drug
from app.store.reference_data import (
    LOCAL_MEDICINES_ENV,
    LOCAL_MEDICINES_FILE,
    bundled_catalog,
    catalog_for,
    check_local_medicines,
    load_catalog,
)


def test_the_bundled_vocabulary_names_only_known_medicines_and_classes() -> None:
    catalog = bundled_catalog()
    vocabulary = resources.files("resources").joinpath("codes", "medicine_vocabulary.json")
    data = json.loads(vocabulary.read_text(encoding="utf-8"))
    assert list(data)[:4] == ["source", "licence", "version", "retrieved"]
    assert len(catalog.medicine_names) == len(data["names"])
    for med in catalog.medicines.values():
        assert med.ingredient_ids <= set(catalog.medicines), med.id
        assert med.classes <= set(catalog.class_names), med.id
    combination = catalog.medicines["amoxicillin_clavulanic_acid"]
    assert combination.ingredients == {"amoxicillin", "clavulanic_acid"}
    assert {"penicillin", "beta_lactamase_inhibitor"} <= combination.classes


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


LOCAL = {
    "source": "Mbeya district pharmacy list",
    "licence": "local",
    "version": "2026-11",
    "retrieved": "2026-11-30",
    "names": [
        {"name": "Amoxi-Mbeya", "medicine": "amoxicillin", "kind": "local"},
        # Would redirect a bundled brand: refused, the bundled meaning stays.
        {"name": "Augmentin", "medicine": "paracetamol", "kind": "local"},
        {"name": "Kilimo", "medicine": "no_such_medicine", "kind": "local"},
    ],
    "ingredients": [{"id": "tinidazole", "name": "tinidazole", "classes": ["nitroimidazole"]}],
    "products": [
        {
            "id": "ciprofloxacin_tinidazole",
            "name": "ciprofloxacin + tinidazole",
            "ingredients": ["ciprofloxacin", "tinidazole"],
        },
        {"id": "amoxicillin_clavulanic_acid", "ingredients": ["paracetamol"]},
    ],
}


def test_a_local_file_adds_names_and_products(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path / "local.json", LOCAL))
    found = resolve_drug(catalog, "amoxi mbeya 250mg")
    assert found.medicine is not None and found.medicine.id == "amoxicillin"
    combo = resolve_drug(catalog, "Ciprofloxacin/Tinidazole")
    assert combo.ingredients == {"ciprofloxacin", "tinidazole"} and combo.complete
    assert resolve_allergen(catalog, "Amoxi-Mbeya").classes == {"penicillin"}
    # The bundled catalog (and its lookups) are untouched.
    assert not resolve_drug(bundled_catalog(), "Amoxi-Mbeya").complete


def test_a_local_file_cannot_change_bundled_meanings(tmp_path: Path) -> None:
    path = _write(tmp_path / "local.json", LOCAL)
    catalog = load_catalog(path)
    augmentin = resolve_drug(catalog, "Augmentin")
    assert augmentin.medicine is not None
    assert augmentin.medicine.id == "amoxicillin_clavulanic_acid"
    assert augmentin.ingredients == {"amoxicillin", "clavulanic_acid"}
    assert check_local_medicines(path) == [
        "product 'amoxicillin_clavulanic_acid' is already listed; skipped",
        "name 'Augmentin' already means 'amoxicillin_clavulanic_acid'; skipped",
        "name 'Kilimo': unknown medicine 'no_such_medicine'; skipped",
    ]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", ""])
def test_an_unreadable_local_file_is_ignored_and_reported(tmp_path: Path, content: str) -> None:
    path = tmp_path / "local.json"
    path.write_text(content, encoding="utf-8")
    assert load_catalog(path).medicine_names == bundled_catalog().medicine_names
    (problem,) = check_local_medicines(path)
    assert "its names are not used" in problem


def test_the_data_directory_file_and_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert catalog_for(tmp_path) is bundled_catalog()
    _write(tmp_path / LOCAL_MEDICINES_FILE, LOCAL)
    assert "Amoxi-Mbeya" in catalog_for(tmp_path).medicine_names
    other = _write(tmp_path / "elsewhere.json", LOCAL)
    monkeypatch.setenv(LOCAL_MEDICINES_ENV, str(other))
    assert "Amoxi-Mbeya" in bundled_catalog().medicine_names
    monkeypatch.delenv(LOCAL_MEDICINES_ENV)
    assert "Amoxi-Mbeya" not in bundled_catalog().medicine_names
