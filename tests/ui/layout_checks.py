"""Geometry checks for the screen-size tests: what a person could not see or reach.

Everything here measures widgets (rectangles, font metrics, height-for-width), not pixels.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, QRect
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QTabBar,
    QTextEdit,
    QToolBar,
    QWidget,
)

INTERACTIVE = (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
)
SLACK = 1  # pixels of rounding allowed


def describe(widget: QWidget) -> str:
    text = ""
    if isinstance(widget, QAbstractButton | QLabel):
        text = widget.text()[:40]
    name = widget.accessibleName() or widget.objectName()
    return f"{type(widget).__name__}({name or text!r})"


def _inside(inner: QRect, outer: QRect) -> bool:
    return outer.adjusted(-SLACK, -SLACK, SLACK, SLACK).contains(inner)


def _is_scroll_viewport(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    return isinstance(parent, QAbstractScrollArea) and parent.viewport() is widget


def hidden_part(widget: QWidget, *, scrolled: bool = True) -> str | None:
    """Why `widget` cannot be seen whole (cut by an ancestor or the window), else None.

    A widget inside a scroll area only has to be inside the scrolled content: the user
    scrolls to it -- unless `scrolled` is False, when it must be in view as it is.
    Item views' own cells are not checked here (they scroll themselves).
    """
    window = widget.window()
    child, rect = widget, widget.rect()
    while child is not window:
        parent = child.parentWidget()
        if parent is None:
            break
        rect = QRect(child.mapTo(parent, rect.topLeft()), rect.size())
        if scrolled and _is_scroll_viewport(parent):
            # reachable by scrolling; go on from the scroll area itself
            area = parent.parentWidget()
            assert area is not None
            child, rect = area, area.rect()
            continue
        if not _inside(rect, parent.rect()):
            return (
                f"{describe(widget)} at {rect.getRect()} leaves {describe(parent)} "
                f"{parent.rect().getRect()}"
            )
        child = parent
    return None


def shown_widgets(root: QWidget, kinds: tuple[type, ...]) -> list[QWidget]:
    found = [w for w in root.findChildren(QWidget) if isinstance(w, kinds) and w.isVisible()]
    # not the internals of compound widgets (spin box line edits, scroll bars, combo views)
    return [w for w in found if not _internal(w)]


def _internal(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractSpinBox | QComboBox | QAbstractItemView | QTabBar):
            return True
        if isinstance(parent, QAbstractScrollArea) and not isinstance(parent, QScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def settle() -> None:
    """Deliver pending layout requests (they propagate one level per pass)."""
    for _ in range(4):
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QApplication.processEvents()


def out_of_reach(root: QWidget) -> list[str]:
    """Every shown input, button, list or label that is cut off or outside the window."""
    settle()
    problems = []
    for widget in shown_widgets(root, (*INTERACTIVE, QLabel)):
        problem = hidden_part(widget)
        if problem is not None:
            problems.append(problem)
    return problems


def off_screen(window: QWidget) -> str | None:
    """Why `window` (frame included) is not wholly on its screen, else None."""
    screen = window.screen().availableGeometry().adjusted(-SLACK, -SLACK, SLACK, SLACK)
    frame = window.frameGeometry()  # (scaled geometry may round a pixel out)
    if not screen.contains(frame):
        return f"{describe(window)} at {frame.getRect()} leaves the screen {screen.getRect()}"
    return None


def overlapping(root: QWidget) -> list[str]:
    """Inputs and buttons drawn over one another (a layout squeezed below its minimum)."""
    problems = []
    widgets = shown_widgets(root, INTERACTIVE)
    by_parent: dict[int, list[QWidget]] = {}
    for widget in widgets:
        by_parent.setdefault(id(widget.parentWidget()), []).append(widget)
    for siblings in by_parent.values():
        for n, first in enumerate(siblings):
            for second in siblings[n + 1 :]:
                shared = first.geometry().intersected(second.geometry())
                if shared.width() > SLACK and shared.height() > SLACK:
                    problems.append(f"{describe(first)} overlaps {describe(second)}")
    return problems


def in_view(widget: QWidget) -> bool:
    """`widget` is shown and wholly visible in its window without scrolling."""
    return widget.isVisible() and hidden_part(widget, scrolled=False) is None


def label_clipped(label: QLabel) -> str | None:
    """Why `label`'s text does not fit the space it was given, else None."""
    if not label.text() or (label.pixmap() is not None and not label.pixmap().isNull()):
        return None
    inner = label.contentsRect()
    margin = 2 * label.margin()
    if label.wordWrap():
        needed = label.heightForWidth(label.width())
        if needed > label.height() + SLACK:
            return f"{describe(label)} needs {needed} px high, has {label.height()}"
        return None
    if label.textFormat().name == "PlainText" or not _looks_rich(label.text()):
        metrics = QFontMetrics(label.font())
        text = label.text()
        if label.buddy() is not None:  # the mnemonic's "&" is not drawn
            text = text.replace("&&", "\0").replace("&", "").replace("\0", "&")
        wide = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
        if wide > inner.width() - margin + SLACK:
            return f"{describe(label)} needs {wide} px wide, has {inner.width() - margin}"
    hint = label.sizeHint()
    if hint.width() > label.width() + SLACK or hint.height() > label.height() + SLACK:
        return f"{describe(label)} needs {hint.toTuple()}, has {label.size().toTuple()}"
    return None


def _looks_rich(text: str) -> bool:
    return "<" in text and ">" in text


def clipped_labels(root: QWidget) -> list[str]:
    """Labels, and buttons outside tool bars, whose text does not fit."""
    settle()
    problems = []
    for label in shown_widgets(root, (QLabel,)):
        assert isinstance(label, QLabel)
        problem = label_clipped(label)
        if problem is not None:
            problems.append(problem)
    for button in shown_widgets(root, (QAbstractButton,)):
        hint = button.sizeHint()
        assert isinstance(button, QAbstractButton)
        if isinstance(button.parentWidget(), QToolBar) or not button.text():
            continue
        if hint.width() > button.width() + SLACK or hint.height() > button.height() + SLACK:
            problems.append(
                f"{describe(button)} needs {hint.toTuple()}, has {button.size().toTuple()}"
            )
    return problems


def combo_problems(combo: QComboBox) -> str | None:
    """Open the popup and check every option's row is inside its viewport."""
    combo.showPopup()
    QApplication.processEvents()
    try:
        view = combo.view()
        viewport = view.viewport().rect()
        shot = os.environ.get("FIELDCHART_COMBO_SHOTS")
        if shot:
            view.window().grab().save(f"{shot}/{combo.accessibleName() or 'combo'}.png")
        if view.horizontalScrollBar().isVisible():
            return f"{describe(combo)}: a horizontal scroll bar covers the last option"
        if view.verticalScrollBar().maximum() > 0 and combo.count() <= combo.maxVisibleItems():
            return f"{describe(combo)}: the popup scrolls to show {combo.count()} options"
        for row in range(combo.count()):
            rect = view.visualRect(combo.model().index(row, combo.modelColumn()))
            if rect.top() < -SLACK or rect.bottom() > viewport.bottom() + SLACK:
                return (
                    f"{describe(combo)}: option {combo.itemText(row)!r} at {rect.getRect()} "
                    f"outside the popup {viewport.getRect()}"
                )
        return None
    finally:
        combo.hidePopup()
        QApplication.processEvents()
