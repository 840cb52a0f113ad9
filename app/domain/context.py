"""What `decide` may know besides the chart: injected clock, ids, reference data, schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.domain.reference import Catalog
from app.domain.roles import Actor

# (clinician, start, end, appointment to ignore) -> id of a clashing booked appointment, or None
SlotLookup = Callable[[str, datetime, datetime, str | None], str | None]


def _no_clash(clinician: str, start: datetime, end: datetime, ignore: str | None) -> str | None:
    return None


@dataclass(frozen=True)
class DecisionContext:
    now: datetime
    actor: Actor
    new_id: Callable[[], str]
    catalog: Catalog = field(default_factory=Catalog)
    clashing_appointment: SlotLookup = _no_clash
