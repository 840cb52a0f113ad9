"""CI fails when a string is not marked, not in the template, or untranslated in a launch
language (app/i18n/extract.py, tests/i18n/unmarked.py; docs/translations.md)."""

from __future__ import annotations

from app.domain.wording import t, tn
from app.i18n import LAUNCH_LANGUAGES, _, ngettext, pgettext, say, using_language
from app.i18n.extract import problems
from tests.i18n.unmarked import scan


def test_every_shown_string_is_marked_for_translation() -> None:
    found = scan()
    assert not found, "\n".join(str(f) for f in found)


def test_every_launch_language_translates_every_string() -> None:
    found = problems()
    assert not found, "\n".join(found[:80])


def test_each_language_has_its_own_words_for_the_same_sentence() -> None:
    said = set()
    for language in LAUNCH_LANGUAGES:
        with using_language(language):
            said.add(_("Save"))
    assert len(said) >= 5  # some languages may share a word, never all


def test_plural_forms_follow_each_language() -> None:
    with using_language("ar"):
        forms = {ngettext("{count} note", "{count} notes", n) for n in (0, 1, 2, 5, 11, 100)}
    assert len(forms) >= 4  # Arabic: zero, one, two, few, many, other
    with using_language("fr"):
        one = ngettext("{count} note", "{count} notes", 1)
        many = ngettext("{count} note", "{count} notes", 3)
    assert one != many


def test_a_domain_refusal_is_rendered_in_the_reader_language_and_logged_in_english() -> None:
    refusal = t("{label} is too long (at most {max_len} characters)", label="X", max_len=200)
    assert str(refusal) == "X is too long (at most 200 characters)"
    with using_language("fr"):
        french = say(refusal)
        days = say(tn("{count} note", "{count} notes", 3))
    assert "200" in french and french != str(refusal)
    assert str(tn("{count} note", "{count} notes", 3)) == "3 notes" and "3" in days


def test_qt_contexts_are_looked_up_with_their_context() -> None:
    with using_language("sw"):
        assert pgettext("QPlatformTheme", "Cancel") != "Cancel"
