"""argparse's own words ("usage:", "options", its error messages) in the user's language.

argparse looks its words up with the standard library's gettext, in a catalog we do not
ship; `install()` points it at ours (msgctxt "argparse"), so `fieldchart --help` and
"fieldchart: error: …" read in one language, not half in English.
"""

from __future__ import annotations

import argparse

from app.i18n import NC_, pgettext

ARGPARSE_WORDS = (
    NC_("argparse", "usage: "),
    NC_("argparse", "options"),
    NC_("argparse", "positional arguments"),
    NC_("argparse", "show this help message and exit"),
    NC_("argparse", "%(prog)s: error: %(message)s\n"),
    NC_("argparse", "argument %(argument_name)s: %(message)s"),
    NC_("argparse", "invalid choice: %(value)r (choose from %(choices)s)"),
    NC_("argparse", "invalid %(type)s value: %(value)r"),
    NC_("argparse", "the following arguments are required: %s"),
    NC_("argparse", "unrecognized arguments: %s"),
    NC_("argparse", "expected one argument"),
    NC_("argparse", "expected at least one argument"),
    NC_("argparse", "ambiguous option: %(option)s could match %(matches)s"),
    NC_("argparse", "not allowed with argument %s"),
    NC_("argparse", "one of the arguments %s is required"),
)
_OURS = frozenset(text for _context, text in ARGPARSE_WORDS)


def _translated(message: str) -> str:
    return pgettext("argparse", message) if message in _OURS else message


def install() -> None:
    """argparse's module-level `_` (imported from gettext) becomes ours."""
    argparse._ = _translated  # type: ignore[attr-defined]
