"""Pure domain builders: a decision context with a fixed clock and counted ids, and charts
built by deciding and evolving commands (no database)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest

from app.domain import commands as c
from app.domain.chart import PatientChart, evolve
from app.domain.context import DecisionContext, SlotLookup
from app.domain.decide import decide
from app.domain.decision import Decision
from app.domain.errors import DomainError
from app.domain.reference import Catalog
from app.domain.roles import Actor
from tests.clinic_fixtures import CATALOG, DOC, NOW, registration

PID = "p-1"


def context(
    actor: Actor = DOC,
    now: datetime = NOW,
    catalog: Catalog = CATALOG,
    clash: SlotLookup | None = None,
    taken: Callable[[str], bool] | None = None,
) -> DecisionContext:
    """A context with a fixed clock and ids id-1, id-2, ... ; optional slot and id lookups."""
    counter = itertools.count(1)
    ctx = DecisionContext(
        now=now, actor=actor, new_id=lambda: f"id-{next(counter)}", catalog=catalog
    )
    if clash is not None:
        ctx = replace(ctx, clashing_appointment=clash)
    if taken is not None:
        ctx = replace(ctx, item_id_taken=taken)
    return ctx


def chart_after(*commands: c.Command, ctx: DecisionContext | None = None) -> PatientChart:
    """The chart of patient PID after registering it and accepting `commands` in order."""
    ctx = ctx or context()
    chart = PatientChart(PID)
    for command in (registration(patient_id=PID), *commands):
        for event in decide(chart if chart.registered else None, command, ctx).events:
            evolve(chart, event)
    return chart


class _Fresh:
    """Marks "a freshly registered patient" where None means "no chart at all"."""


FRESH = _Fresh()
ChartArg = PatientChart | None | _Fresh


def accept(
    command: c.Command, chart: ChartArg = FRESH, ctx: DecisionContext | None = None
) -> Decision:
    """Decide `command` on `chart` (default: a freshly registered patient; None: no patient)."""
    state = chart_after() if isinstance(chart, _Fresh) else chart
    return decide(state, command, ctx or context())


def refuse(
    command: c.Command,
    chart: ChartArg = FRESH,
    ctx: DecisionContext | None = None,
    error: type[DomainError] = DomainError,
) -> DomainError:
    """Decide `command` expecting a refusal of type `error`; returns the error."""
    with pytest.raises(error) as info:
        accept(command, chart, ctx)
    return info.value
