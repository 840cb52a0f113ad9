"""What a person reads on a window, and which of it is English left untranslated.

`visible_texts(widget)` collects every word a person can see or hear from a screen reader:
labels, buttons, group titles, tab titles, placeholders, combo items, table and tree headers,
read-only documents, tooltips, accessible names, window titles and menu entries. Typed values
(a line edit's text) and data (table cells) are not checked: they are the clinic's.

`english_left(texts, language)` finds the English msgids of our catalog that appear in those
texts although the language translates them — whole (a label that is exactly "Save") or as a
sentence piece of at least two words (an English sentence with a value filled in).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from babel.messages.pofile import read_po
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTabBar,
    QTableView,
    QTextEdit,
    QTreeView,
    QWidget,
)

from app.i18n.catalogs import DOMAIN, catalog_path
from app.i18n.extract import TEMPLATE

TAG = re.compile(r"<[^>]+>")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class Shown:
    where: str
    text: str


def _plain(text: str) -> str:
    text = TAG.sub(" ", text).replace("&nbsp;", " ").replace("&amp;", "&")
    text = re.sub(r"&(?=\S)", "", text)  # mnemonics
    return " ".join(text.split())


def _name(widget: QWidget) -> str:
    return f"{type(widget).__name__}({widget.objectName() or widget.accessibleName()[:30]})"


def visible_texts(root: QWidget) -> list[Shown]:
    found: list[Shown] = []

    def add(where: str, text: str | None) -> None:
        if text and _plain(text):
            found.append(Shown(where, _plain(text)))

    add("window title", root.windowTitle())
    for widget in [root, *root.findChildren(QWidget)]:
        if widget is not root and not widget.isVisibleTo(root):
            continue
        where = _name(widget)
        add(f"{where} tooltip", widget.toolTip())
        add(f"{where} accessible name", widget.accessibleName())
        add(f"{where} accessible description", widget.accessibleDescription())
        if isinstance(widget, (QLabel, QAbstractButton)):
            add(where, widget.text())
        if isinstance(widget, QGroupBox):
            add(where, widget.title())
        if isinstance(widget, QLineEdit):
            add(f"{where} placeholder", widget.placeholderText())
        if isinstance(widget, QPlainTextEdit):
            add(f"{where} placeholder", widget.placeholderText())
            if widget.isReadOnly():
                add(where, widget.toPlainText())
        if isinstance(widget, QTextEdit):
            add(f"{where} placeholder", widget.placeholderText())
            if widget.isReadOnly():
                add(where, widget.toPlainText())
        if isinstance(widget, QComboBox) and not widget.isEditable():
            for i in range(widget.count()):
                add(f"{where} item", widget.itemText(i))
        if isinstance(widget, QTabBar):
            for i in range(widget.count()):
                add(f"{where} tab", widget.tabText(i))
                add(f"{where} tab tooltip", widget.tabToolTip(i))
        if isinstance(widget, QTableView | QTreeView):
            header = (
                widget.horizontalHeader() if isinstance(widget, QTableView) else widget.header()
            )
            model = widget.model()
            if not header.isHidden() and model is not None:
                for section in range(header.count()):
                    title = model.headerData(section, Qt.Orientation.Horizontal)
                    add(f"{where} header", str(title or ""))
        if isinstance(widget, QMenu):
            for action in widget.actions():
                add(f"{where} menu", action.text())
    for action in root.findChildren(QAction):
        add("action", action.text())
        add("action status tip", action.statusTip())
    return found


def _bare(text: str) -> str:
    return _plain(text).strip(" :;,.—-–()…")


@cache
def _english_pieces(language: str) -> tuple[tuple[str, str], ...]:
    """(English piece, its whole msgid) for every msgid the language translates differently
    in every context (an English word the language also writes as it is, "Active" or
    "Format", is no sign of a missing translation)."""
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    same: set[str] = set()
    differ: list[tuple[str, tuple[str, ...]]] = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        for english in ids:
            if any(_bare(s) == _bare(english) for s in strings):
                same.add(_bare(english))
            else:
                differ.append((english, tuple(_plain(s) for s in strings)))
    pieces: list[tuple[str, str]] = []
    for english, translated in differ:
        if _bare(english) in same:
            continue
        for piece in PLACEHOLDER.split(english):
            piece = _bare(piece)
            if not piece or piece in same or any(piece in t for t in translated):
                continue  # the language writes this piece the same way ("⚠ ALLERGIES")
            # A whole short msgid counts only as the whole text; a piece of a sentence
            # counts inside other text when it has at least two words.
            if piece == _bare(english) or len(piece.split()) >= 2:
                pieces.append((piece, english))
    return tuple(p for p in pieces if re.search(r"[A-Za-z]{2,}", p[0]))


@cache
def _matchers(language: str) -> tuple[dict[str, str], tuple[tuple[str, re.Pattern[str], str], ...]]:
    """Whole texts to look up, and sentence pieces to search for (each as a word match)."""
    whole: dict[str, str] = {}
    inside: list[tuple[str, re.Pattern[str], str]] = []
    for piece, english in _english_pieces(language):
        whole.setdefault(piece, english)
        if " " in piece:
            pattern = re.compile(r"(?<![A-Za-z])" + re.escape(piece) + r"(?![A-Za-z])")
            inside.append((piece, pattern, english))
    return whole, tuple(inside)


def english_left(
    texts: list[Shown], language: str, recorded: frozenset[str] = frozenset()
) -> list[str]:
    """`recorded`: msgids that are also words a clinician typed into the test's chart (a
    suggested reaction kept as typed): the chart shows them as recorded."""
    assert TEMPLATE.exists()
    whole, inside = _matchers(language)
    whole = {k: v for k, v in whole.items() if v not in recorded}
    inside = tuple(m for m in inside if m[2] not in recorded)
    problems: list[str] = []
    seen: set[str] = set()
    for shown in texts:
        if shown.text in seen:
            continue
        seen.add(shown.text)
        english = whole.get(_bare(shown.text))
        if english is None:
            english = next(
                (
                    e
                    for piece, pattern, e in inside
                    if piece in shown.text and pattern.search(shown.text)
                ),
                None,
            )
        if english is not None:
            problems.append(f"{shown.where}: {shown.text[:80]!r} has English {english!r}")
    return problems


def texts_of_all(windows: list[QWidget]) -> Iterator[Shown]:
    for window in windows:
        yield from visible_texts(window)
