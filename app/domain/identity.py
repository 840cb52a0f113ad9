"""When a change from the server would change WHO a patient is, not just correct a detail.

The rule (docs/sync-identity.md): the identity facts are the name (family and given names
together), the birth date and the sex. A server version that changes at least two of them at
once is an identity change and goes to a person; one fact alone (a spelling fix, a married
name, a corrected birth date, a corrected sex) is a normal update and applies silently. Names
are compared ignoring case, accents and spacing, so "ODEGARD" for "Ødegård" is no change.

The name counts once, even when both its parts changed: a device that was offline receives
the server's latest version only, so a given name corrected at one clinic and a family name
corrected at another arrive together, and that is not a different person. A record reused
for someone else shows in the birth date or the sex as well.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from app.domain.wording import N_

IDENTITY_FACTS = ("family", "given", "birth_date", "sex")
FACT_NAMES = {
    "family": N_("family name"),
    "given": N_("given names"),
    "birth_date": N_("birth date"),
    "sex": N_("sex"),
}
_PLAIN: dict[str, str | int | None] = {"ø": "o", "ß": "ss", "æ": "ae", "đ": "d"}
_PLAIN_TABLE = str.maketrans(_PLAIN)
# Two facts at once: a sibling (other given name and birth date), a record reused for
# someone else (other name and sex). One fact is a correction.
HELD_AT = 2
_NAME_PARTS = ("family", "given")


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
    changed = identity_changes(before, after)
    facts = len([f for f in changed if f not in _NAME_PARTS]) + any(
        f in _NAME_PARTS for f in changed
    )
    return facts >= HELD_AT


def describe_identity(demographics: Mapping[str, object | None]) -> str:
    """ "Amani Ødegård, born 1984-03-02, female": who a version says the patient is."""
    name = " ".join(str(demographics.get(k) or "").strip() for k in ("given", "family")).strip()
    born = demographics.get("birth_date") or "unknown"
    sex = demographics.get("sex") or "sex unknown"
    return f"{name or '(no name)'}, born {born}, {sex}"
