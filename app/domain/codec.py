"""Commands to and from plain JSON objects, with a specific message for every bad input."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from app.domain.commands import COMMANDS_BY_NAME, Command, FieldChange, Identifier
from app.domain.errors import ValidationError
from app.domain.values import refuse_non_text
from app.domain.wording import t

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def command_from_json(data: object) -> Command:
    """Build a command from `{"type": "RecordVitals", ...snake_case fields}`."""
    if not isinstance(data, Mapping):
        raise ValidationError(t("A command must be a JSON object"), "type")
    name = data.get("type")
    if not isinstance(name, str) or name not in COMMANDS_BY_NAME:
        raise ValidationError(
            t(
                "Unknown command type {name!r}; known: {items}",
                name=str(name)[:40],
                items=", ".join(sorted(COMMANDS_BY_NAME)),
            ),
            "type",
        )
    cls = COMMANDS_BY_NAME[name]
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields) - {"type"})
    if unknown:
        raise ValidationError(
            t("{name} has no field {unknown!r}", name=name, unknown=unknown[0][:40]),
            unknown[0][:40],
        )
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for field_name, f in fields.items():
        if field_name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValidationError(
                    t("{name} needs the field {field_name!r}", name=name, field_name=field_name),
                    field_name,
                )
            continue
        values[field_name] = _convert(data[field_name], hints[field_name], field_name)
    return cls(**values)


def _convert(value: object, hint: Any, field: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, field)
    if hint is str:
        if not isinstance(value, str):
            raise ValidationError(t("{field} must be text", field=field), field)
        # Ids and codes too: a lone surrogate cannot be stored or printed as UTF-8.
        refuse_non_text(value, field, field)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ValidationError(t("{field} must be true or false", field=field), field)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(t("{field} must be a number", field=field), field)
        try:
            return float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise ValidationError(
                t("{field} is far too large a number", field=field), field
            ) from None
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(t("{field} must be a whole number", field=field), field)
        return value
    if origin is tuple and args and args[0] is str:
        if not isinstance(value, list):
            raise ValidationError(t("{field} must be a list of texts", field=field), field)
        return tuple(_convert(v, str, f"{field}[{i}]") for i, v in enumerate(value))
    if origin is tuple and args and args[0] is Identifier:
        if not isinstance(value, list):
            raise ValidationError(
                t("{field} must be a list of {{system, value}} objects", field=field), field
            )
        result = []
        for i, item in enumerate(value):
            if not isinstance(item, Mapping) or set(item) - {"system", "value"}:
                raise ValidationError(
                    t("{field}[{i}] must be an object with system and value", field=field, i=i),
                    f"{field}[{i}]",
                )
            result.append(
                Identifier(
                    system=_convert(item.get("system"), str, f"{field}[{i}].system"),
                    value=_convert(item.get("value"), str, f"{field}[{i}].value"),
                )
            )
        return tuple(result)
    if origin is Mapping and args[1] is FieldChange:
        if not isinstance(value, Mapping):
            raise ValidationError(
                t("{field} must map field names to {{new, expected}} objects", field=field), field
            )
        changes = {}
        for key, change in value.items():
            if (
                not isinstance(change, Mapping)
                or "new" not in change
                or set(change) - {"new", "expected"}
            ):
                raise ValidationError(
                    t(
                        "the change of {key} needs 'new' (and 'expected', the value you saw)",
                        key=str(key)[:40],
                    ),
                    str(key)[:40],
                )
            changes[str(key)] = FieldChange(
                new=_convert(change.get("new"), str | None, str(key)),
                expected=_convert(change.get("expected"), str | None, str(key)),
            )
        return changes
    raise TypeError(f"no JSON conversion for {hint!r}")  # a programming error, not input


def command_to_json(command: Command) -> dict[str, Any]:
    data = dataclasses.asdict(command)
    if "identifiers" in data:
        data["identifiers"] = [dict(i) for i in data["identifiers"]]
    # JSON has lists, not tuples (asdict keeps a tuple field a tuple).
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
    return {"type": type(command).__name__, **data}
