"""When a change from the server would change WHO a patient is, not just correct a detail.

The rule (docs/sync-identity.md): the identity facts are the family name, the given names,
the birth date and the sex. A server version that changes at least two of them at once is an
identity change and goes to a person; one fact alone (a spelling fix of one name, a corrected
birth date, a corrected sex, a married name) is a normal update and applies silently. Names
are compared ignoring case, accents and spacing, so "ODEGARD" for "Ødegård" is no change.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

IDENTITY_FACTS = ("family", "given", "birth_date", "sex")
FACT_NAMES = {
    "family": "family name",
    "given": "given names",
    "birth_date": "birth date",
    "sex": "sex",
}
_PLAIN: dict[str, str | int | None] = {"ø": "o", "ß": "ss", "æ": "ae", "đ": "d"}
_PLAIN_TABLE = str.maketrans(_PLAIN)
# Two facts at once: a sibling (other given name and birth date), a record reused for
# someone else (other name and sex), a whole new name. One fact is a correction.
HELD_AT = 2


def _normal(value: object) -> str:
    text = unicodedata.normalize("NFKD", str(value or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # Letters a decomposition keeps whole (ø, ß, æ) compare by their plain spelling.
    text = text.casefold().translate(_PLAIN_TABLE)
    return " ".join(text.replace("-", " ").split())


def identity_changes(
    before: Mapping[str, object | None], after: Mapping[str, object | None]
) -> list[str]:
    """The identity facts `after` changes (in IDENTITY_FACTS order)."""
    return [f for f in IDENTITY_FACTS if _normal(before.get(f)) != _normal(after.get(f))]


def is_identity_change(
    before: Mapping[str, object | None], after: Mapping[str, object | None]
) -> bool:
    return len(identity_changes(before, after)) >= HELD_AT


def describe_identity(demographics: Mapping[str, object | None]) -> str:
    """ "Amani Ødegård, born 1984-03-02, female": who a version says the patient is."""
    name = " ".join(str(demographics.get(k) or "").strip() for k in ("given", "family")).strip()
    born = demographics.get("birth_date") or "unknown"
    sex = demographics.get("sex") or "sex unknown"
    return f"{name or '(no name)'}, born {born}, {sex}"
