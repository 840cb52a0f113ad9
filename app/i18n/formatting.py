"""Dates, times and numbers in the current language's way (Babel's CLDR data).

One home for every layer that shows them (desktop, command line, printouts), so "21 nov.
2026, 09:30" in French and "21 Nov 2026, 09:30" in English come from the same rule. Digits
stay 0-9 in every language, Arabic included: clinicians type them on Latin keyboards and a
reading must look the same on screen, on paper and on the device that typed it
(docs/translations.md). Times are the 24-hour clock everywhere, as clinics write them.
"""

from __future__ import annotations

from datetime import date, datetime

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.dates import format_skeleton
from babel.numbers import format_decimal

from app.i18n import current_language

LATIN_DIGITS = "latn"


# English as the clinics write it: day before month ("21 Nov 2026"), not the US order.
_FORMAT_LOCALE = {"en": "en_GB"}


def _locale() -> str:
    language = current_language()
    return _FORMAT_LOCALE.get(language, language)


def day(value: date) -> str:
    """'21 Nov 2026' / '21 nov. 2026' / '21 نوفمبر 2026'."""
    return _babel_date(value, "medium", locale=_locale())


def weekday_day(value: date) -> str:
    """'Sat 21 Nov 2026' in the language's order."""
    return format_skeleton("yMMMEd", value, locale=_locale())


def weekday_day_short(value: date) -> str:
    """'Sat 21 Nov' (no year)."""
    return format_skeleton("MMMEd", value, locale=_locale())


def clock(value: datetime) -> str:
    """'09:30' (24-hour)."""
    return _babel_datetime(value, "HH:mm", locale=_locale())


def _joined(day_text: str, time_text: str) -> str:
    """A day and a time as the language joins them (CLDR's medium date-time glue)."""
    glue = str(Locale.parse(_locale()).datetime_formats["medium"]).replace("'", "")
    return glue.replace("{1}", day_text).replace("{0}", time_text)


def moment(value: datetime) -> str:
    """'21 Nov 2026, 09:30': a day and a 24-hour time, as the language joins them."""
    return _joined(day(value.date()), clock(value))


def weekday_moment(value: datetime) -> str:
    """'Sat 21 Nov, 09:30'."""
    return _joined(weekday_day_short(value.date()), clock(value))


def number(value: float) -> str:
    """A measurement as typed: no trailing zeros, the language's decimal sign, no grouping
    ('36.6', '36,6'); whole numbers stay whole ('120')."""
    return format_decimal(
        value,
        format="0.######",
        locale=_locale(),
        numbering_system=LATIN_DIGITS,
    )


def count(value: int) -> str:
    """A whole number with the language's grouping ('1,234', '1 234')."""
    return format_decimal(value, locale=_locale(), numbering_system=LATIN_DIGITS)


def month_year(value: date) -> str:
    """'November 2026' (a month, as a report names it)."""
    return format_skeleton("yMMMM", value, locale=_locale())


def month_year_short(value: date) -> str:
    """'Nov 26' (a month on a plot's axis)."""
    return format_skeleton("yyMMM", value, locale=_locale())
