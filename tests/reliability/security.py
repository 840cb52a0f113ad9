"""Experiment 5: security.

* Plaintext scan: every file in every data directory the experiments wrote (database, WAL,
  SHM, key slots, throttle file, temp files of the CLI processes) and the error output of every
  CLI process, searched for every patient name used (and phone numbers), in UTF-8, UTF-16-LE
  and UTF-16-BE. A planted positive control proves the scanner finds each encoding.
* TLS: a loopback HTTPS front (the fault proxy terminating TLS, no faults) with a certificate
  from a private CA, in front of the peer: refused by default, by the client and by
  `fieldchart enroll`; accepted once that CA is configured (`--ca-bundle`), and sync runs over it.
* Passphrase guessing: wrong passphrases through `Vault.unlock` with the real Argon2id
  parameters; the throttle's growing delay is recorded by an injected sleep, Argon2id is timed.
* Roles: a staff user runs every clinical command through the services and `fieldchart exec`.
* Lock: after lock every query fails with VaultLockedError, and no copy of the data key (raw,
  hex, or its sealing and chain subkeys) is reachable from the vault object.
"""

from __future__ import annotations

import contextlib
import gc
import json
import random
import re
import ssl
import statistics
import time
import types
import typing
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain import commands as c
from app.domain.codec import command_from_json
from app.domain.errors import DomainError
from app.domain.roles import Actor, Role
from app.services.clinic import Clinic, open_clinic
from app.store import crypto
from app.store.crypto import RFC9106_SECOND
from app.store.errors import VaultLockedError, WrongPassphraseError
from app.store.throttle import Throttle
from app.store.vault import THROTTLE_FILE, Vault
from sync.fhir.client import FhirClient
from sync.fhir.errors import TlsError
from tests.clinic_fixtures import prescription
from tests.peer.harness import PeerServer
from tests.reliability.common import (
    ADMIN,
    ADMIN_PASS,
    DESK,
    DESK_PASS,
    DOC,
    DOC_PASS,
    NAMES,
    REGISTRY,
    STANDARD_USERS,
    cli,
    make_vault,
    remembered_outputs,
)
from tests.reliability.proxy import FaultPlan, FaultProxy
from tests.sync.test_fhir_client import _cert

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be")


# -- the plaintext scan ----------------------------------------------------------------------------


@dataclass
class ScanFigures:
    files: int = 0
    bytes: int = 0
    needles: int = 0
    hits: Counter[str] = field(default_factory=Counter)  # encoding -> hits
    where: list[str] = field(default_factory=list)
    positive_control: dict[str, bool] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)  # file kinds scanned

    @property
    def total_hits(self) -> int:
        return sum(self.hits.values())


class Scanner:
    """Finds any of many needles in big binary files in one pass per encoding: decode, cut
    into runs of the needles' own characters, look for needles only inside those runs."""

    def __init__(self, needles: Iterable[str]) -> None:
        self.needles = sorted({n for n in needles if len(n) >= 5})
        alphabet = sorted({ch for n in self.needles for ch in n})
        shortest = min((len(n) for n in self.needles), default=5)
        self._runs = re.compile("[" + re.escape("".join(alphabet)) + "]{" + str(shortest) + ",}")

    def find(self, data: bytes) -> list[tuple[str, str]]:
        found = []
        for encoding in ENCODINGS:
            texts = [data.decode(encoding, "replace")]
            if encoding != "utf-8":  # both alignments of two-byte units
                texts.append(data[1:].decode(encoding, "replace"))
            for decoded in texts:
                for run in self._runs.findall(decoded):
                    for needle in self.needles:
                        if needle in run:
                            found.append((encoding, needle))
        return found


def _kind(path: Path) -> str:
    name = path.name
    for suffix in ("-wal", "-shm", "-journal", ".tmp"):
        if name.endswith(suffix):
            return suffix.lstrip("-.")
    if name.startswith("fieldchart.log"):
        return "log"
    if name.endswith("backup"):
        return "backup"
    return {"vault.db": "database", "keyslots.json": "key slots", THROTTLE_FILE: "throttle"}.get(
        name, f"other ({name})"
    )


