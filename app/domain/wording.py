"""Words the domain says to people, kept as data so each person reads them in their language.

The domain stays pure (no catalogs, no "current language"): a refusal carries a `Text` — an
English template with named placeholders and the values to put in — and the layer that shows
it (the desktop, the command line) renders it with the user's catalog (app/i18n). `str()` of a
Text is the English sentence: what logs, exceptions and English tests see.

`t("Systolic {value} mmHg is out of range", value=260)` marks the template for extraction
(pybabel's keywords `t` and `tn:1,2`, see docs/translations.md); `tn` picks the plural form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Translate = Callable[[str], str]
TranslatePlural = Callable[[str, str, int], str]


@dataclass(frozen=True)
class Text:
    template: str
    params: Mapping[str, object] = field(default_factory=dict)
    plural: str | None = None
    count: int | None = None

    def render(
        self,
        translate: Translate,
        translate_plural: TranslatePlural,
        value_shown: Callable[[object], object] = lambda value: value,
    ) -> str:
        """The text through `translate`; each plain value (a number, a date, a name) goes
        through `value_shown` (right-to-left languages keep such values left to right)."""
        if self.plural is not None and self.count is not None:
            template = translate_plural(self.template, self.plural, self.count)
        else:
            template = translate(self.template)
        values = {
            name: value.render(translate, translate_plural, value_shown)
            if isinstance(value, Text)
            else value_shown(value)
            for name, value in self.params.items()
        }
        if not values and self.count is None:
            return template
        return template.format(count=self.count, **values)

    def __str__(self) -> str:
        return self.render(_english, _english_plural)

    def __bool__(self) -> bool:
        """An empty text (nothing to say) is false, as an empty string is."""
        return bool(self.template) or bool(self.params)

    def to_json(self) -> str:
        """A stored form (read models keep text this way, rendered in the reader's language
        when read: app/projections/timeline.py)."""
        return json.dumps(_plain(self), ensure_ascii=False, separators=(",", ":"))


def _plain(text: Text) -> dict[str, Any]:
    params = {k: _plain(v) if isinstance(v, Text) else v for k, v in text.params.items()}
    out: dict[str, Any] = {"t": text.template}
    if params:
        out["p"] = params
    if text.plural is not None:
        out["pl"], out["n"] = text.plural, text.count
    return out


def _from_plain(data: Mapping[str, Any]) -> Text:
    params = {
        k: _from_plain(v) if isinstance(v, dict) and "t" in v else v
        for k, v in (data.get("p") or {}).items()
    }
    return Text(str(data["t"]), params, data.get("pl"), data.get("n"))


def text_from_json(stored: str) -> Text:
    """A Text kept by `to_json`; any other string as it is (an older read model's text)."""
    if stored.startswith("{"):
        try:
            data = json.loads(stored)
        except ValueError:
            return Text(stored)
        if isinstance(data, dict) and "t" in data:
            return _from_plain(data)
    return Text(stored)


def t(template: str, **params: object) -> Text:
    """A sentence for people; `{name}` placeholders are filled from `params`."""
    return Text(template, dict(params))


def tn(singular: str, plural: str, count: int, **params: object) -> Text:
    """A sentence whose form depends on `count` (available as `{count}`)."""
    return Text(singular, dict(params), plural, count)


def N_(label: str) -> str:
    """Marks a constant label (a field's name, a code's display) for the catalog; the layer
    that shows it translates it then (`app.i18n._(label)`)."""
    return label


def joined(parts: list[Text], separator: str = "; ") -> Text:
    """Several sentences as one (each rendered in the reader's language)."""
    template = separator.join(f"{{part{n}}}" for n in range(len(parts)))
    return Text(template, {f"part{n}": part for n, part in enumerate(parts)})


def as_text(message: str | Text) -> Text:
    """An existing Text, or a plain string (looked up in the catalog as it is)."""
    return message if isinstance(message, Text) else Text(message)


def _english(template: str) -> str:
    return template


def _english_plural(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural
