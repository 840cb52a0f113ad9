"""Code-list names in the launch languages: only published names, every one for a bundled code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.i18n import LAUNCH_LANGUAGES, SOURCE_LANGUAGE, code_names, using_language

CODES = Path(__file__).resolve().parents[2] / "resources" / "codes"
TRANSLATED = [language for language in LAUNCH_LANGUAGES if language != SOURCE_LANGUAGE]


def _load(name: str) -> Any:
    return json.loads((CODES / name).read_text(encoding="utf-8"))


def _bundled() -> dict[str, dict[str, str]]:
    """{section: {key: English name}} of the bundled lists."""
    icd = _load("icd10_primary_care.json")
    entries = next(value for value in icd.values() if isinstance(value, list))
    return {
        "diagnoses": {entry["code"]: entry["title"] for entry in entries},
        "vitals": {vital["key"]: vital["display"] for vital in _load("vitals.json")["vitals"]},
        "tests": {test["key"]: test["name"] for test in _load("poc_tests.json")["tests"]},
        "vaccines": {
            vaccine["id"]: vaccine["name"] for vaccine in _load("vaccines.json")["vaccines"]
        },
    }


def _translation(language: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (code_names.TRANSLATIONS_DIR / f"{language}.json").read_text(encoding="utf-8")
    )
    return document


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_launch_language_has_a_file_with_the_four_sections(language: str) -> None:
    document = _translation(language)
    assert document["language"] == language
    assert set(document["sections"]) == set(code_names.SECTIONS)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_translated_key_is_a_bundled_code(language: str) -> None:
    bundled = _bundled()
    for section, body in _translation(language)["sections"].items():
        unknown = set(body["names"]) - set(bundled[section])
        assert not unknown, f"{language}/{section}: not in the bundled list: {sorted(unknown)}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_a_section_with_names_cites_its_source_and_counts_them(language: str) -> None:
    bundled = _bundled()
    for section, body in _translation(language)["sections"].items():
        names = body["names"]
        assert all(isinstance(name, str) and name.strip() for name in names.values())
        if names:
            assert body["source"].strip(), f"{language}/{section} has names but no source"
        else:
            assert body["note"].strip(), f"{language}/{section} is empty without saying why"
        assert body["coverage"] == {"covered": len(names), "total": len(bundled[section])}


def test_a_published_name_is_shown_in_its_language() -> None:
    with using_language("es"):
        assert code_names.diagnosis_title("I10", "Essential (primary) hypertension") == (
            "Hipertensión esencial (primaria)"
        )
    with using_language("pt"):
        assert code_names.diagnosis_title("I10", "Essential (primary) hypertension") == (
            "Hipertensão essencial (primária)"
        )
    with using_language("fr"):
        assert code_names.diagnosis_title("B54", "Unspecified malaria") == (
            "Paludisme, sans précision"
        )


def test_english_is_shown_in_english() -> None:
    with using_language("en"):
        assert code_names.diagnosis_title("I10", "Essential (primary) hypertension") == (
            "Essential (primary) hypertension"
        )


def test_a_code_without_a_published_name_falls_back_to_english() -> None:
    # A01.00 is an ICD-10-CM code: no WHO-based translation titles it.
    with using_language("es"):
        assert code_names.diagnosis_title("A01.00", "Typhoid fever, unspecified") == (
            "Typhoid fever, unspecified"
        )
    with using_language("sw"):
        assert code_names.diagnosis_title("I10", "Essential (primary) hypertension") == (
            "Essential (primary) hypertension"
        )
    with using_language("fr"):
        assert code_names.vital_name("systolic", "Systolic blood pressure") == (
            "Systolic blood pressure"
        )
        assert code_names.test_name("hiv_rapid", "HIV rapid test") == "HIV rapid test"
        assert code_names.vaccine_name("bcg", "BCG") == "BCG"


def test_a_code_whose_meaning_differs_from_who_stays_english() -> None:
    # ICD-10-CM Z23 is any immunization; WHO Z23 only single bacterial diseases.
    for language in ("fr", "pt", "es"):
        with using_language(language):
            assert code_names.diagnosis_title("Z23", "Encounter for immunization") == (
                "Encounter for immunization"
            )


def test_an_unknown_code_falls_back_to_what_was_given() -> None:
    with using_language("pt"):
        assert code_names.diagnosis_title("ZZZ", "Whatever") == "Whatever"
        assert code_names.vaccine_name("no-such-vaccine", "Name") == "Name"


def test_sources_name_the_publication_of_each_section_with_names() -> None:
    assert set(code_names.sources("es")) == {"diagnoses"}
    assert "PAHO" in code_names.sources("es")["diagnoses"]
    assert "DATASUS" in code_names.sources("pt-BR")["diagnoses"]
    assert "ATIH" in code_names.sources("fr")["diagnoses"]
    assert code_names.sources("sw") == {}
    assert code_names.sources("en") == {}
    assert code_names.sources("../etc") == {}


def test_a_recorded_diagnosis_shows_the_published_title_only_when_it_is_the_lists_own() -> None:
    with using_language("fr"):
        assert code_names.recorded_diagnosis("I10", "Essential (primary) hypertension") == (
            "Hypertension essentielle (primitive)"
        )
        # the clinician's own words stay as written
        assert code_names.recorded_diagnosis("I10", "Hypertension, poorly controlled") == (
            "Hypertension, poorly controlled"
        )
    assert code_names.recorded_diagnosis("I10", "Essential (primary) hypertension") == (
        "Essential (primary) hypertension"
    )
