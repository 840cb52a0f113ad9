"""Is the person being registered already here? Candidates among existing patients, each with
a score and the reasons a person at the desk can check (N_("same phone"), N_("name sounds alike")).

Pure: the read model (app/projections/duplicate_keys.py) finds the few patients sharing a
blocking key with the draft; this module says which keys a person has and how alike two people
are. The rules and the measured figures are in docs/front-desk/duplicates.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher

from app.domain.name_sounds import name_words, sound_key
from app.domain.reference import fold
from app.domain.wording import N_

NATIONAL_DIGITS = 9  # phones are compared on their last nine digits (as the patient search)
MIN_PHONE_DIGITS = 6
MIN_KEY_LETTERS = 2  # a sound key of one letter ("a" of "Ayo") would block half the clinic
_NOT_DIGIT = re.compile(r"\D")

CLOSE_DAYS = 14  # a birth date mistyped by days; a month apart is two people as often as one
# Birth dates written when only the age is known (1 January, or mid-year 1 July): within a year
# of such a date is "the same age". Two exact dates a year apart are two people (most of the time).
ESTIMATED = frozenset({"01-01", "07-01"})

# Show a candidate at or above this score (0-100); see `assess` for how it is reached.
SHOW_AT = 60


@dataclass(frozen=True)
class Person:
    """The demographics the check compares (a draft being registered, or a patient here)."""

    given: str
    family: str
    birth_date: str = ""
    sex: str = ""
    phone: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()  # (system, value)
    patient_id: str = ""  # empty for a draft


@dataclass(frozen=True)
class Candidate:
    patient_id: str
    score: int  # 0-100, higher first
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Evidence:
    points: int
    reasons: list[str] = field(default_factory=list)


def phone_tail(phone: str | None) -> str:
    """The last nine digits of a phone number, "" if it has fewer than six."""
    digits = _NOT_DIGIT.sub("", phone or "")
    return digits[-NATIONAL_DIGITS:] if len(digits) >= MIN_PHONE_DIGITS else ""


def name_keys(given: str, family: str) -> set[str]:
    """The sound keys of every word of both names (given and family alike, so a swap meets)."""
    return {k for w in name_words(given, family) if len(k := sound_key(w)) >= MIN_KEY_LETTERS}


def blocking_keys(person: Person) -> set[str]:
    """What a person is looked up by: a patient sharing none of these is never a candidate."""
    keys = {f"n:{k}" for k in name_keys(person.given, person.family)}
    if tail := phone_tail(person.phone):
        keys.add(f"p:{tail}")
    keys |= {f"i:{fold(value)}" for _, value in person.identifiers if value.strip()}
    if person.birth_date:
        keys.add(f"b:{person.birth_date}")
    return keys


def _word_likeness(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if sound_key(a) == sound_key(b):
        return 0.9
    if len(a) >= 4 and len(b) >= 4 and (a.startswith(b) or b.startswith(a)):
        return 0.8  # "Ibrahim"/"Ibrahima", "Abdul"/"Abdulla"
    ratio = SequenceMatcher(None, a, b).ratio()
    return ratio * 0.9 if ratio >= 0.75 else 0.0  # one typo in a short word: ~0.8 * 0.9


def name_likeness(a: str, b: str) -> float:
    """0-1: how alike two names (given or family) are; each word of the shorter name is
    matched with its best word in the other ("Amina Halima" against "Amina": 1.0)."""
    wa, wb = name_words(a), name_words(b)
    if not wa or not wb:
        return 0.0
    short, long = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    return sum(max(_word_likeness(s, w) for w in long) for s in short) / len(short)


def _names(draft: Person, other: Person) -> tuple[float, str]:
    straight = (
        name_likeness(draft.given, other.given) + name_likeness(draft.family, other.family)
    ) / 2
    swapped = (
        name_likeness(draft.given, other.family) + name_likeness(draft.family, other.given)
    ) / 2
    if swapped > straight + 0.1:
        return swapped, N_("given and family swapped")
    if straight >= 0.999:
        return straight, N_("same name")
    return straight, N_("name sounds alike") if straight >= 0.75 else ""


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _one_digit_apart(a: str, b: str) -> bool:
    """A typo: one digit changed, or two neighbours swapped ("1985" and "1958")."""
    if len(a) != len(b):
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]


def birth_likeness(a: str, b: str) -> tuple[float, str]:
    """0-1 and the reason: same date, a typo of it, a year off, days apart, ages within a
    year."""
    if not a or not b:
        return 0.0, ""
    if a == b:
        return 1.0, N_("same birth date")
    da, db = _date(a), _date(b)
    if da is None or db is None:
        return 0.0, ""
    if _one_digit_apart(a, b):
        return 0.9, N_("birth date one digit apart")
    if (da.month, da.day) == (db.day, db.month) and da.year == db.year:
        return 0.85, N_("birth day and month swapped")
    days = abs((da - db).days)
    if (da.month, da.day) == (db.month, db.day) and abs(da.year - db.year) == 1:
        return 0.85, N_("born a year apart on the same day")
    if days <= CLOSE_DAYS:
        return 0.7, f"born {days} day{'s' if days != 1 else ''} apart"
    if days <= 366 and (a[5:] in ESTIMATED or b[5:] in ESTIMATED):
        return 0.3, N_("ages within a year (birth date estimated)")
    return 0.0, ""


def assess(draft: Person, other: Person) -> Candidate | None:
    """`other` as a candidate for `draft`, or None when they are not alike enough to show.

    Shown: a shared identifier; a shared phone with a name or birth date alike; names alike
    (or swapped) with the birth date the same, a typo of it or days apart; the same name and
    ages within a year when a birth date is an estimate (1 January or 1 July). Two people
    sharing only a phone (a mother registering her child) or only a name are not shown: at a
    desk that registers dozens a day, a list that is always full stops being read."""
    reasons: list[str] = []
    same_id = _shared_identifier(draft.identifiers, other.identifiers)
    tail = phone_tail(draft.phone)
    same_phone = bool(tail) and tail == phone_tail(other.phone)
    name, name_reason = _names(draft, other)
    birth, birth_reason = birth_likeness(draft.birth_date, other.birth_date)
    if same_id:
        reasons.append(N_("same identifier"))
    if same_phone:
        reasons.append(N_("same phone"))
    points = 100 if same_id else 0
    if same_phone and (name >= 0.5 or birth >= 0.7):
        points = max(points, 60 + round(25 * name + 15 * birth))
    if (name >= 0.85 and birth >= 0.7) or (name >= 0.7 and birth >= 0.85):
        points = max(points, 50 + round(30 * name + 20 * birth))
    if name >= 0.95 and birth >= 0.3:
        points = max(points, 40 + round(30 * name + 20 * birth))
    sex_differs = draft.sex in ("female", "male") and other.sex in ("female", "male")
    sex_differs = sex_differs and draft.sex != other.sex
    if sex_differs and not same_id:
        points -= 15  # a brother and sister with the same phone and close births
    if points < SHOW_AT:
        return None
    if name_reason and name >= 0.5:
        reasons.append(name_reason)
    if birth_reason:
        reasons.append(birth_reason)
    if sex_differs:
        reasons.append(N_("sex differs"))
    return Candidate(other.patient_id, min(points, 100), tuple(reasons))


def _shared_identifier(a: Sequence[tuple[str, str]], b: Sequence[tuple[str, str]]) -> bool:
    ours = {fold(v) for _, v in a if v.strip()}
    return any(fold(v) in ours for _, v in b)


def candidates(draft: Person, others: Iterable[Person], limit: int = 10) -> list[Candidate]:
    """The patients shown for `draft`, most alike first (ties by patient id, so stable)."""
    found = [c for o in others if (c := assess(draft, o)) is not None]
    found.sort(key=lambda c: (-c.score, c.patient_id))
    return found[:limit]


def worth_scoring(draft_birth: str, other_birth: str) -> bool:
    """Whether a patient found only by a name key can be shown at all: every rule that shows
    one without a shared phone or identifier needs the birth dates alike."""
    return birth_likeness(draft_birth, other_birth)[0] > 0
