"""Registering patients and editing demographics."""

from __future__ import annotations

from app.domain import values as v
from app.domain.chart import PatientChart
from app.domain.commands import (
    DEMOGRAPHIC_FIELDS,
    RESOLUTIONS,
    RegisterPatient,
    ResolveSyncConflict,
    UpdateDemographics,
)
from app.domain.context import DecisionContext
from app.domain.decision import Decision, require_registered
from app.domain.errors import AlreadyDoneError, PreconditionError, ValidationError
from app.domain.events import (
    DemographicsUpdated,
    DomainEvent,
    PatientRegistered,
    SyncConflictResolved,
)
from app.domain.wording import N_, as_text, t

LABELS = {
    "given": N_("Given name"),
    "family": N_("Family name"),
    "birth_date": N_("Birth date"),
    "sex": N_("Sex"),
    "phone": N_("Phone"),
    "address": N_("Address"),
}


def clean_field(name: str, value: str | None, ctx: DecisionContext) -> str | None:
    """One demographic field, checked the same way at registration and on edit."""
    if name in ("given", "family"):
        return v.required_text(value, name, LABELS[name], max_len=100)
    if name == "birth_date":
        return v.birth_date(value, name, ctx.today)
    if name == "sex":
        return v.choice(value, name, N_("Sex"), v.SEXES)
    if name == "phone":
        return v.phone(value, name)
    if name == "address":
        return v.text(value, name, N_("Address"), required=False, max_len=300)
    raise ValidationError(t("{name!r} is not a demographic field", name=name), "changes")


def register(chart: PatientChart | None, cmd: RegisterPatient, ctx: DecisionContext) -> Decision:
    if chart is not None and chart.registered:
        raise ValidationError(t("A patient with this id is already registered"), "patient_id")
    identifiers = []
    seen = set()
    for i, ident in enumerate(cmd.identifiers):
        system = v.required_text(ident.system, f"identifiers[{i}].system", N_("Identifier system"))
        value = v.required_text(ident.value, f"identifiers[{i}].value", N_("Identifier value"))
        if (system, value) in seen:
            raise ValidationError(t("The same identifier is listed twice"), f"identifiers[{i}]")
        seen.add((system, value))
        identifiers.append({"system": system, "value": value})
    fields = {name: clean_field(name, getattr(cmd, name), ctx) for name in DEMOGRAPHIC_FIELDS}
    event = PatientRegistered(patient_id=cmd.patient_id, identifiers=identifiers, **fields)  # type: ignore[arg-type]
    return Decision([event], v.iso(ctx.now))


def update_demographics(
    chart: PatientChart | None, cmd: UpdateDemographics, ctx: DecisionContext
) -> Decision:
    chart = require_registered(chart)
    if not cmd.changes:
        raise ValidationError(t("Nothing to change: name at least one field"), "changes")
    changes: dict[str, str | None] = {}
    previous: dict[str, str | None] = {}
    for name, change in cmd.changes.items():
        if name not in DEMOGRAPHIC_FIELDS:
            raise ValidationError(
                t(
                    "{name!r} cannot be edited; editable fields: {items}",
                    name=name,
                    items=", ".join(DEMOGRAPHIC_FIELDS),
                ),
                "changes",
            )
        current = chart.demographics.get(name)
        if change.expected != current:
            # Someone changed this field since the user last saw it: never overwrite silently.
            raise PreconditionError(
                t(
                    "{field} was changed by someone else since you opened the chart",
                    field=as_text(LABELS[name]),
                ),
                name,
                expected=change.expected,
                actual=current,
            )
        new = clean_field(name, change.new, ctx)
        if new != current:
            changes[name], previous[name] = new, current
    if not changes:
        raise AlreadyDoneError(
            t("Nothing changed: the new values equal the current ones"), "changes"
        )
    return Decision([DemographicsUpdated(changes=changes, previous=previous)], v.iso(ctx.now))


def resolve_conflict(
    chart: PatientChart | None, cmd: ResolveSyncConflict, ctx: DecisionContext
) -> Decision:
    """Settle a needs-attention conflict; the losing value stays in the history."""
    chart = require_registered(chart)
    resolution = v.choice(cmd.resolution, "resolution", N_("Resolution"), RESOLUTIONS)
    events: list[DomainEvent] = []
    value = None
    if resolution in ("keep-mine", "edit"):
        if cmd.field not in DEMOGRAPHIC_FIELDS:
            raise ValidationError(
                t(
                    "Only demographic fields can be kept or edited here; take the server's value "
                    "and repeat the action on the chart"
                ),
                "field",
            )
        value = clean_field(cmd.field, cmd.value, ctx)
        current = chart.demographics.get(cmd.field)
        if value != current:
            events.append(
                DemographicsUpdated(changes={cmd.field: value}, previous={cmd.field: current})
            )
    events.append(
        SyncConflictResolved(
            command_id=cmd.conflict_command_id,
            resolution=resolution or "",
            field=cmd.field,
            value=value,
        )
    )
    return Decision(events, v.iso(ctx.now))
