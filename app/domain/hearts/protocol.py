"""A hypertension protocol: its values and the check of a protocol file's contents.

The file (resources/protocols/hearts_hypertension.json, or IT's override in the vault's data
directory) is read by the store; `parse_protocol` turns its JSON object into a Protocol or
raises ProtocolError listing every problem, each naming the key it is about, so IT can fix
the file without reading code.
"""

# i18n: ignore-file (the file problems are IT diagnostics, also logged: English like the log)

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.reference import Catalog

FORMAT = "fieldchart-hypertension-protocol"


class ProtocolError(ValueError):
    """A protocol file that cannot be used; `problems` says what is wrong, one per key."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class DrugOption:
    """One medicine a component can be given as, with its doses step by step."""

    medicine: str  # a medicine id of the catalog
    doses: tuple[float, ...]
    unit: str
    route: str
    frequency: str


@dataclass(frozen=True)
class Component:
    """A drug class the protocol adds (the options are alternatives, first preferred)."""

    id: str
    name: str
    options: tuple[DrugOption, ...]
    # Not given to pregnant women or women of child-bearing age without contraception.
    child_bearing_caution: bool = False


@dataclass(frozen=True)
class Step:
    number: int
    component: str
    level: int  # 1-based index into the option's doses


@dataclass(frozen=True)
class ChildBearing:
    sex: str
    min_age: int
    max_age: int
    pregnancy_codes: tuple[str, ...]  # ICD-10 prefixes of an active pregnancy diagnosis
    contraception_classes: frozenset[str]
    rule: str


@dataclass(frozen=True)
class Protocol:
    id: str
    name: str
    version: str
    source: str
    diagnosis_codes: tuple[str, ...]  # ICD-10 prefixes that mean hypertension
    systolic_below: float
    diastolic_below: float
    urgent_systolic: float
    urgent_diastolic: float
    urgent_advice: str
    follow_up_uncontrolled: int
    follow_up_controlled: int
    follow_up_urgent: int
    components: tuple[Component, ...]
    steps: tuple[Step, ...]
    after_last_step: str
    never_together: tuple[frozenset[str], ...]
    child_bearing: ChildBearing | None

    def component(self, component_id: str) -> Component:
        return next(c for c in self.components if c.id == component_id)


class _Reader:
    """Reads keys of the file, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def text(self, data: Mapping[str, Any], key: str, where: str = "") -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(where + key, "must be a non-empty text")
            return ""
        return value.strip()

    def number(
        self, data: Mapping[str, Any], key: str, where: str, low: float, high: float
    ) -> float:
        value = data.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            self.fail(where + key, f"must be a number from {low:g} to {high:g}")
            return low
        return float(value)

    def section(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            self.fail(key, "must be an object")
            return {}
        return value

    def items(self, data: Mapping[str, Any], key: str, where: str = "") -> list[Any]:
        value = data.get(key)
        if not isinstance(value, list) or not value:
            self.fail(where + key, "must be a non-empty list")
            return []
        return value

    def texts(self, data: Mapping[str, Any], key: str, where: str = "") -> tuple[str, ...]:
        values = self.items(data, key, where)
        if not all(isinstance(v, str) and v.strip() for v in values):
            self.fail(where + key, "must list texts")
            return ()
        return tuple(v.strip() for v in values)


def parse_protocol(data: Any, catalog: Catalog) -> Protocol:
    """The protocol a file's JSON value describes; ProtocolError if it is not usable."""
    r = _Reader()
    if not isinstance(data, dict):
        raise ProtocolError(["the file must hold one JSON object"])
    if data.get("format") != FORMAT:
        r.fail("format", f'must be "{FORMAT}"')
    target = r.section(data, "control_target")
    urgent = r.section(data, "urgent")
    follow = r.section(data, "follow_up_days")
    components = tuple(_component(r, c, n, catalog) for n, c in _numbered(r, data, "components"))
    known = {c.id for c in components}
    steps = tuple(_step(r, s, n, known) for n, s in _numbered(r, data, "steps"))
    _check_steps(r, steps, components)
    protocol = Protocol(
        id=r.text(data, "id"),
        name=r.text(data, "name"),
        version=r.text(data, "version"),
        source=r.text(data, "source"),
        diagnosis_codes=r.texts(data, "diagnosis_codes"),
        systolic_below=r.number(target, "systolic_below", "control_target.", 90, 200),
        diastolic_below=r.number(target, "diastolic_below", "control_target.", 50, 130),
        urgent_systolic=r.number(urgent, "systolic_at_least", "urgent.", 140, 260),
        urgent_diastolic=r.number(urgent, "diastolic_at_least", "urgent.", 90, 180),
        urgent_advice=r.text(urgent, "advice", "urgent."),
        follow_up_uncontrolled=int(r.number(follow, "uncontrolled", "follow_up_days.", 1, 180)),
        follow_up_controlled=int(r.number(follow, "controlled", "follow_up_days.", 1, 365)),
        follow_up_urgent=int(r.number(follow, "urgent", "follow_up_days.", 0, 7)),
        components=components,
        steps=steps,
        after_last_step=r.text(data, "after_last_step"),
        never_together=_never_together(r, data, catalog),
        child_bearing=_child_bearing(r, data),
    )
    if protocol.urgent_systolic < protocol.systolic_below:
        r.fail("urgent.systolic_at_least", "must not be below control_target.systolic_below")
    if r.problems:
        raise ProtocolError(r.problems)
    return protocol


def _numbered(r: _Reader, data: Mapping[str, Any], key: str) -> list[tuple[int, Any]]:
    return list(enumerate(r.items(data, key), start=1))


def _component(r: _Reader, data: Any, n: int, catalog: Catalog) -> Component:
    where = f"components[{n}]."
    if not isinstance(data, dict):
        r.fail(where.rstrip("."), "must be an object")
        return Component(f"?{n}", "", ())
    options = tuple(
        _option(r, o, f"{where}options[{m}].", catalog)
        for m, o in enumerate(r.items(data, "options", where), start=1)
    )
    return Component(
        r.text(data, "id", where),
        r.text(data, "name", where),
        options,
        bool(data.get("child_bearing_caution", False)),
    )


def _option(r: _Reader, data: Any, where: str, catalog: Catalog) -> DrugOption:
    if not isinstance(data, dict):
        r.fail(where.rstrip("."), "must be an object")
        return DrugOption("", (), "", "", "")
    medicine = r.text(data, "medicine", where)
    if medicine and catalog.medicines and medicine not in catalog.medicines:
        r.fail(where + "medicine", f"{medicine!r} is not in the medicine list")
    doses = r.items(data, "doses", where)
    good = [d for d in doses if isinstance(d, int | float) and not isinstance(d, bool) and d > 0]
    if len(good) != len(doses) or good != sorted(set(good)):
        r.fail(where + "doses", "must be positive numbers, each higher than the one before")
    frequency = r.text(data, "frequency", where)
    if frequency and catalog.frequencies and frequency not in catalog.frequencies:
        r.fail(where + "frequency", f"{frequency!r} is not a frequency code of the list")
    route = r.text(data, "route", where)
    if route and catalog.routes and route not in catalog.routes:
        r.fail(where + "route", f"{route!r} is not a route of the list")
    return DrugOption(
        medicine, tuple(float(d) for d in good), r.text(data, "unit", where), route, frequency
    )


def _step(r: _Reader, data: Any, n: int, known: set[str]) -> Step:
    where = f"steps[{n}]."
    if not isinstance(data, dict):
        r.fail(where.rstrip("."), "must be an object")
        return Step(n, "", 1)
    if data.get("step") != n:
        r.fail(where + "step", f"must be {n} (steps are numbered 1, 2, 3, … in order)")
    component = r.text(data, "component", where)
    if component and component not in known:
        r.fail(where + "component", f"{component!r} is not one of the components")
    level = data.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or level < 1:
        r.fail(where + "level", "must be a whole number from 1")
        level = 1
    return Step(n, component, level)


def _check_steps(r: _Reader, steps: tuple[Step, ...], components: tuple[Component, ...]) -> None:
    """Each component's steps go up one dose level at a time, within every option's doses."""
    by_id = {c.id: c for c in components}
    seen: dict[str, int] = {}
    for step in steps:
        component = by_id.get(step.component)
        if component is None:
            continue
        if step.level != seen.get(step.component, 0) + 1:
            r.fail(
                f"steps[{step.number}].level", "must be one more than this component's last step"
            )
        seen[step.component] = step.level
        for option in component.options:
            if option.doses and step.level > len(option.doses):
                r.fail(
                    f"steps[{step.number}].level",
                    f"{option.medicine} has only {len(option.doses)} dose(s)",
                )


def _never_together(
    r: _Reader, data: Mapping[str, Any], catalog: Catalog
) -> tuple[frozenset[str], ...]:
    pairs = data.get("never_together", [])
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
    ):
        r.fail("never_together", "must be a list of pairs of drug class ids")
        return ()
    for pair in pairs:
        unknown = [x for x in pair if catalog.class_names and x not in catalog.class_names]
        if unknown:
            r.fail("never_together", f"{', '.join(unknown)} is not a drug class of the list")
    return tuple(frozenset(p) for p in pairs)


def _child_bearing(r: _Reader, data: Mapping[str, Any]) -> ChildBearing | None:
    if "child_bearing" not in data:
        return None
    section = r.section(data, "child_bearing")
    where = "child_bearing."
    low = int(r.number(section, "min_age", where, 0, 120))
    high = int(r.number(section, "max_age", where, 0, 120))
    if high < low:
        r.fail(where + "max_age", "must not be below min_age")
    return ChildBearing(
        sex=r.text(section, "sex", where),
        min_age=low,
        max_age=high,
        pregnancy_codes=r.texts(section, "pregnancy_codes", where),
        contraception_classes=frozenset(r.texts(section, "contraception_classes", where)),
        rule=r.text(section, "rule", where),
    )