def scan(dirs: Iterable[Path], outputs: Iterable[str], needles: Iterable[str]) -> ScanFigures:
    figures = ScanFigures()
    scanner = Scanner(needles)
    figures.needles = len(scanner.needles)
    # Positive control: the scanner must find a planted name in every encoding.
    probe = scanner.needles[0] if scanner.needles else "Kazumbe"
    control = Scanner([probe])
    for encoding in ENCODINGS:
        planted = b"\x00" * 7 + probe.encode(encoding) + b"\xff" * 5
        figures.positive_control[encoding] = (encoding, probe) in control.find(planted)
    seen: set[Path] = set()
    for root in dirs:
        if not Path(root).exists():
            continue
        for path in sorted(Path(root).rglob("*")):
            if not path.is_file() or path in seen:
                continue
            seen.add(path)
            data = path.read_bytes()
            figures.files += 1
            figures.bytes += len(data)
            figures.kinds[_kind(path)] += 1
            for encoding, needle in scanner.find(data):
                figures.hits[encoding] += 1
                if len(figures.where) < 20:
                    figures.where.append(f"{path}: {needle!r} in {encoding}")
    for number, text in enumerate(outputs):
        figures.kinds["process error output"] += 1
        for encoding, needle in scanner.find(text.encode("utf-8")):
            figures.hits[encoding] += 1
            figures.where.append(f"stderr #{number}: {needle!r}")
    return figures


def scan_everything() -> ScanFigures:
    """Everything the experiments of this process wrote, for every name they used."""
    return scan(
        [*REGISTRY.data_dirs, *REGISTRY.extra_files],
        remembered_outputs(),
        [*NAMES.used, *NAMES.other_phi],
    )


