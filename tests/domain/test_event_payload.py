"""DomainEvent.to_payload is dataclasses.asdict, made fast: same value, and a copy."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.domain import events as ev

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    demographics=st.dictionaries(st.text(max_size=8), json_values, max_size=6),
    identifiers=st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
)
def test_to_payload_equals_asdict_and_is_a_copy(
    demographics: dict[str, Any], identifiers: list[dict[str, Any]]
) -> None:
    event = ev.PatientVersionReceived(
        resource_version="3", demographics=demographics, identifiers=identifiers
    )
    payload = event.to_payload()
    assert payload == dataclasses.asdict(event)
    payload["demographics"]["added"] = "x"
    payload["identifiers"].append({"added": "x"})
    assert "added" not in event.demographics
    assert {"added": "x"} not in event.identifiers


def test_tuples_and_named_tuples_come_out_as_asdict_makes_them() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Odd(ev.DomainEvent):
        pair: tuple[int, list[int]]
        named: Any

    from collections import namedtuple

    point = namedtuple("point", "x y")
    event = Odd(pair=(1, [2]), named=point(1, [2]))
    assert event.to_payload() == dataclasses.asdict(event)
    assert type(event.to_payload()["named"]) is point
