"""Asking the user a question without a nested event loop, through a replaceable hook.

    confirm.ask(form, Question("Discard your changes to Write note?", ...), on_answer)

The default presenter opens a window-modal message box (`open()`, not `exec()`), so the rest
of the app -- the idle lock, results of background work -- keeps running while it is up. Tests
install their own presenter with `use()` and answer the question directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget


@dataclass(frozen=True)
class Question:
    text: str
    choices: tuple[tuple[str, str], ...]  # (answer key, button label); the first is the default
    escape: str  # the answer when the box is closed or Esc is pressed
    detail: str = ""
    title: str = "FieldChart"


Answer = Callable[[str], None]
Presenter = Callable[[QWidget, Question, Answer], None]


def message_box(parent: QWidget, question: Question, answer: Answer) -> None:
    """Default presenter: a window-modal QMessageBox with one button per choice."""
    box = QMessageBox(QMessageBox.Icon.Question, question.title, question.text, parent=parent)
    box.setObjectName("confirmQuestion")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if question.detail:
        box.setInformativeText(question.detail)
    buttons: dict[QAbstractButton, str] = {}
    for n, (key, label) in enumerate(question.choices):
        role = QMessageBox.ButtonRole.AcceptRole if n == 0 else QMessageBox.ButtonRole.RejectRole
        button = box.addButton(label, role)
        buttons[button] = key
        if n == 0:
            box.setDefaultButton(button)
    escape = next((b for b, k in buttons.items() if k == question.escape), None)
    if escape is not None:
        box.setEscapeButton(escape)

    def finished(_result: int) -> None:
        if not shiboken6.isValid(parent):
            return  # the asking window went away (a lock): nobody to answer
        answer(buttons.get(box.clickedButton(), question.escape))

    box.finished.connect(finished)
    box.open()


_presenter: Presenter = message_box


def ask(parent: QWidget, question: Question, answer: Answer) -> None:
    """Put `question` to the user; `answer(key)` is called once they chose."""
    _presenter(parent, question, answer)


def use(presenter: Presenter) -> Presenter:
    """Install `presenter` (tests); returns the one it replaces."""
    global _presenter
    previous, _presenter = _presenter, presenter
    return previous
