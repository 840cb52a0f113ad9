"""Builders shared by the domain, projection, service and command-line tests.

A small explicit catalog (so tests do not depend on the bundled code lists), a settable clock,
the three kinds of user, and a vault with one user of each role opened as a `Clinic`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.domain import commands as c
from app.domain.reference import AllergySubstance, Catalog, Icd10Code, Medicine
from app.domain.roles import Actor, Role
from app.services.clinic import Clinic, open_clinic
from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

ADMIN = Actor("admin", Role.ADMIN)
DOC = Actor("doc", Role.CLINICIAN)
DESK = Actor("desk", Role.STAFF)
PASSPHRASES = {"admin": "passphrase-1", "doc": "passphrase-2", "desk": "passphrase-3"}

CATALOG = Catalog(
    icd10={
        "I10": Icd10Code("I10", "Essential (primary) hypertension"),
        "E11.9": Icd10Code("E11.9", "Type 2 diabetes mellitus without complications"),
        "J06.9": Icd10Code("J06.9", "Acute upper respiratory infection, unspecified"),
    },
    medicines={
        "amoxicillin": Medicine(
            "amoxicillin", "Amoxicillin", frozenset({"penicillin", "beta-lactam"}), ("oral",)
        ),
        "paracetamol": Medicine("paracetamol", "Paracetamol", frozenset({"analgesic"}), ("oral",)),
        "cotrimoxazole": Medicine(
            "cotrimoxazole", "Sulfamethoxazole/trimethoprim", frozenset({"sulfonamide"})
        ),
        "ibuprofen": Medicine("ibuprofen", "Ibuprofen", frozenset({"nsaid"}), ("oral",)),
    },
    substances={
        "penicillin": AllergySubstance("penicillin", "Penicillins", frozenset({"penicillin"})),
        "sulfonamide": AllergySubstance(
            "sulfonamide", "Sulfonamide antibiotics", frozenset({"sulfonamide"})
        ),
        "peanut": AllergySubstance("peanut", "Peanut", category="food"),
    },
)


class FakeClock:
    """A clock tests move by hand; `open_clinic(clock=...)` calls it like `datetime.now`."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def create_vault(data_dir: Path) -> Vault:
    """A vault (cheap test KDF) with an admin, a clinician `doc` and a staff member `desk`."""
    vault, _recovery = Vault.create(data_dir, "admin", PASSPHRASES["admin"], kdf=FAST_FOR_TESTS)
    vault.add_user("doc", Role.CLINICIAN, PASSPHRASES["doc"], kdf=FAST_FOR_TESTS)
    vault.add_user("desk", Role.STAFF, PASSPHRASES["desk"], kdf=FAST_FOR_TESTS)
    return vault


def add_clinician(clinic: Clinic, name: str) -> None:
    """Another clinician user on the clinic's device (bookings name the device's clinicians)."""
    clinic.vault.add_user(name, Role.CLINICIAN, f"{name} passphrase", kdf=FAST_FOR_TESTS)


@contextmanager
def clinic_in(
    data_dir: Path, clock: FakeClock | None = None, catalog: Catalog = CATALOG
) -> Iterator[Clinic]:
    """A new vault opened as a clinic; locked again on exit."""
    clinic = open_clinic(create_vault(data_dir), clock=clock or FakeClock(), catalog=catalog)
    try:
        yield clinic
    finally:
        clinic.close()


def registration(**overrides: object) -> c.RegisterPatient:
    """A valid registration; override any field."""
    fields: dict[str, object] = {
        "given": "Amina",
        "family": "Ødegård",
        "birth_date": "1980-04-23",
        "sex": "female",
        "phone": "+255 754 123 456",
        "address": "Plot 7, Mbeya",
        "identifiers": (c.Identifier("urn:fieldchart:mrn", "MRN-0001"),),
    }
    fields.update(overrides)
    return c.RegisterPatient(**fields)  # type: ignore[arg-type]


def prescription(patient_id: str, drug: str, **overrides: object) -> c.PrescribeMedication:
    """A valid prescription of `drug`, 500 mg by mouth three times a day; override any field."""
    fields: dict[str, object] = {
        "patient_id": patient_id,
        "drug": drug,
        "dose": 500,
        "dose_unit": "mg",
        "route": "oral",
        "frequency": "TID",
    }
    fields.update(overrides)
    return c.PrescribeMedication(**fields)  # type: ignore[arg-type]


def register(clinic: Clinic, actor: Actor = DESK, **overrides: object) -> str:
    """Register a patient through the service; returns the patient id."""
    return clinic.commands.execute(registration(**overrides), actor).patient_id


@dataclass(frozen=True)
class Snapshot:
    """Everything a command could have changed: log head, outbox counts, read models."""

    head: int
    outbox: dict[str, int]
    digest: str


def snapshot(clinic: Clinic) -> Snapshot:
    overview = clinic.queries.sync_overview()
    return Snapshot(
        head=clinic.vault.events.head_position(),
        outbox={
            "pending": overview.pending,
            "synced": overview.synced,
            "needs_attention": overview.needs_attention,
        },
        digest=clinic.queries.digest(),
    )
