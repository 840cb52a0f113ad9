"""FieldChart in the languages of its clinics: one gettext catalog for every layer.

    from app.i18n import _, ngettext, pgettext, N_

`_("Save")` translates now, into the current language; `N_("Save")` only marks a constant
that is translated where it is shown (`_(CONSTANT)`). Values go in named placeholders
(`_("Saved {count} vitals").format(count=n)`), never glued onto pieces of a sentence, so a
translator can move them. The domain does not translate (it stays pure): it hands back
`Text` (app/domain/wording.py) that `say()` renders here.

The current language is one per process (a desktop has one user at a time; the command line
runs as the user who unlocked) and `using_language()` borrows another for a block — a
printout in the patient's language. Catalogs live in resources/locale/<lang>/LC_MESSAGES/
fieldchart.po, extracted and checked by tests/i18n (docs/translations.md).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from app.domain.wording import Text, as_text
from app.i18n.catalogs import LAUNCH_LANGUAGES, SOURCE_LANGUAGE, catalog_for, normalise

__all__ = [
    "LANGUAGE_ENV",
    "LAUNCH_LANGUAGES",
    "NC_",
    "N_",
    "SOURCE_LANGUAGE",
    "_",
    "current_language",
    "is_rtl",
    "ltr",
    "ngettext",
    "npgettext",
    "pgettext",
    "say",
    "set_language",
    "using_language",
    "word",
]

RIGHT_TO_LEFT = frozenset({"ar"})
# Overrides the user's own language for one command-line run (scripts, support sessions).
LANGUAGE_ENV = "FIELDCHART_LANG"

# A language borrowed for a block (using_language); None: the process-wide choice.
_language: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "fieldchart_language", default=None
)
# The process-wide choice; a ContextVar default cannot change after creation, so a
# set_language() in one thread (the GUI) must be seen by the sync worker's threads too.
_process_language = [SOURCE_LANGUAGE]


def current_language() -> str:
    borrowed = _language.get()
    return borrowed if borrowed is not None else _process_language[0]


def set_language(code: str | None) -> str:
    """Use `code` (a launch language; unknown or empty -> English) from now on; returns it."""
    language = normalise(code)
    _process_language[0] = language
    return language


@contextmanager
def using_language(code: str | None) -> Iterator[str]:
    """Within the block, translate into `code` (a printout in the patient's language); other
    threads keep the process's language."""
    language = normalise(code)
    token = _language.set(language)
    try:
        yield language
    finally:
        _language.reset(token)


def is_rtl(code: str | None = None) -> bool:
    return normalise(code or current_language()) in RIGHT_TO_LEFT


def _(message: str) -> str:
    return catalog_for(current_language()).gettext(message)


def N_(message: str) -> str:
    """Marks `message` for the catalog without translating it (translate where shown)."""
    return message


def NC_(context: str, message: str) -> tuple[str, str]:
    """Marks `message` in `context` (Qt's own strings, app/ui/language.py) without translating."""
    return (context, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    return catalog_for(current_language()).ngettext(singular, plural, count)


def pgettext(context: str, message: str) -> str:
    """`message` as meant in `context` ("verb", "QPlatformTheme", ...)."""
    return catalog_for(current_language()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, count: int) -> str:
    return catalog_for(current_language()).npgettext(context, singular, plural, count)


def word(table: Mapping[str, str], code: str) -> str:
    """A stored code in words of the current language, from a table of N_-marked English
    words ({"moderate": N_("Moderate")}); a code the table does not know, as written."""
    english = table.get(code)
    return _(english) if english else code


def ltr(value: str) -> str:
    """`value` (a date, a phone number, an identifier) kept left to right inside any text:
    in Arabic, "+254 712 480 316" and "1971-03-12" would otherwise be reordered by the
    bidirectional algorithm (a "+" moved to the end, a date read backwards). Unicode's
    left-to-right isolate is invisible and changes nothing in left-to-right languages."""
    return f"\u2066{value}\u2069" if value else value


def say(message: str | Text) -> str:
    """A domain Text (or a marked string) in the current language. In a right-to-left
    language each value with a digit in it ("132/84", "2026-11-21", "+254 …") is kept left
    to right, or Arabic text around it would reorder it."""
    if is_rtl():
        return as_text(message).render(_, ngettext, _left_to_right_if_numeric)
    return as_text(message).render(_, ngettext)


# An instant ("2026-12-02T12:00:00+00:00") is shown later as a local date in the language's
# own format, which has its own direction marks: it must not be forced left to right.
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _left_to_right_if_numeric(value: object) -> object:
    if isinstance(value, int | float):
        return ltr(str(value))
    if isinstance(value, str) and any(c.isdigit() for c in value) and not _INSTANT.search(value):
        return ltr(value)
    return value
