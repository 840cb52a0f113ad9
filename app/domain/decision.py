"""The result of deciding a command: the events to record and any warnings to show."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.chart import PatientChart
from app.domain.errors import NotFoundError
from app.domain.events import DomainEvent
from app.domain.wording import Text, as_text, t


@dataclass(frozen=True)
class Decision:
    events: list[DomainEvent]
    occurred_at: str
    warnings: list[Text] = field(default_factory=list)


def require_registered(chart: PatientChart | None) -> PatientChart:
    if chart is None or not chart.registered:
        raise NotFoundError(t("This patient is not registered on this device"), "patient_id")
    return chart


def require_item(chart: PatientChart, item_id: str, kind: str, field_name: str, label: str):  # type: ignore[no-untyped-def]
    item = chart.item(item_id, kind)
    if item is None:
        raise NotFoundError(
            # Translators: {label} names a kind of chart item (prescription, referral, ...).
            t("No {label} with this id on the patient's chart", label=as_text(label)),
            field_name,
        )
    if item.entered_in_error:
        raise NotFoundError(
            t("This {label} was marked as entered in error", label=as_text(label)), field_name
        )
    return item