def scan_scenario(peer: PeerServer, work: Path) -> None:
    """A compact run through every path that writes to disk, for when the scan runs alone:
    `fieldchart init` (real Argon2id), users, enrolment, commands through the CLI with a kill -9
    mid-stream (leaving WAL and SHM behind), sync through the fault proxy, a conflict that needs
    a person (both values stored), a quarantined server resource carrying a name, a rebuild."""
    from tests.reliability import crash, network, server_input

    data_dir = work / "scan-cli"
    REGISTRY.add_dir(data_dir)
    tmp = work / "tmp"
    init = cli(["init", "--data-dir", str(data_dir), "--user", ADMIN], tmpdir=tmp)
    assert init.returncode == 0, init.stderr
    for user, role, passphrase in STANDARD_USERS:
        added = cli(
            ["user", "add", "--data-dir", str(data_dir), "--user", user, "--role", role.value],
            tmpdir=tmp,
            extra_env={"FIELDCHART_NEW_PASSPHRASE": passphrase},
        )
        assert added.returncode == 0, added.stderr
    peer.reset()
    enrolled = cli(
        [
            "enroll",
            "--data-dir",
            str(data_dir),
            "--server",
            peer.base_url,
            "--auth",
            "none",
            "--pull-everything",
        ],
        tmpdir=tmp,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    stream = crash.command_stream(random.Random(99), 60)
    crash.run_and_kill(
        ["exec", "--data-dir", str(data_dir)], crash._lines(stream), 1.2, DOC, DOC_PASS, tmp
    )
    crash.run_and_kill(
        ["exec", "--data-dir", str(data_dir)], crash._lines(stream), None, DOC, DOC_PASS, tmp
    )
    cli(["sync", "--data-dir", str(data_dir), "--json"], tmpdir=tmp)
    cli(["rebuild", "--data-dir", str(data_dir)], user=DOC, passphrase=DOC_PASS, tmpdir=tmp)
    # IT operations that write files: a backup, its restore elsewhere, a key rotation.
    backups = REGISTRY.add_dir(work / "scan-backups")
    backups.mkdir(parents=True, exist_ok=True)
    backup = backups / "clinic.fieldchart-backup"
    done = cli(["backup", "--data-dir", str(data_dir), "--out", str(backup)], tmpdir=tmp)
    assert done.returncode == 0, done.stderr
    restored = REGISTRY.add_dir(work / "scan-restored")
    done = cli(["restore", "--from", str(backup), "--data-dir", str(restored)], tmpdir=tmp)
    assert done.returncode == 0, done.stderr
    done = cli(["rotate-key", "--data-dir", str(data_dir)], tmpdir=tmp)
    assert done.returncode == 0, done.stderr
    cli(["diagnose", "--data-dir", str(data_dir), "--json"], tmpdir=tmp)
    # Kill once more, mid-stream, so the WAL and its index stay behind for the scan.
    crash.run_and_kill(
        ["exec", "--data-dir", str(data_dir)],
        crash._lines(crash.command_stream(random.Random(98), 400)),
        None,
        DOC,
        DOC_PASS,
        tmp,
        kill_after_lines=20,
    )
    network.run_seed(4242, 12, peer, work / "scan-network")
    fake = server_input.FakeFhir().start()
    try:
        corpus = server_input.capture(peer, work / "scan-server")
        bad = dict(corpus.first["Patient"][0])
        bad["id"], bad["birthDate"] = str(uuid.uuid4()), "not a date"
        bad["name"] = [
            {"family": NAMES.make(random.Random(7)), "given": [NAMES.make(random.Random(8))]}
        ]
        case = server_input.Case(
            "named bad patient",
            "Patient",
            server_input._on(
                "Patient",
                lambda listed, p: server_input.fhir_json(server_input.searchset([*listed, bad])),
            ),
        )
        server_input.run_case(case, corpus, fake, work / "scan-server", 0)
    finally:
        fake.stop()


# -- TLS -------------------------------------------------------------------------------------------


@dataclass
class TlsFigures:
    client_refuses_untrusted: bool = False
    client_accepts_configured_ca: bool = False
    client_refuses_other_ca: bool = False
    enroll_refuses_untrusted: bool = False
    enroll_message: str = ""
    enroll_left_settings_unchanged: bool = False
    enroll_with_ca_bundle: bool = False
    sync_over_tls: bool = False


def _pki(work: Path) -> tuple[Path, ssl.SSLContext, Path]:
    """A private CA, a server certificate for 127.0.0.1 it signed, and an unrelated CA."""
    work.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("FieldChart reliability CA", ca_key, None)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("127.0.0.1", leaf_key, ("FieldChart reliability CA", ca_key))
    other = _cert("Someone else's CA", ec.generate_private_key(ec.SECP256R1()), None)
    ca_path, cert_path, key_path, other_path = (
        work / "ca.pem",
        work / "server.pem",
        work / "server.key",
        work / "other-ca.pem",
    )
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    other_path.write_bytes(other.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    assert isinstance(ca, x509.Certificate)
    return ca_path, context, other_path


def tls(peer: PeerServer, work: Path) -> TlsFigures:
    figures = TlsFigures()
    ca_path, context, other_ca = _pki(work / "pki")
    plan = FaultPlan(0, enabled=False)
    assert peer.port is not None
    with FaultProxy(peer.port, plan, tls=context) as front:
        url = front.base_url
        try:
            with FhirClient(url, timeout=10.0) as client:
                client.capabilities()
        except TlsError as exc:
            figures.client_refuses_untrusted = "certificate" in exc.reason
        with FhirClient(url, timeout=10.0, verify=ca_path) as client:
            figures.client_accepts_configured_ca = client.capabilities().fhir_version.startswith(
                "4"
            )
        try:
            with FhirClient(url, timeout=10.0, verify=other_ca) as client:
                client.capabilities()
        except TlsError:
            figures.client_refuses_other_ca = True
        data_dir = make_vault(work / "tls-vault", users=STANDARD_USERS)
        tmp = work / "tmp"
        refused = cli(
            [
                "enroll",
                "--data-dir",
                str(data_dir),
                "--server",
                url,
                "--auth",
                "none",
                "--pull-everything",
            ],
            tmpdir=tmp,
        )
        figures.enroll_message = refused.stderr.strip()
        figures.enroll_refuses_untrusted = (
            refused.returncode != 0 and "certificate" in refused.stderr
        )
        status = cli(["status", "--data-dir", str(data_dir), "--json"], tmpdir=tmp)
        figures.enroll_left_settings_unchanged = json.loads(status.stdout)["configured"] is False
        accepted = cli(
            [
                "enroll",
                "--data-dir",
                str(data_dir),
                "--server",
                url,
                "--auth",
                "none",
                "--pull-everything",
                "--ca-bundle",
                str(ca_path),
            ],
            tmpdir=tmp,
        )
        figures.enroll_with_ca_bundle = accepted.returncode == 0
        peer.reset()
        ran = cli(
            ["exec", "--data-dir", str(data_dir)],
            user=DOC,
            passphrase=DOC_PASS,
            stdin=json.dumps(
                {
                    "type": "RegisterPatient",
                    "given": NAMES.make(random.Random(3)),
                    "family": "Tlsuser",
                    "birth_date": "1990-01-01",
                    "sex": "male",
                }
            ).encode()
            + b"\n",
            tmpdir=tmp,
        )
        synced = cli(["sync", "--data-dir", str(data_dir), "--json"], tmpdir=tmp)
        figures.sync_over_tls = (
            ran.returncode == 0
            and synced.returncode == 0
            and json.loads(synced.stdout)["pushed"] == 1
        )
    return figures


# -- passphrase guessing ---------------------------------------------------------------------------


@dataclass
class GuessFigures:
    attempts: int = 0
    argon2id_s_median: float = 0.0
    attempts_per_s_argon2id_only: float = 0.0
    delays_s: list[float] = field(default_factory=list)
    attempts_per_s_with_delays: float = 0.0
    steady_attempts_per_day: float = 0.0
    delay_remembered_across_processes: bool = False
    right_passphrase_still_works: bool = False
    params: str = ""


def guessing(work: Path, attempts: int) -> GuessFigures:
    figures = GuessFigures(attempts=attempts)
    data_dir = work / "guess-vault"
    REGISTRY.add_dir(data_dir)
    vault, _ = Vault.create(data_dir, ADMIN, ADMIN_PASS, kdf=RFC9106_SECOND)
    vault.lock()
    p = RFC9106_SECOND
    figures.params = f"Argon2id t={p.iterations}, m={p.memory_kib // 1024} MiB, p={p.lanes}"
    slept: list[float] = []
    locked = Vault.open(data_dir, sleep=slept.append)
    seconds = []
    for i in range(attempts):
        before = len(slept)
        started = time.perf_counter()
        with contextlib.suppress(WrongPassphraseError):
            locked.unlock(ADMIN, f"guess number {i}")
        seconds.append(time.perf_counter() - started)
        figures.delays_s.append(sum(slept[before:]))
    figures.argon2id_s_median = round(statistics.median(seconds), 3)
    figures.attempts_per_s_argon2id_only = round(1 / statistics.median(seconds), 2)
    total = sum(seconds) + sum(figures.delays_s)
    figures.attempts_per_s_with_delays = round(attempts / total, 3)
    from app.store.throttle import MAX_DELAY_S

    figures.steady_attempts_per_day = round(86_400 / (MAX_DELAY_S + statistics.median(seconds)))
    # Another process (a fresh Throttle reading the file) sees the same count.
    figures.delay_remembered_across_processes = (
        Throttle(data_dir / THROTTLE_FILE).failures(ADMIN) == attempts
    )
    locked.unlock(ADMIN, ADMIN_PASS)
    figures.right_passphrase_still_works = locked.is_unlocked
    locked.lock()
    return figures


# -- roles -----------------------------------------------------------------------------------------


@dataclass
class RoleFigures:
    clinical_commands: int = 0
    service_attempts: int = 0
    service_allowed: int = 0
    cli_attempts: int = 0
    cli_allowed: int = 0
    state_changed: int = 0
    messages: list[str] = field(default_factory=list)


def _minimal(cls: type[c.Command], pid: str, items: dict[str, str]) -> dict[str, Any]:
    """A plausible JSON command of class `cls` on the patient and items of the vault."""
    values: dict[str, Any] = {
        "patient_id": pid,
        "text": "Seen",
        "substance": "penicillin",
        "drug": "paracetamol",
        "dose": 500,
        "dose_unit": "mg",
        "route": "oral",
        "frequency": "TID",
        "reason": "Rash",
        "heart_rate": 70,
        "status": "inactive",
        "encounter_id": items["encounter"],
        "diagnosis_id": items["diagnosis"],
        "allergy_id": items["allergy"],
        "prescription_id": items["medication"],
        "item_id": items["vitals"],
        "vitals_id": items["vitals"],
        "suggestion": "Start amlodipine 5 mg once daily",
        "referral_id": "referral-1",  # refused by role before any lookup
    }
    import dataclasses

    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    data: dict[str, object] = {"type": cls.__name__}
    hints = typing.get_type_hints(cls)
    for name in required | {"patient_id"}:
        # A field no entry above names (a newer command's): any value of its type will do,
        # the role check refuses before the value is looked at.
        data[name] = values[name] if name in values else _of_type(hints[name])
    if cls is c.RecordVitals:
        data["heart_rate"] = 70
    return data


def _of_type(hint: Any) -> object:
    """A JSON value the codec accepts for a field of type `hint`."""
    hint = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
    if typing.get_origin(hint) is tuple or hint is list:
        return []
    return {bool: False, int: 1, float: 1.0}.get(hint, "x")


def roles(work: Path) -> RoleFigures:
    figures = RoleFigures()
    data_dir = make_vault(work / "roles-vault", users=STANDARD_USERS)
    vault = Vault.open(data_dir)
    vault.unlock(DOC, DOC_PASS)
    clinic = open_clinic(vault)
    doc = Actor(DOC, Role.CLINICIAN)
    rng = random.Random(4)
    try:
        pid = clinic.commands.execute(
            c.RegisterPatient(
                given=NAMES.make(rng), family=NAMES.make(rng), birth_date="1985-05-05", sex="male"
            ),
            doc,
        ).patient_id
        items = {
            "encounter": clinic.commands.execute(c.StartEncounter(patient_id=pid), doc).item_ids[0],
            "diagnosis": clinic.commands.execute(
                c.RecordDiagnosis(patient_id=pid, text="Cough"), doc
            ).item_ids[0],
            "allergy": clinic.commands.execute(
                c.RecordAllergy(patient_id=pid, substance="latex"), doc
            ).item_ids[0],
            "medication": clinic.commands.execute(
                prescription(pid, "ibuprofen", dose=200.0, frequency="BID"),
                doc,
            ).item_ids[0],
            "vitals": clinic.commands.execute(
                c.RecordVitals(patient_id=pid, heart_rate=60.0), doc
            ).item_ids[0],
        }
    finally:
        clinic.close()
    clinical = [cls for cls in c.ALL_COMMANDS if Role.STAFF not in cls.ALLOWED_ROLES]
    # Marking a clinical item entered-in-error is open to staff by role, refused in decide.
    commands = [_minimal(cls, pid, items) for cls in clinical]
    commands.append(_minimal(c.MarkEnteredInError, pid, items))
    figures.clinical_commands = len(commands)
    vault = Vault.open(data_dir)
    vault.unlock(DESK, DESK_PASS)
    clinic = open_clinic(vault)
    staff = Actor(DESK, Role.STAFF)
    try:
        for data in commands:
            before = (clinic.vault.events.head_position(), clinic.queries.digest())
            for actor in (staff, Actor(ADMIN, Role.ADMIN)):
                figures.service_attempts += 1
                try:
                    clinic.commands.execute(command_from_json(data), actor)
                    figures.service_allowed += 1
                except DomainError as exc:
                    if len(figures.messages) < 3:
                        figures.messages.append(exc.message)
            if (clinic.vault.events.head_position(), clinic.queries.digest()) != before:
                figures.state_changed += 1
        head = clinic.vault.events.head_position()
    finally:
        clinic.close()
    result = cli(
        ["exec", "--data-dir", str(data_dir)],
        user=DESK,
        passphrase=DESK_PASS,
        stdin=b"".join(json.dumps(d).encode() + b"\n" for d in commands),
        tmpdir=work / "tmp",
    )
    answers = [json.loads(line) for line in result.stdout.split("\n") if line]
    figures.cli_attempts = len(commands)
    figures.cli_allowed = sum(1 for a in answers if a.get("ok")) + (len(commands) - len(answers))
    vault = Vault.open(data_dir)
    vault.unlock(DESK, DESK_PASS)
    try:
        if vault.events.head_position() != head:
            figures.state_changed += 1
    finally:
        vault.lock()
    return figures


# -- lock ------------------------------------------------------------------------------------------


@dataclass
class LockFigures:
    queries_tried: int = 0
    queries_not_locked: list[str] = field(default_factory=list)
    objects_walked: int = 0
    key_copies_reachable_from_vault: int = 0
    key_copies_reachable_from_services: int = 0  # Clinic: reported, see docs/reliability.md
    paths: list[str] = field(default_factory=list)


def _walk(
    root: object, needles_bytes: list[bytes], needles_text: list[str]
) -> tuple[int, int, list[str]]:
    """Objects reachable from `root` (gc referents, not through modules or classes); the
    number that hold a key, and a few paths to them."""
    seen: set[int] = set()
    stack: list[tuple[object, tuple[str, ...]]] = [(root, ())]
    hits: list[str] = []
    count = 0
    while stack:
        obj, path = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, type | types.ModuleType):
            continue
        if isinstance(obj, bytes | bytearray | memoryview):
            data = bytes(obj)
            if any(n in data for n in needles_bytes):
                count += 1
                hits.append(" > ".join(path))
            continue
        if isinstance(obj, str):
            lowered = obj.lower()
            if any(n in lowered for n in needles_text):
                count += 1
                hits.append(" > ".join(path))
            continue
        for ref in gc.get_referents(obj):
            stack.append((ref, (*path, type(obj).__name__)))
    return len(seen), count, hits[:5]


def lock(work: Path) -> LockFigures:
    figures = LockFigures()
    data_dir = make_vault(work / "lock-vault", users=STANDARD_USERS)
    vault = Vault.open(data_dir)
    vault.unlock(DOC, DOC_PASS)
    clinic: Clinic = open_clinic(vault)
    doc = Actor(DOC, Role.CLINICIAN)
    rng = random.Random(6)
    pid = clinic.commands.execute(
        c.RegisterPatient(
            given=NAMES.make(rng), family=NAMES.make(rng), birth_date="1970-07-07", sex="female"
        ),
        doc,
    ).patient_id
    clinic.queries.chart(pid, doc)
    assert vault._data_key is not None
    key = bytes(vault._data_key)
    subkeys = [bytes(crypto.subkey(key, "payload")), bytes(crypto.subkey(key, "chain"))]
    clinic.close()
    queries = {
        "search_patients": lambda: clinic.queries.search_patients(""),
        "patient": lambda: clinic.queries.patient(pid),
        "chart": lambda: clinic.queries.chart(pid, doc),
        "schedule": lambda: clinic.queries.schedule(clinic.clock().date()),
        "overdue_followups": lambda: clinic.queries.overdue_followups(),
        "audit": lambda: clinic.queries.audit(10),
        "sync_overview": lambda: clinic.queries.sync_overview(),
        "patient_count": lambda: clinic.queries.patient_count(),
        "digest": lambda: clinic.queries.digest(),
        "runner.catch_up": lambda: clinic.runner.catch_up(),
        "execute": lambda: clinic.commands.execute(
            c.AddNote(patient_id=pid, text="after lock"), doc
        ),
        "vault.events": lambda: vault.events.head_position(),
        "vault.list_users": lambda: vault.list_users(),
    }
    for name, query in queries.items():
        figures.queries_tried += 1
        try:
            query()
        except VaultLockedError:
            continue
        except Exception as exc:
            figures.queries_not_locked.append(f"{name}: {type(exc).__name__}")
            continue
        figures.queries_not_locked.append(f"{name}: answered")
    needles_bytes = [key, *subkeys]
    needles_text = [key.hex(), *(s.hex() for s in subkeys)]
    walked, from_vault, paths = _walk(vault, needles_bytes, needles_text)
    figures.objects_walked = walked
    figures.key_copies_reachable_from_vault = from_vault
    figures.paths += paths
    _, from_services, paths = _walk(clinic, needles_bytes, needles_text)
    figures.key_copies_reachable_from_services = from_services
    figures.paths += [f"services: {p}" for p in paths]
    return figures
