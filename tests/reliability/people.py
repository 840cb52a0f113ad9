"""Experiment 3: bad input from people. Hypothesis generates JSON for every command type — valid
values, missing fields, wrong types, huge numbers, NaN, lone surrogates, control characters,
unknown fields, references to the wrong kind of item, other users' roles — and feeds it

* through the services: `command_from_json` + `ClinicCommands.execute`, and
* through `fieldchart exec`, in a few processes with many lines each (plus raw garbage lines).

A refusal must be a DomainError (a JSON `ok: false` line in the CLI) with a non-empty message
that reads as written for a person (no Python internals), naming the field where there is one;
and it must leave the log head, the outbox and the read-model digest exactly as they were.
Anything else — another exception type, a traceback, a batch aborted — counts as a crash.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
import typing
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from sqlalchemy import text

from app.domain import commands as c
from app.domain.codec import command_from_json
from app.domain.errors import DomainError, NotFoundError, PreconditionError, ValidationError
from app.domain.roles import Actor, Role
from app.services.clinic import Clinic, open_clinic
from app.store.database import read_transaction
from app.store.vault import Vault
from tests.clinic_fixtures import prescription
from tests.reliability.common import (
    ADMIN,
    DESK,
    DESK_PASS,
    DOC,
    DOC_PASS,
    STANDARD_USERS,
    cli,
    has_traceback,
    make_vault,
    scanned_patient,
)

ACTORS = (
    Actor(DOC, Role.CLINICIAN),
    Actor(DOC, Role.CLINICIAN),
    Actor(DOC, Role.CLINICIAN),
    Actor(DESK, Role.STAFF),
    Actor(ADMIN, Role.ADMIN),
)
# Phrases that give away a Python error dressed up as a message.
INTERNALS = (
    "Traceback",
    "NoneType",
    "object has no attribute",
    "unsupported operand",
    "not subscriptable",
    "KeyError",
    "TypeError",
    "invalid literal",
    "codec can't",
    "object is not",
    "<class",
)
# Refusals that must say which field was wrong.
NEEDS_FIELD = (ValidationError, NotFoundError, PreconditionError)


@dataclass
class Targets:
    """Ids in the vault, so generated commands sometimes reach deep into decide."""

    patients: list[str]
    items: dict[str, list[str]]  # kind -> ids
    command_ids: list[str]

    def all_items(self) -> list[str]:
        return [i for ids in self.items.values() for i in ids]


def seed_vault(data_dir: Path) -> Targets:
    """A vault with a little of everything (made with the services)."""
    make_vault(data_dir, users=STANDARD_USERS)
    vault = Vault.open(data_dir)
    vault.unlock(DOC, DOC_PASS)
    clinic = open_clinic(vault)
    doc = Actor(DOC, Role.CLINICIAN)
    rng = random.Random(5)
    items: dict[str, list[str]] = {}
    patients = []
    command_ids = []
    try:
        run = clinic.commands.execute
        for _ in range(3):
            changes = run(
                scanned_patient(rng, "1979-02-03", "female", "+255 755 010 203", "Plot 4 {} Road"),
                doc,
            )
            patients.append(changes.patient_id)
            pid = changes.patient_id
            made = [
                ("encounter", run(c.StartEncounter(patient_id=pid, reason="Fever"), doc)),
                ("vitals", run(c.RecordVitals(patient_id=pid, heart_rate=80.0), doc)),
                ("diagnosis", run(c.RecordDiagnosis(patient_id=pid, text="Malaria"), doc)),
                ("allergy", run(c.RecordAllergy(patient_id=pid, substance="penicillin"), doc)),
                (
                    "medication",
                    run(
                        prescription(pid, "paracetamol", dose=500.0),
                        doc,
                    ),
                ),
                ("note", run(c.AddNote(patient_id=pid, text="Seen today"), doc)),
                (
                    "appointment",
                    run(
                        c.ScheduleFollowUp(
                            patient_id=pid,
                            clinician=DOC,
                            start=f"2031-03-0{len(patients)}T09:00:00+03:00",
                        ),
                        doc,
                    ),
                ),
            ]
            for kind, ch in made:
                items.setdefault(kind, []).extend(ch.item_ids)
                command_ids.append(ch.command_id)
    finally:
        clinic.close()
    return Targets(patients, items, command_ids)


# -- strategies ---------------------------------------------------------------------------------

# Text with what people and broken tools produce: control characters, lone surrogates,
# right-to-left marks, NUL, very long strings, only blanks.
_chars = st.characters(codec=None, exclude_categories=())
texts = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=_chars, max_size=30),
    st.sampled_from(
        ["", " ", "\t", "\u202e", "\x00", "\ud800", "a\udfffb", "é" * 201, "x" * 10_001]
    ),
)
dates = st.sampled_from(
    [
        "2026-11-21",
        "1980-04-23",
        "1890-01-01",
        "2999-01-01",
        "0001-01-01",
        "2026-02-30",
        "2026-11-21T09:00:00+03:00",
        "2026-11-21T09:00:00Z",
        "2026-11-21T09:00:00",
        "2031-01-06T10:00:00+00:00",
        "9999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00+14:00",
        "2026-11-21T25:61:00Z",
        "yesterday",
        "2026-W47",
        "",
    ]
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(min_value=0, max_value=300),
)
json_scalars = st.one_of(st.none(), st.booleans(), numbers, texts, dates)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
CODES: dict[str, list[str | None]] = {
    "sex": ["female", "male", "other", "unknown", "F", ""],
    "route": ["oral", "intramuscular", "by mouth", ""],
    "frequency": ["TID", "BID", "QD", "PRN", "thrice", ""],
    "dose_unit": ["mg", "mL", "g", "tablet", ""],
    "drug": ["paracetamol", "amoxicillin", "Ibuprofen", "unknownium", ""],
    "substance": ["penicillin", "peanuts", "latex", ""],
    "status": ["active", "inactive", "resolved", "entered-in-error", "bogus"],
    "expected_status": ["active", "inactive", "resolved", None],
    "severity": ["mild", "moderate", "severe", "deadly"],
    "criticality": ["low", "high", "unable-to-assess", "x"],
    "category": ["medication", "food", "environment", "biologic", "x"],
    "resolution": ["keep-mine", "take-servers", "edit", "ignore"],
    "field": ["phone", "address", "given", "dose", "nope"],
    "clinician": [DOC, DESK, "nobody"],
    "code": ["J20.9", "B54", "A00", "not-a-code"],
    "phone": ["+255 700 000 001", "0754 000 111", "call me", "12"],
}


def _valid_for(name: str, hint: Any, targets: Targets) -> st.SearchStrategy[Any]:
    """Plausible values for one field (often valid, sometimes subtly not)."""
    if name == "patient_id":
        return st.sampled_from([*targets.patients, str(uuid.uuid4()), "", "not-an-id"])
    if name == "command_id":
        return st.sampled_from([None, *targets.command_ids[:3]]) | st.uuids().map(str)
    if name.endswith("_id"):
        return st.sampled_from([*targets.all_items(), None, str(uuid.uuid4()), "x" * 80])
    if name in CODES:
        return st.sampled_from(CODES[name])
    if name == "changes":
        return st.dictionaries(
            st.sampled_from(["given", "family", "birth_date", "sex", "phone", "address", "nhs"]),
            st.fixed_dictionaries(
                {"new": st.one_of(texts, dates, st.none()), "expected": st.one_of(texts, st.none())}
            )
            | json_values,
            max_size=3,
        )
    if name == "identifiers":
        return st.lists(
            st.fixed_dictionaries({"system": texts, "value": texts}) | json_values, max_size=3
        )
    if any(part in name for part in ("date", "_at", "start", "onset")):
        return dates
    base = typing.get_args(hint)
    kinds = set(base) | {hint}
    if float in kinds:
        return numbers
    if int in kinds:
        return st.integers(min_value=-10, max_value=10_000) | st.integers(
            min_value=10**20, max_value=10**30
        )
    return texts


@st.composite
def command_json(draw: Callable[..., Any], targets: Targets) -> object:
    shape = draw(st.integers(min_value=0, max_value=29))
    if shape == 0:
        return draw(json_values)  # not even an object
    if shape == 1:
        return {"type": draw(texts | st.none() | st.integers()), "patient_id": targets.patients[0]}
    cls = draw(st.sampled_from(c.ALL_COMMANDS))
    hints = typing.get_type_hints(cls)
    data: dict[str, Any] = {"type": cls.__name__}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        mode = draw(st.integers(min_value=0, max_value=9))
        if mode == 0:
            continue  # missing (fine for optional fields)
        if mode == 1:
            data[f.name] = draw(json_values)
        else:
            data[f.name] = draw(_valid_for(f.name, hints[f.name], targets))
    if draw(st.integers(min_value=0, max_value=14)) == 0:
        data[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return data


# -- through the services -------------------------------------------------------------------------


@dataclass
class PeopleFigures:
    service_inputs: int = 0
    service_accepted: int = 0
    service_refused: int = 0
    service_crashes: int = 0
    refusals_without_field: int = 0
    messages_with_internals: int = 0
    refused_but_changed_state: int = 0
    cli_processes: int = 0
    cli_lines: int = 0
    cli_accepted: int = 0
    cli_refused: int = 0
    cli_crashes: int = 0  # traceback, aborted batch, missing or non-JSON answer line
    cli_state_mismatch: int = 0
    refusal_kinds: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def inputs(self) -> int:
        return self.service_inputs + self.cli_lines

    @property
    def crashes(self) -> int:
        return self.service_crashes + self.cli_crashes


def _state(clinic: Clinic) -> tuple[int, tuple[tuple[str, int], ...], int, str]:
    with read_transaction(clinic.vault.engine) as conn:
        outbox_rows = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
        statuses = conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status")).all()
    return (
        clinic.vault.events.head_position(),
        tuple(sorted((s, n) for s, n in statuses)),
        outbox_rows,
        clinic.queries.digest(),
    )


def _message_problem(exc: DomainError) -> str | None:
    if not exc.message or not exc.message.strip():
        return "empty message"
    if any(marker in exc.message for marker in INTERNALS):
        return "message shows Python internals"
    return None


def through_services(
    figures: PeopleFigures, clinic: Clinic, targets: Targets, examples: int, seed: int
) -> None:
    @given(data=command_json(targets), actor_index=st.integers(0, len(ACTORS) - 1))
    def one(data: object, actor_index: int) -> None:
        figures.service_inputs += 1
        before = _state(clinic)
        try:
            command = command_from_json(data)
            changes = clinic.commands.execute(command, ACTORS[actor_index])
        except DomainError as exc:
            figures.service_refused += 1
            figures.refusal_kinds[type(exc).__name__] += 1
            problem = _message_problem(exc)
            if problem:
                figures.messages_with_internals += 1
                _example(figures, f"{problem}: {exc.message!r} for {data!r}")
            if isinstance(exc, NEEDS_FIELD) and not exc.field:
                figures.refusals_without_field += 1
                _example(figures, f"no field named: {exc.message!r} for {data!r}")
            if _state(clinic) != before:
                figures.refused_but_changed_state += 1
                _example(figures, f"refused but changed state: {data!r}")
            return
        except Exception as exc:
            figures.service_crashes += 1
            _example(figures, f"crash {type(exc).__name__}: {exc} for {data!r}")
            return
        figures.service_accepted += 1
        if changes.duplicate and _state(clinic) != before:
            figures.refused_but_changed_state += 1
            _example(figures, f"duplicate changed state: {data!r}")

    _run_hypothesis(one, examples, seed)


def _run_hypothesis(test: Callable[[], None], examples: int, seed: int) -> None:
    """Run a @given function `examples` times: derandomized (seed 0) or with a seed."""
    configured = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not seed,
        suppress_health_check=list(HealthCheck),
    )(test)
    if seed:
        configured = hypothesis_seed(seed)(configured)
    configured()


def _example(figures: PeopleFigures, text_: str) -> None:
    if len(figures.examples) < 20:
        figures.examples.append(text_[:400])


# -- through the CLI ------------------------------------------------------------------------------

RAW_LINES = [
    b"{",
    b"[" * 100_000,
    b'{"type": "RecordVitals", "heart_rate": 1' + b"0" * 500 + b"}",
    b"\xff\xfe\x00garbage",
    b'{"type": "AddNote", "text": "\xed\xa0\x80"}',  # a UTF-8-encoded surrogate
    b"null",
    b"42",
    b'"RegisterPatient"',
    b"NaN",
    b'{"type": "AddNote"} trailing',
    b"\x1b[31mred\x1b[0m",
    b'{"type": "AddNote", "\\udfff": 1}',  # an unknown field named by a lone surrogate
]


def cli_lines(targets: Targets, count: int, seed: int) -> list[bytes]:
    lines: list[bytes] = []

    @given(data=command_json(targets))
    def collect(data: object) -> None:
        encoded = json.dumps(data, ensure_ascii=bool(len(lines) % 2)).encode(
            "utf-8", "surrogatepass"
        )
        lines.append(encoded)

    _run_hypothesis(collect, count, seed)
    rng = random.Random(seed)
    for raw in RAW_LINES:
        lines.insert(rng.randrange(len(lines) + 1), raw)
    return lines


def through_cli(
    figures: PeopleFigures,
    data_dir: Path,
    targets: Targets,
    lines: list[bytes],
    batches: int,
    work: Path,
) -> None:
    size = max(1, len(lines) // batches)
    for start in range(0, len(lines), size):
        batch = lines[start : start + size]
        user, passphrase = (DOC, DOC_PASS) if (start // size) % 2 == 0 else (DESK, DESK_PASS)
        vault = Vault.open(data_dir)
        vault.unlock(user, passphrase)
        clinic = open_clinic(vault)
        try:
            head_before = clinic.vault.events.head_position()
            rows_before = _state(clinic)[2]
        finally:
            clinic.close()
        figures.cli_processes += 1
        result = cli(
            ["exec", "--data-dir", str(data_dir)],
            user=user,
            passphrase=passphrase,
            stdin=b"\n".join(batch) + b"\n",
            timeout=600,
            tmpdir=work / "tmp",
        )
        expected = [line for line in batch if line.strip()]
        figures.cli_lines += len(expected)
        answers = [a for a in result.stdout.split("\n") if a]
        if has_traceback(result.stderr) or "internal error" in result.stderr:
            figures.cli_crashes += 1
            _example(figures, f"CLI: {result.stderr.strip()[:300]}")
        if len(answers) != len(expected):
            figures.cli_crashes += 1
            _example(
                figures,
                f"CLI answered {len(answers)} lines for {len(expected)}: "
                f"{result.stderr.strip()[:300]}",
            )
        events = 0
        new_commands = 0
        for answer in answers:
            try:
                parsed = json.loads(answer)
            except ValueError:
                figures.cli_crashes += 1
                _example(figures, f"CLI answer is not JSON: {answer[:200]}")
                continue
            if parsed.get("ok"):
                figures.cli_accepted += 1
                if not parsed["duplicate"]:
                    events += len(parsed["events"])
                    new_commands += 1
            else:
                figures.cli_refused += 1
                message = str(parsed.get("error") or "")
                if not message.strip() or any(m in message for m in INTERNALS):
                    figures.messages_with_internals += 1
                    _example(figures, f"CLI message: {message[:200]}")
        vault = Vault.open(data_dir)
        vault.unlock(user, passphrase)
        clinic = open_clinic(vault)
        try:
            head_after = clinic.vault.events.head_position()
            rows_after = _state(clinic)[2]
            if clinic.runner.rebuild() != clinic.queries.digest():
                figures.cli_state_mismatch += 1
        finally:
            clinic.close()
        # Refused lines persisted nothing: the log grew by exactly the accepted commands' events.
        if head_after - head_before != events or rows_after - rows_before != new_commands:
            figures.cli_state_mismatch += 1
            _example(
                figures,
                f"CLI batch: log grew {head_after - head_before} for {events} accepted events, "
                f"outbox {rows_after - rows_before} for {new_commands}",
            )


def run(
    work: Path, service_examples: int, cli_count: int, batches: int, seed: int = 0
) -> PeopleFigures:
    started = time.monotonic()
    figures = PeopleFigures()
    data_dir = work / "people"
    targets = seed_vault(data_dir)
    vault = Vault.open(data_dir)
    vault.unlock(DOC, DOC_PASS)
    clinic = open_clinic(vault)
    try:
        through_services(figures, clinic, targets, service_examples, seed)
    finally:
        clinic.close()
    cli_dir = work / "people-cli"
    cli_targets = seed_vault(cli_dir)
    through_cli(
        figures, cli_dir, cli_targets, cli_lines(cli_targets, cli_count, seed), batches, work
    )
    figures.seconds = round(time.monotonic() - started, 1)
    return figures
