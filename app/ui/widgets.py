"""Small widgets shared by the screens: error labels, notice bars, titles, date-time fields."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)


class ErrorLabelWidget(QLabel):
    """Red text under an input; hidden while there is nothing to say."""

    def __init__(self, parent: QWidget | None = None, object_name: str = "fieldError") -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def show_message(self, text: str) -> None:
        self.setText(text)
        self.setAccessibleName(f"Error: {text}")
        self.show()

    def clear_message(self) -> None:
        self.clear()
        self.hide()


class NoticeBarWidget(QFrame):
    """A dismissable strip for warnings that follow a saved action (e.g. duplicate drugs)."""

    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("Dismiss", self)
        close.setAccessibleName("Dismiss notice")
        close.clicked.connect(self.dismiss)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_notice(self, text: str, kind: str = "warning") -> None:
        self.setProperty("kind", kind)
        repolish(self)
        self.label.setText(text)
        self.setAccessibleName(text)
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()


def repolish(widget: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


def mark_invalid(widget: QWidget, invalid: bool) -> None:
    if bool(widget.property("invalid")) != invalid:
        widget.setProperty("invalid", invalid)
        repolish(widget)


def title_label(text: str, parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("pageTitle")
    label.setAccessibleName(text)
    return label


def hint_label(text: str, parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def make_primary(button: QAbstractButton) -> QAbstractButton:
    button.setProperty("primary", True)
    repolish(button)
    return button
