"""What every experiment shares: sizes, the CLI as a subprocess, vault templates, patient names
(every name used is remembered for the plaintext scan), and the record of data directories."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain import commands as c
from app.domain.roles import Role
from app.store.crypto import FAST_FOR_TESTS, KdfParams
from app.store.vault import Vault

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

ADMIN, ADMIN_PASS = "admin", "admin-passphrase"
DOC, DOC_PASS = "doc", "doctor-passphrase"
DESK, DESK_PASS = "desk", "front-desk-passphrase"


@dataclass(frozen=True)
class Size:
    """How big each experiment runs. `small` is the normal test suite; `full` the issue's."""

    name: str
    crash_exec_trials: int
    crash_exec_commands: int
    crash_sync_trials: int
    crash_sync_commands: int
    net_seeds: int
    net_commands: int  # per device
    people_service_examples: int
    people_cli_lines: int
    people_cli_batches: int
    guess_attempts: int


SMALL = Size(
    name="small",
    crash_exec_trials=10,
    crash_exec_commands=120,
    crash_sync_trials=10,
    crash_sync_commands=24,
    net_seeds=3,
    net_commands=20,
    people_service_examples=300,
    people_cli_lines=400,
    people_cli_batches=2,
    guess_attempts=6,
)
FULL = Size(
    name="full",
    crash_exec_trials=50,
    crash_exec_commands=200,
    crash_sync_trials=50,
    crash_sync_commands=40,
    net_seeds=50,
    net_commands=100,
    people_service_examples=3000,
    people_cli_lines=4000,
    people_cli_batches=4,
    guess_attempts=12,
)


# -- names ------------------------------------------------------------------------------------

_SYLLABLES = [
    "ka",
    "ma",
    "ni",
    "zu",
    "lo",
    "be",
    "ri",
    "ta",
    "wa",
    "ji",
    "mbe",
    "nda",
    "ku",
    "sa",
    "fi",
    "go",
    "ye",
    "ho",
    "pe",
    "nyo",
    "shi",
    "cha",
    "tu",
    "vo",
    "ke",
    "mu",
]
# Non-ASCII names make the UTF-8 and UTF-16 scans meaningful beyond ASCII.
_ACCENTS = ("Ødegård", "Nguyễn", "Çelik", "Müller", "Şahin", "Ñúñez", "Kovačević", "Łukasz")


class Names:
    """Distinct, recognisable patient names; every one handed out is remembered."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.other_phi: set[str] = set()  # addresses and phone numbers, scanned too
        self._lock = threading.Lock()

    def make(self, rng: random.Random, *, accented: bool = False) -> str:
        while True:
            stem = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(3, 4)))
            name = stem.capitalize()
            if accented:
                name = f"{rng.choice(_ACCENTS)}{stem}"
            if len(name) >= 6:
                break
        with self._lock:
            self.used.add(name)
        return name

    def phi(self, value: str) -> str:
        with self._lock:
            self.other_phi.add(value)
        return value


NAMES = Names()


def scanned_patient(
    rng: random.Random, birth_date: str, sex: str, phone: str, address: str
) -> c.RegisterPatient:
    """A registration whose names, phone and address are all remembered for the plaintext scan:
    a new given name, a new accented family name, then `address` with any `{}` filled by
    another new name."""
    given = NAMES.make(rng)
    family = NAMES.make(rng, accented=True)
    return c.RegisterPatient(
        given=given,
        family=family,
        birth_date=birth_date,
        sex=sex,
        phone=NAMES.phi(phone),
        address=NAMES.phi(address.format(NAMES.make(rng)) if "{}" in address else address),
    )


@dataclass
class Registry:
    """Data directories (and other files) the experiments wrote: the plaintext scan reads all."""

    data_dirs: list[Path] = field(default_factory=list)
    extra_files: list[Path] = field(default_factory=list)  # stderr captures, temp dirs

    def add_dir(self, path: Path) -> Path:
        self.data_dirs.append(Path(path))
        return Path(path)


REGISTRY = Registry()


# -- vaults -----------------------------------------------------------------------------------


def make_vault(
    data_dir: Path, *, kdf: KdfParams = FAST_FOR_TESTS, users: Sequence[tuple[str, Role, str]] = ()
) -> Path:
    """A vault with an admin and the given users; left locked. Registered for the scan."""
    vault, _ = Vault.create(data_dir, ADMIN, ADMIN_PASS, kdf=kdf)
    try:
        for name, role, passphrase in users:
            vault.add_user(name, role, passphrase, kdf=kdf)
    finally:
        vault.lock()
    REGISTRY.add_dir(data_dir)
    return data_dir


STANDARD_USERS = ((DOC, Role.CLINICIAN, DOC_PASS), (DESK, Role.STAFF, DESK_PASS))


def copy_vault(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    REGISTRY.add_dir(target)
    return target


# -- the CLI ----------------------------------------------------------------------------------


_DEFAULT_LOGS: list[Path] = []


def cli_env(user: str, passphrase: str, tmpdir: Path | None = None) -> dict[str, str]:
    """The environment of a CLI process. Its temp files and its log (at DEBUG, the most it
    ever writes) land where the plaintext scan looks, never in the user's own log directory."""
    env = dict(os.environ)
    env["FIELDCHART_USER"] = user
    env["FIELDCHART_PASSPHRASE"] = passphrase
    env["PYTHONPATH"] = str(REPO)
    env.pop("FIELDCHART_DATA_DIR", None)
    if tmpdir is not None:
        tmpdir.mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(tmpdir)
        logs = tmpdir.parent / "logs"
    else:
        if not _DEFAULT_LOGS:
            _DEFAULT_LOGS.append(Path(tempfile.mkdtemp(prefix="fieldchart-reliability-logs-")))
        logs = _DEFAULT_LOGS[0]
    env["FIELDCHART_LOG_DIR"] = str(logs)
    env["FIELDCHART_LOG_LEVEL"] = "DEBUG"
    for path in (tmpdir, logs):
        if path is not None and path not in REGISTRY.extra_files:
            REGISTRY.extra_files.append(path)
    return env


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def cli(
    args: Iterable[str],
    *,
    user: str = ADMIN,
    passphrase: str = ADMIN_PASS,
    stdin: bytes | None = None,
    timeout: float = 120.0,
    tmpdir: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> CliResult:
    """`python -m app.cli ARGS` as a separate process, the way IT and scripts run it."""
    proc = subprocess.run(
        [PYTHON, "-m", "app.cli", *args],
        input=stdin,
        capture_output=True,
        env={**cli_env(user, passphrase, tmpdir), **(extra_env or {})},
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    remember_output(stderr)
    return CliResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), stderr)


_OUTPUTS: list[str] = []


def remember_output(text: str) -> None:
    """Error output of processes (crash output) is scanned for patient names too."""
    if text:
        _OUTPUTS.append(text)


def remembered_outputs() -> list[str]:
    return list(_OUTPUTS)


def has_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" in text
