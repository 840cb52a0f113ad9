"""Experiment 3 (small size): hypothesis-generated bad input through the services and CLI."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import people
from tests.reliability.common import Size


def test_bad_input_from_people_is_refused_specifically_and_changes_nothing(
    size: Size, work: Path
) -> None:
    f = people.run(
        work / "people",
        size.people_service_examples,
        size.people_cli_lines,
        size.people_cli_batches,
    )
    print({k: v for k, v in vars(f).items() if k != "examples"})
    assert f.inputs >= size.people_service_examples + size.people_cli_lines
    assert f.service_refused > 0 and f.cli_refused > 0
    assert (
        f.crashes,
        f.refusals_without_field,
        f.messages_with_internals,
        f.refused_but_changed_state,
        f.cli_state_mismatch,
    ) == (0, 0, 0, 0, 0), f.examples
