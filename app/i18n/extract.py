"""Keeps the catalogs in step with the sources, and says what is missing.

    .venv/bin/python -m app.i18n.extract update   re-extract resources/locale/fieldchart.pot
                                                   and merge it into every launch language
    .venv/bin/python -m app.i18n.extract check    exit 1 if a string is not in the template or
                                                   a launch language misses a translation

Babel's extractor reads the sources with the keywords below (the markers of app.i18n and
app/domain/wording.py); `# Translators:` comments go to the translators. The check is what
CI runs (tests/i18n/test_catalogs.py): a new string without a translation in every launch
language fails the build, and so does a translation whose `{placeholders}` differ from the
English ones (a missing `{value}` would hide a reading).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from app.i18n.catalogs import DOMAIN, LAUNCH_LANGUAGES, LOCALE_DIR, SOURCE_LANGUAGE, catalog_path

ROOT = LOCALE_DIR.parents[1]
SOURCE_DIRS = ("app", "sync")
KEYWORDS: dict[str, tuple[int | tuple[int, str], ...] | None] = {
    "_": None,
    "N_": None,
    "NC_": ((1, "c"), 2),
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "t": None,
    "tn": (1, 2),
}
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def extract() -> Catalog:
    template = Catalog(project="FieldChart", domain=DOMAIN, charset="utf-8")
    for folder in SOURCE_DIRS:
        found = extract_from_dir(
            ROOT / folder,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            if not message or (isinstance(message, tuple) and not message[0]):
                continue
            template.add(
                message,
                locations=[(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


# A fixed date: the files change only when their strings do (no churn in every commit).
STAMP = datetime(2026, 12, 1, tzinfo=UTC)


def _write(path: Path, catalog: Catalog) -> None:
    catalog.creation_date = catalog.revision_date = STAMP
    catalog.fuzzy = False
    catalog.copyright_holder = "FieldChart"
    catalog.msgid_bugs_address = "translations@fieldchart.invalid"
    catalog.last_translator = "FieldChart translators"
    catalog.language_team = f"FieldChart {catalog.locale or 'template'}"
    image = io.BytesIO()
    write_po(image, catalog, width=100, sort_output=True, include_lineno=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image.getvalue())


def _read(path: Path, language: str) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=language, domain=DOMAIN)


def update() -> None:
    template = extract()
    _write(TEMPLATE, template)
    for language in LAUNCH_LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        path = catalog_path(language)
        catalog = (
            _read(path, language)
            if path.exists()
            else Catalog(locale=language, domain=DOMAIN, project="FieldChart", charset="utf-8")
        )
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write(path, catalog)


Key = tuple[str, str | None]  # (the English, or its singular; the context)


def _key(message: Message) -> Key:
    return (message.id if isinstance(message.id, str) else message.id[0], message.context)


def _ids(catalog: Iterable[Message]) -> set[Key]:
    return {_key(m) for m in catalog if m.id}


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def problems() -> list[str]:
    """Everything that stops the catalogs from being complete, one line each."""
    template = extract()
    wanted = _ids(template)
    found: list[str] = []
    if not TEMPLATE.exists() or _ids(_read(TEMPLATE, SOURCE_LANGUAGE)) != wanted:
        found.append(
            "resources/locale/fieldchart.pot is not the sources' strings: run "
            "`.venv/bin/python -m app.i18n.extract update` and translate what is new"
        )
    for language in LAUNCH_LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        path = catalog_path(language)
        if not path.exists():
            found.append(f"{language}: no catalog at {path.relative_to(ROOT)}")
            continue
        catalog = _read(path, language)
        have = {_key(m): m for m in catalog if m.id}
        for key in sorted(wanted, key=str):
            message = have.get(key)
            shown = key[0]
            if message is None:
                found.append(f"{language}: missing {shown!r}")
                continue
            found.extend(f"{language}: {p} in {shown!r}" for p in _translation_problems(message))
    return found


def _translation_problems(message: Message) -> list[str]:
    strings = (
        tuple(message.string)
        if isinstance(message.string, tuple | list)
        else (message.string or "",)
    )
    ids = tuple(message.id) if isinstance(message.id, tuple | list) else (message.id,)
    if message.fuzzy:
        return ["fuzzy (not reviewed)"]
    if not all(strings):
        return ["not translated"]
    wanted = set().union(*(placeholders(i) for i in ids))
    out = []
    for text in strings:
        got = placeholders(text)
        # A plural form may leave out {count} ("one patient"), never add or lose another.
        if got - wanted or (wanted - {"count"}) - got:
            out.append(f"placeholders {sorted(got)} instead of {sorted(wanted)}")
            break
    return out


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        update()
        return 0
    found = problems()
    for line in found[:200]:
        print(line)
    print(f"{len(found)} problems", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
