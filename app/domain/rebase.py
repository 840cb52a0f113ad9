"""Rebase: deciding a pending command again on the server's newer versions (invariant 7).

Pure: the chart as the server now has it (with this device's still-pending changes folded on
top), the pending command, the device's later pending commands on the same chart, and the
context go in; a typed decision comes out. The services record it; sync only asks for it.

- `Redecided`: the command still applies (different fields merge); its re-decided events.
- `Converged`: the server already shows what the command asked for; nothing to push.
- `NeedsAttention`: the same field changed on both sides, or a precondition no longer holds;
  a person decides, shown both values (`ConflictDetail`).

A value the command expected that has since changed is a conflict unless the server now holds
this device's own intent: the command's own value (its write landed before the answer was
lost) or the value of a later command of this device on the same field (pushes write the
chart's current state, so an earlier command's write carries later edits). Such expectations
are settled before deciding again; a command whose every change is superseded by a later one
of its own device has nothing left to do (converged).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.domain import values
from app.domain.chart import PatientChart
from app.domain.commands import (
    DEMOGRAPHIC_FIELDS,
    ChangeDose,
    Command,
    FieldChange,
    RescheduleAppointment,
    ResolveSyncConflict,
    UpdateDemographics,
)
from app.domain.context import DecisionContext
from app.domain.decide import decide
from app.domain.decide_patient import clean_field
from app.domain.decision import Decision
from app.domain.errors import AlreadyDoneError, DomainError, PreconditionError
from app.domain.wording import N_, t


@dataclass(frozen=True)
class ConflictDetail:
    """What a person is shown to decide a conflict: the field, both values, what was seen."""

    field: str | None
    mine: str | None
    servers: str | None
    expected: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: object) -> ConflictDetail:
        """The detail as stored with a needs-attention command (missing keys are None)."""
        if not isinstance(data, dict):
            return cls(None, None, None)
        return cls(*(_text(data.get(f.name)) for f in dataclasses.fields(cls)))


@dataclass(frozen=True)
class Redecided:
    decision: Decision


@dataclass(frozen=True)
class Converged:
    reason: str


@dataclass(frozen=True)
class NeedsAttention:
    message: str
    detail: ConflictDetail


RebaseDecision = Redecided | Converged | NeedsAttention


def decide_rebase(
    chart: PatientChart | None,
    command: Command,
    later: Sequence[Command],
    ctx: DecisionContext,
) -> RebaseDecision:
    """Decide `command` again on `chart` (see the module docstring)."""
    try:
        return Redecided(_redecide(chart, command, later, ctx))
    except AlreadyDoneError as exc:
        return Converged(exc.message)
    except PreconditionError as exc:
        detail = ConflictDetail(
            exc.field, mine_value(command, exc.field), _text(exc.actual), _text(exc.expected)
        )
        return NeedsAttention(exc.message, detail)
    except DomainError as exc:
        return NeedsAttention(exc.message, ConflictDetail(exc.field, None, None))


def mine_value(command: Command, field: str | None) -> str | None:
    """The value this device's command wanted for `field`."""
    if field is None:
        return None
    if isinstance(command, UpdateDemographics):
        change = command.changes.get(field)
        if change is not None:
            return change.new
    return _text(getattr(command, field, None))


def _redecide(
    chart: PatientChart | None, command: Command, later: Sequence[Command], ctx: DecisionContext
) -> Decision:
    try:
        return decide(chart, command, ctx)
    except PreconditionError:
        settled = None if chart is None else _settle_expectations(chart, command, later, ctx)
        if settled is None:
            raise
    return decide(chart, settled, ctx)


def _settle_expectations(
    chart: PatientChart, command: Command, later: Sequence[Command], ctx: DecisionContext
) -> Command | None:
    """`command` with the expectations the server already fulfils settled, or None."""
    if isinstance(command, UpdateDemographics):
        return _settle_demographics(chart, command, later, ctx)
    if isinstance(command, ChangeDose):
        return _settle_dose(chart, command, later)
    if isinstance(command, RescheduleAppointment):
        return _settle_move(chart, command, later)
    return None


def _settle_demographics(
    chart: PatientChart, command: UpdateDemographics, later: Sequence[Command], ctx: DecisionContext
) -> Command | None:
    changes = dict(command.changes)
    for name, change in command.changes.items():
        current = chart.demographics.get(name)
        if change.expected == current or name not in DEMOGRAPHIC_FIELDS:
            continue
        if _clean(name, change.new, ctx) == current:
            changes[name] = FieldChange(new=change.new, expected=current)
        elif current in _later_demographics(name, later, ctx):
            del changes[name]  # a later edit of ours replaced this one
    if changes == dict(command.changes):
        return None
    if not changes:
        raise AlreadyDoneError(t("A later edit on this device replaced this one"), "changes")
    return dataclasses.replace(command, changes=changes)


def _settle_dose(
    chart: PatientChart, command: ChangeDose, later: Sequence[Command]
) -> Command | None:
    item = chart.items.get(command.prescription_id)
    if item is None or command.expected_dose is None:
        return None
    data = item.data
    if (
        float(command.dose) == float(data["dose"])
        and (command.dose_unit or data["dose_unit"]) == data["dose_unit"]
        and (command.frequency or data["frequency"]) == data["frequency"]
    ):
        return dataclasses.replace(command, expected_dose=None)
    if any(
        isinstance(c, ChangeDose)
        and c.prescription_id == command.prescription_id
        and float(c.dose) == float(data["dose"])
        for c in later
    ):
        raise AlreadyDoneError(t("A later dose change on this device replaced this one"), "dose")
    return None


def _settle_move(
    chart: PatientChart, command: RescheduleAppointment, later: Sequence[Command]
) -> Command | None:
    item = chart.items.get(command.appointment_id)
    if item is None or command.expected_start is None:
        return None
    start = _instant(item.data.get("start"))
    end = _instant(item.data.get("end"))
    if start is None or end is None:
        return None
    minutes = int((end - start).total_seconds() // 60)
    if _instant(command.start) == start and command.duration_minutes in (None, minutes):
        return dataclasses.replace(command, expected_start=None)
    if any(
        isinstance(c, RescheduleAppointment)
        and c.appointment_id == command.appointment_id
        and _instant(c.start) == start
        for c in later
    ):
        raise AlreadyDoneError(t("A later move on this device replaced this one"), "start")
    return None


_INVALID = object()


def _clean(name: str, value: str | None, ctx: DecisionContext) -> str | object | None:
    try:
        return clean_field(name, value, ctx)
    except DomainError:
        return _INVALID


def _later_demographics(
    name: str, later: Sequence[Command], ctx: DecisionContext
) -> list[str | object | None]:
    """The values later commands of this device give a demographic field."""
    found: list[str | object | None] = []
    for command in later:
        if isinstance(command, UpdateDemographics) and name in command.changes:
            found.append(_clean(name, command.changes[name].new, ctx))
        elif (
            isinstance(command, ResolveSyncConflict)
            and command.field == name
            and command.resolution in ("keep-mine", "edit")
        ):
            found.append(_clean(name, command.value, ctx))
    return found


def _instant(text: object) -> datetime | None:
    try:
        return values.instant(text if isinstance(text, str) else None, "start", N_("Start"))
    except DomainError:
        return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)
