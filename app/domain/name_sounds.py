"""A name's sound key: what stays of a name across spellings and transliterations, for the
duplicate check at registration (app/domain/duplicates.py).

Why not Soundex or Double Metaphone: both are tuned to English spelling (Soundex keeps the first
letter as written, so "Ousmane"/"Usman" or "Khadija"/"Hadija" differ; Metaphone's rules are for
English and German clusters). Names at an East/West African clinic come spelt by French, English
and Portuguese ears and transliterated from Arabic, where what varies is the vowels ("Fatoumata",
"Fatimata", "Fatumata"), doubled letters ("Youssouf", "Yusuf"), the h of Arabic letters with no
Latin one ("Mohamed", "Muhammad", "Ahmed", "Achmed") and the spelling of one sound ("Aicha",
"Aisha"; "Djibril", "Jibril", "Gibril"; "Oumar", "Umar"; "Kwame", "Kuame"). So the key is the
consonant skeleton after merging those spellings: vowels (and w, y, h between letters) dropped,
doubles collapsed, and a leading vowel sound written as one "a".
"""

from __future__ import annotations

import re

from app.domain.reference import fold

# Longest first: each spelling of one sound becomes one letter before vowels are dropped.
_SPELLINGS = (
    ("tch", "s"),
    ("tsh", "s"),
    ("sch", "s"),
    ("sh", "s"),
    ("ch", "s"),
    ("dj", "j"),
    ("dz", "j"),
    ("ph", "f"),
    ("kh", "h"),  # Swahili writes Arabic kh as h: "Khadija", "Hadija"
    ("gh", "g"),
    ("th", "t"),
    ("dh", "d"),
    ("ck", "k"),
    ("qu", "k"),
    ("ge", "je"),
    ("gi", "ji"),
    ("ce", "se"),
    ("ci", "si"),
    ("cy", "sy"),
    ("q", "k"),
    ("c", "k"),
    ("x", "ks"),
    ("z", "s"),
    ("v", "f"),
)
_SPELLING = re.compile("|".join(s for s, _ in _SPELLINGS))
_REPLACE = dict(_SPELLINGS)
_VOWELISH = frozenset("aeiouwyh")
_WORD = re.compile(r"[a-z]+")
_LEADING_DI = re.compile(r"^di(?=[aeou])")


def name_words(*names: str) -> list[str]:
    """The folded words of names (accents and case gone, hyphens and apostrophes split)."""
    return [w for n in names for w in _WORD.findall(fold(n))]


def sound_key(word: str) -> str:
    """The consonant skeleton of one name word ("Mohamed", "Muhammad" -> "mmd" -> "md")."""
    letters = "".join(_WORD.findall(fold(word)))
    if not letters:
        return ""
    # French spelling writes the j of Wolof and Fula names as "di" before a vowel: "Diallo" is
    # "Jallow", "Diop" is "Jop".
    letters = _LEADING_DI.sub("j", letters)
    spelled = _SPELLING.sub(lambda m: _REPLACE[m.group(0)], letters)
    # "Youssouf", "Oumar", "Ibrahim", "Hawa": a leading vowel sound, however written, is "a".
    lead = "a" if spelled[0] in _VOWELISH else ""
    out: list[str] = []
    for ch in spelled:
        if ch in _VOWELISH:
            continue
        if out and out[-1] == ch:
            continue  # doubled letters ("Mohammed"), also across a dropped vowel ("Mamadou")
        out.append(ch)
    return lead + "".join(out)
