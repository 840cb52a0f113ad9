"""Fixtures for the IT-operations tests: vaults made with the cheap test KDF (their slots carry
it, so the real CLI unlocks them quickly too), the CLI as a separate process, and a private log
directory for every test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.services.clinic import Clinic, open_clinic
from app.store.crypto import FAST_FOR_TESTS
from app.store.vault import Vault
from tests.clock import cli_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSPHRASES = {
    "admin": "admin passphrase for it",
    "doc": "clinician passphrase for it",
    "desk": "staff passphrase for it",
}
DOC = Actor("doc", Role.CLINICIAN)
# Distinctive, partly non-ASCII names: the PHI scans look for exactly these.
PATIENTS = (
    ("Zephyrine", "Quillborough-Ødegård"),
    ("Thórhildur", "Vaszquelle"),
    ("Bartholomé", "Xanthopoulos"),
)


@pytest.fixture(autouse=True)
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every CLI process (and in-process run) of a test logs into the test's own directory."""
    path = tmp_path / "logs"
    monkeypatch.setenv("FIELDCHART_LOG_DIR", str(path))
    return path


def run_cli(
    *args: str | Path, user: str = "admin", stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m app.cli ARGS` as IT runs it; passphrase and user from the environment."""
    clean = cli_environment()
    clean["FIELDCHART_LOG_DIR"] = os.environ["FIELDCHART_LOG_DIR"]
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *map(str, args)],
        cwd=REPO_ROOT,
        env={
            **clean,
            "FIELDCHART_USER": user,
            "FIELDCHART_PASSPHRASE": PASSPHRASES.get(user, ""),
            **env,
        },
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fieldchart: ")
    return lines[0]


@contextmanager
def held_open(data_dir: Path) -> Iterator[None]:
    """The vault unlocked by another process, as the desktop app holds it (its connections keep
    the file open), until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from tests.it.conftest import open_as;"
            "c = open_as(Path(sys.argv[1])); c.queries.patient_count(); print('open', flush=True);"
            "sys.stdin.readline(); c.close()",
            str(data_dir),
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield
    finally:
        holder.communicate("done\n", timeout=60)


def create_vault(data_dir: Path) -> tuple[Vault, str]:
    """A vault with an admin, a clinician `doc` and a staff member `desk` (cheap KDF); returns
    it unlocked as the admin, and the recovery secret."""
    vault, recovery = Vault.create(data_dir, "admin", PASSPHRASES["admin"], kdf=FAST_FOR_TESTS)
    vault.add_user("doc", Role.CLINICIAN, PASSPHRASES["doc"], kdf=FAST_FOR_TESTS)
    vault.add_user("desk", Role.STAFF, PASSPHRASES["desk"], kdf=FAST_FOR_TESTS)
    return vault, recovery


def open_as(data_dir: Path, user: str = "doc") -> Clinic:
    vault = Vault.open(data_dir)
    vault.unlock(user, PASSPHRASES[user])
    return open_clinic(vault)


def record_patients(clinic: Clinic, actor: Actor = DOC) -> list[str]:
    """Register the distinctive PATIENTS with vitals, a diagnosis, a note and an allergy."""
    ids = []
    for n, (given, family) in enumerate(PATIENTS):
        pid = clinic.commands.execute(
            c.RegisterPatient(
                given=given,
                family=family,
                birth_date=f"198{n}-03-1{n}",
                sex="female" if n % 2 == 0 else "male",
                phone=f"+255 700 000 00{n}",
                address=f"{n + 1} Kilimanjaro Road",
            ),
            actor,
        ).patient_id
        clinic.commands.execute(
            c.RecordVitals(patient_id=pid, systolic=118 + n, diastolic=76, heart_rate=70), actor
        )
        clinic.commands.execute(c.RecordDiagnosis(patient_id=pid, code="I10"), actor)
        clinic.commands.execute(
            c.AddNote(patient_id=pid, text=f"{given} {family} reports feeling better."), actor
        )
        clinic.commands.execute(c.RecordAllergy(patient_id=pid, substance="penicillin"), actor)
        ids.append(pid)
    return ids


@dataclass
class SeededVault:
    data_dir: Path
    recovery: str
    patients: list[str]


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[SeededVault]:
    """A locked vault holding the PATIENTS' charts."""
    data_dir = tmp_path / "clinic"
    vault, recovery = create_vault(data_dir)
    vault.lock()
    clinic = open_as(data_dir)
    try:
        patients = record_patients(clinic)
    finally:
        clinic.close()
    yield SeededVault(data_dir, recovery, patients)
