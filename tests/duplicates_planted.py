"""A generated clinic with PLANTED duplicates, for the duplicate check's accuracy figures
(tests/services/test_duplicate_accuracy.py, docs/front-desk/duplicates.md).

Patients come from the bench generator's demographics (names of many traditions, phones,
identifiers); each planted duplicate is an existing patient registered again as a desk would
get them wrong: a misspelling, another transliteration, given and family swapped, a typo'd birth
date, or the same phone with the name spelt differently and only the birth year known.
Everything is seeded: the same figures every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.domain import commands as c
from app.domain.roles import Actor, Role
from app.services.clinic import Clinic
from tests.bench.bulk import BulkCommands
from tests.bench.generator import _demographics

TODAY = date(2026, 11, 21)
# Spellings one ear hears as the same name (each applied in both directions).
TRANSLITERATIONS = (
    ("ou", "u"),
    ("kh", "h"),
    ("sh", "ch"),
    ("dj", "j"),
    ("ph", "f"),
    ("c", "k"),
    ("i", "y"),
    ("ee", "i"),
    ("mm", "m"),
    ("ss", "s"),
    ("e", "a"),
    ("o", "u"),
)
VOWELS = "aeiou"
KINDS = ("misspelt", "transliterated", "swapped", "birth typo", "same phone", "accents")


@dataclass(frozen=True)
class Plant:
    original: int  # index of the patient this duplicates
    kind: str
    draft: dict[str, Any]


def patients(count: int, seed: int = 17) -> list[dict[str, Any]]:
    """`count` patients' registrations (fields of RegisterPatient)."""
    return [
        _demographics(random.Random(f"{seed}|{i}"), i, TODAY) | {"index": i} for i in range(count)
    ]


def _misspell(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    roll = rng.random()
    if roll < 0.4 and word[i].lower() in VOWELS:
        return word[:i] + rng.choice([v for v in VOWELS if v != word[i].lower()]) + word[i + 1 :]
    if roll < 0.7:
        return word[:i] + word[i] + word[i:]  # a doubled letter
    return word[:i] + word[i + 1 :]  # a dropped letter


def _transliterate(rng: random.Random, word: str) -> str:
    lower = word.lower()
    options = [(a, b) for a, b in TRANSLITERATIONS if a in lower[1:]] + [
        (b, a) for a, b in TRANSLITERATIONS if b in lower[1:]
    ]
    if not options:
        return _misspell(rng, word)
    a, b = rng.choice(options)
    at = lower.index(a, 1)
    return word[:at] + b + word[at + len(a) :]


def _strip_accents(word: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in plain if not unicodedata.combining(ch))


def _birth_typo(rng: random.Random, birth: str) -> str:
    for _ in range(20):
        roll = rng.random()
        d = date.fromisoformat(birth)
        if roll < 0.4:  # one digit of the year, month or day
            i = rng.choice([2, 3, 6, 8, 9])
            text = birth[:i] + str(rng.randrange(10)) + birth[i + 1 :]
        elif roll < 0.7:
            text = (d + timedelta(days=rng.choice([-3, -2, -1, 1, 2, 5, 10]))).isoformat()
        else:
            text = birth.replace(str(d.year), str(d.year + rng.choice([-1, 1])))
        try:
            if text != birth and date.fromisoformat(text) <= TODAY:
                return text
        except ValueError:
            continue
    return birth


def plant(rng: random.Random, original: dict[str, Any], kind: str) -> dict[str, Any]:
    """`original` registered again, wrongly in the way `kind` says (its identifiers unknown)."""
    draft = {k: original[k] for k in ("given", "family", "birth_date", "sex", "phone")}
    draft["identifiers"] = ()
    draft["phone"] = None if rng.random() < 0.5 else original["phone"]
    which = rng.choice(["given", "family"])
    if kind == "misspelt":
        draft[which] = _misspell(rng, draft[which])
    elif kind == "transliterated":
        draft[which] = _transliterate(rng, draft[which])
    elif kind == "swapped":
        draft["given"], draft["family"] = original["family"], original["given"]
    elif kind == "birth typo":
        draft["birth_date"] = _birth_typo(rng, original["birth_date"])
        if rng.random() < 0.5:
            draft[which] = _transliterate(rng, draft[which])
    elif kind == "same phone":
        draft["phone"] = original["phone"] or "+255 700 000 000"
        draft[which] = _transliterate(rng, draft[which])
        draft["birth_date"] = f"{original['birth_date'][:4]}-01-01"  # only the year known
    elif kind == "accents":
        draft["given"], draft["family"] = (
            _strip_accents(draft["given"]).upper(),
            _strip_accents(draft["family"]),
        )
        draft["birth_date"] = _birth_typo(rng, original["birth_date"])
    return draft


def planted(originals: list[dict[str, Any]], count: int, seed: int = 71) -> list[Plant]:
    """`count` duplicates of patients picked from `originals`, the kinds in turn."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        original = rng.choice(originals)
        if kind == "same phone" and not original["phone"]:
            original = next(p for p in rng.sample(originals, len(originals)) if p["phone"])
        out.append(Plant(original["index"], kind, plant(rng, original, kind)))
    return out


def newcomers(count: int, start: int, seed: int = 17) -> list[dict[str, Any]]:
    """People registering for the first time (from the same name pools, so they may share
    names with patients here, as at a real desk)."""
    return patients(start + count, seed)[start:]


def register_all(clinic: Clinic, people: list[dict[str, Any]]) -> list[str]:
    """Register `people` through the real command path, in one write transaction (the bench's
    BulkCommands: the same events and read models, one commit); their patient ids, in order."""
    bulk = BulkCommands(clinic.vault, clinic.runner, clinic.catalog, clinic.clock)
    desk = Actor("desk", Role.STAFF)
    bulk.begin()
    try:
        ids = [
            bulk.execute(
                c.RegisterPatient(**{k: v for k, v in p.items() if k != "index"}), desk
            ).patient_id
            for p in people
        ]
        bulk.commit()
    finally:
        bulk.close()
    return ids
