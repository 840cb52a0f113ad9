"""Rebase decides a pending command again on the server's newer versions (invariant 7):
edits of different fields merge without a person, the same field always asks with both
values, and deciding again what was already applied converges."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from app.domain import commands as c
from app.domain.chart import PatientChart, evolve
from app.domain.rebase import (
    ConflictDetail,
    Converged,
    NeedsAttention,
    Redecided,
    decide_rebase,
)
from tests.clinic_fixtures import DESK, registration
from tests.domain.builders import PID, chart_after, context

ORIGINAL = registration(patient_id=PID)
FIELDS = ("given", "family", "address")
VALUES = st.sampled_from(["Asha", "Neema", "Zawadi", "Rehema", "Baraka", "Plot 9, Tanga"])


def original(name: str) -> str | None:
    value = getattr(ORIGINAL, name)
    return value if isinstance(value, str) else None


def edit(name: str, new: str, expected: str | None = None) -> c.UpdateDemographics:
    seen = original(name) if expected is None else expected
    return c.UpdateDemographics(patient_id=PID, changes={name: c.FieldChange(new, seen)})


def server_chart(name: str, value: str) -> PatientChart:
    """The chart once the server's newer version (another device's edit) is folded in."""
    return chart_after(edit(name, value), ctx=context(actor=DESK))


def applied(chart: PatientChart, outcome: Redecided) -> PatientChart:
    after = copy.deepcopy(chart)
    for event in outcome.decision.events:
        evolve(after, event)
    return after


@given(
    st.sampled_from(FIELDS).flatmap(
        lambda a: st.tuples(st.just(a), st.sampled_from([f for f in FIELDS if f != a]))
    ),
    VALUES,
    VALUES,
)
def test_edits_of_different_fields_always_merge(
    fields: tuple[str, str], theirs: str, mine: str
) -> None:
    server_field, my_field = fields
    chart = server_chart(server_field, theirs)
    outcome = decide_rebase(chart, edit(my_field, mine), [], context(actor=DESK))
    assert isinstance(outcome, Redecided | Converged)
    if isinstance(outcome, Redecided):
        merged = applied(chart, outcome)
        assert merged.demographics[server_field] == theirs
        assert merged.demographics[my_field] == mine


@given(st.sampled_from(FIELDS), VALUES, VALUES)
def test_edits_of_the_same_field_always_ask_with_both_values(
    name: str, theirs: str, mine: str
) -> None:
    if len({theirs, mine, original(name)}) < 3:
        return  # no conflict: one side did not change it, or both chose the same value
    outcome = decide_rebase(server_chart(name, theirs), edit(name, mine), [], context(actor=DESK))
    assert isinstance(outcome, NeedsAttention)
    assert outcome.detail == ConflictDetail(name, mine, theirs, original(name))


@given(st.sampled_from(FIELDS), st.sampled_from(FIELDS), VALUES, VALUES)
def test_deciding_again_is_idempotent(
    server_field: str, my_field: str, theirs: str, mine: str
) -> None:
    chart = server_chart(server_field, theirs)
    command = edit(my_field, mine)
    first = decide_rebase(chart, command, [], context(actor=DESK))
    assert decide_rebase(chart, command, [], context(actor=DESK)) == first
    if isinstance(first, Redecided):
        again = decide_rebase(applied(chart, first), command, [], context(actor=DESK))
        assert isinstance(again, Converged)


@given(st.sampled_from(FIELDS), VALUES, VALUES)
def test_the_servers_value_being_ours_is_not_a_conflict(name: str, mine: str, later: str) -> None:
    """Our write landed before its answer was lost, or a later edit of ours is what the
    server shows: either way nothing is asked."""
    if mine == original(name):
        return
    landed = decide_rebase(server_chart(name, mine), edit(name, mine), [], context(actor=DESK))
    assert isinstance(landed, Redecided | Converged)
    if later in (mine, original(name)):
        return
    superseded = decide_rebase(
        server_chart(name, later),
        edit(name, mine),
        [edit(name, later, expected=mine)],
        context(actor=DESK),
    )
    assert isinstance(superseded, Converged)


def test_rebasable_is_a_property_of_the_command_class() -> None:
    assert c.UpdateDemographics.REBASABLE and c.ChangeDose.REBASABLE
    assert not c.RegisterPatient.REBASABLE and not c.RecordVitals.REBASABLE
    creating = {k for k, v in c.COMMANDS_BY_NAME.items() if not v.REBASABLE}
    assert "AddNote" in creating and "ScheduleFollowUp" in creating


def test_a_stored_conflict_detail_reads_back() -> None:
    detail = ConflictDetail("phone", "+255 1", "+255 2", "+255 0")
    assert ConflictDetail.from_json(detail.to_json()) == detail
    assert ConflictDetail.from_json(None) == ConflictDetail(None, None, None)
    assert ConflictDetail.from_json({"field": "dose", "servers": 250.0}).servers == "250.0"
