"""IT adds a local brand name in the vault's data directory: every unlock of that vault
resolves it to its ingredients, so the allergy check meets it like any listed name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.errors import DomainError
from app.services.clinic import open_clinic
from app.store.reference_data import LOCAL_MEDICINES_FILE
from tests.clinic_fixtures import DOC, FakeClock, create_vault, prescription, register

LOCAL = {
    "source": "Mbeya district pharmacy list",
    "licence": "local",
    "version": "2026-11",
    "retrieved": "2026-11-30",
    "names": [{"name": "Amoxi-Mbeya", "medicine": "amoxicillin", "kind": "local"}],
}


def test_a_local_brand_in_the_data_directory_meets_a_penicillin_allergy(tmp_path: Path) -> None:
    vault = create_vault(tmp_path / "vault")
    (vault.data_dir / LOCAL_MEDICINES_FILE).write_text(json.dumps(LOCAL), encoding="utf-8")
    vault.unlock("doc", "passphrase-2")
    clinic = open_clinic(vault, clock=FakeClock())  # no catalog given: the device's own
    try:
        pid = register(clinic)
        clinic.commands.execute(c.RecordAllergy(patient_id=pid, substance="Penicillin"), DOC)
        amoxi = prescription(pid, "Amoxi-Mbeya")
        with pytest.raises(DomainError) as refused:
            clinic.commands.execute(amoxi, DOC)
        assert refused.value.field == "override_reason"
        assert "Amoxi-Mbeya" in refused.value.message
    finally:
        clinic.close()
