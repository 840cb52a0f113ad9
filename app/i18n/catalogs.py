"""Loading the gettext catalogs (resources/locale/<lang>/LC_MESSAGES/fieldchart.po).

The .po files are the one source: Babel compiles each to a .mo image in memory the first
time its language is used and the standard library's GNUTranslations serves it (plural
rules and message contexts included). No compiled file is committed, so none can be stale.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SOURCE_LANGUAGE = "en"
# The launch languages, each named in its own words (the Settings list shows them so).
LAUNCH_LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "sw": "Kiswahili",
    "pt": "Português",
    "es": "Español",
    "ar": "العربية",
}
DOMAIN = "fieldchart"
LOCALE_DIR = Path(__file__).resolve().parents[2] / "resources" / "locale"


def normalise(code: str | None) -> str:
    """'fr_FR.UTF-8', 'pt-BR', 'AR' -> a launch language; anything else -> English."""
    if not code:
        return SOURCE_LANGUAGE
    base = code.replace("-", "_").split(".")[0].split("_")[0].lower()
    return base if base in LAUNCH_LANGUAGES else SOURCE_LANGUAGE


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalog_for(language: str) -> gettext.NullTranslations:
    path = catalog_path(language)
    if language == SOURCE_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    image = io.BytesIO()
    write_mo(image, catalog, use_fuzzy=False)
    image.seek(0)
    return gettext.GNUTranslations(image)
