"""docs/commands.md is executable documentation: every JSON command line in it runs, in order,
and is accepted; every shell example parses with the real argument parser."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import build_parser
from app.domain import commands as c
from app.domain.codec import command_from_json
from app.domain.rebase import ConflictDetail
from app.services.clinic import Clinic
from app.store.reference_data import bundled_catalog
from tests.clinic_fixtures import DOC, FakeClock, clinic_in

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "commands.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(kind: str) -> list[str]:
    return [
        body for lang, body in BLOCK.findall(DOC_PATH.read_text(encoding="utf-8")) if lang == kind
    ]


def command_lines() -> list[dict[str, object]]:
    return [json.loads(line) for body in blocks("jsonl") for line in body.splitlines() if line]


def shell_examples() -> list[list[str]]:
    return [
        shlex.split(re.split(r"\s[<>|]\s", line)[0])  # the command, without redirections
        for body in blocks("sh")
        for line in body.splitlines()
        if line.startswith("fieldchart ")
    ]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clinic(tmp_path: Path, clock: FakeClock) -> Iterator[Clinic]:
    with clinic_in(tmp_path / "vault", clock, catalog=bundled_catalog()) as opened:
        yield opened


def test_every_command_type_has_an_example() -> None:
    documented = {line["type"] for line in command_lines()}
    assert documented == {t.__name__ for t in c.ALL_COMMANDS}


def test_every_example_line_is_accepted_in_order(clinic: Clinic, clock: FakeClock) -> None:
    lines = command_lines()
    assert len({line["command_id"] for line in lines}) == len(lines)
    gateway = clinic.sync_gateway
    warnings = []
    for line in lines:
        clock.advance(minutes=1)
        command = command_from_json(line)
        if isinstance(command, c.ResolveSyncConflict):
            # Only sync can raise a conflict; pretend it did for the command being settled.
            gateway.mark_attention(
                command.conflict_command_id,
                "server changed phone",
                ConflictDetail(None, None, None),
            )
        changes = clinic.commands.execute(command, DOC)
        assert changes.command_id == line["command_id"]
        warnings += changes.warnings
    assert warnings == []
    view = clinic.queries.chart("pat-0001", DOC, record_view=False)
    assert view.patient.phone == "+255 766 000 111"
    assert [p.data["code"] for p in view.problems] == ["I10"]
    assert view.allergy_banner == ["Penicillins (HIGH criticality)"]
    assert view.medications == [] and view.last_vitals is None
    (overridden,) = [t for t in view.timeline if t.item_id == "rx-0001" and "override" in t.text]
    assert "allergy override" in overridden.text


def test_the_documented_refusal_is_what_exec_prints() -> None:
    text = DOC_PATH.read_text(encoding="utf-8")
    assert "Systolic BP of 400 mmHg is outside the plausible range 40–300 mmHg" in text
    assert "A user with the staff role may not record vitals; this needs a clinician" in text


def test_every_subcommand_is_documented_with_a_parsable_example() -> None:
    parser = build_parser()
    seen = set()
    for argv in shell_examples():
        args = parser.parse_args(argv[1:])  # exits (fails the test) on an unknown option
        seen.add(args.command if args.command != "user" else f"user {args.user_command}")
    subparsers = next(a for a in parser._actions if a.dest == "command")
    expected = {name for name in subparsers.choices if name != "user"}  # type: ignore[union-attr]
    expected |= {"user add", "user list", "user disable", "user enable"}
    assert seen == expected
