"""Times and measurements as people read them (local time, short month names)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from PySide6.QtCore import QDate, QDateTime

from app.domain.reference import VITAL_TEXT
from app.i18n import _
from app.i18n import formatting as shown

# key -> (label, unit), in the order of the vitals form and the summary; the wording is the
# domain's VITAL_TEXT (the one home of it, which the bundled vitals.json is checked against).
# The labels are English msgids (marked in the domain): show them with `_(label)`.
VITALS: dict[str, tuple[str, str]] = {key: (t.label, t.unit) for key, t in VITAL_TEXT.items()}


def parse(iso: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local(iso: str) -> datetime | None:
    moment = parse(iso)
    return moment.astimezone() if moment else None


def when(iso: str | None) -> str:
    """'21 Nov 2026, 09:30' in local time, in the current language's way; the raw text if
    it is not a date-time."""
    if not iso:
        return "—"
    moment = local(iso)
    return shown.moment(moment) if moment else iso


def time_of_day(iso: str) -> str:
    """'Sat 21 Nov, 09:30' in local time, in the current language's way."""
    moment = local(iso)
    return shown.weekday_moment(moment) if moment else iso


def to_iso(value: QDateTime) -> str:
    """A QDateTime as an ISO 8601 instant with the local UTC offset."""
    moment = datetime.fromtimestamp(value.toSecsSinceEpoch(), tz=UTC).astimezone()
    return moment.isoformat(timespec="seconds")


def to_datetime(value: QDateTime) -> datetime:
    return datetime.fromtimestamp(value.toSecsSinceEpoch(), tz=UTC).astimezone()


def to_qdatetime(iso: str) -> QDateTime:
    moment = parse(iso)
    return QDateTime() if moment is None else qdatetime_of(moment)


def qdatetime_of(moment: datetime) -> QDateTime:
    """An aware datetime as a QDateTime (whole seconds)."""
    return QDateTime.fromSecsSinceEpoch(int(moment.timestamp()))


def qdate_of(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def number(x: float) -> str:
    """A measurement as typed, with the current language's decimal sign ('36.6', '36,6')."""
    return shown.number(x)


def vital(key: str, value: float) -> str:
    unit = VITALS.get(key, (key, ""))[1]
    if not unit:
        return number(value)
    # Translators: a measurement and its unit ("120 mmHg", "36.6 °C")
    return _("{value} {unit}").format(value=number(value), unit=unit)


def vital_label(key: str) -> str:
    """The vital's name in the current language ("Heart rate")."""
    label = VITALS.get(key, (key, ""))[0]
    return _(label)  # a VITAL_TEXT label, marked with N_ in app/domain/reference.py
