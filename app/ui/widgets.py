"""Small widgets shared by the screens: error labels, notice bars, titles, date-time fields."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QScrollArea,
    QWidget,
)

from app.i18n import _

WINDOW_CHROME = 48  # px of title bar and frame a window manager adds around a dialog


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
        self.setAccessibleName(_("Error: {message}").format(message=text))
        self.show()
        # A message that wraps needs more height than the dialog had: let it grow (or its
        # fields scroll) once the layout has taken the new text in.
        QTimer.singleShot(0, self, self._bring_into_view)

    def _bring_into_view(self) -> None:
        if isinstance(self.window(), QDialog):  # a main window keeps the size it was given
            fit_window(self.window())
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        if isinstance(parent, QScrollArea):
            parent.ensureWidgetVisible(self, 0, 8)

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
        close = QPushButton(_("Dismiss"), self)
        close.setAccessibleName(_("Dismiss notice"))
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


def available_height(widget: QWidget) -> int:
    """The height a window of `widget` may take on its screen, title bar left aside."""
    screen = widget.screen()
    return max(screen.availableGeometry().height() - WINDOW_CHROME, 200)


def fit_window(window: QWidget) -> None:
    """Grow a dialog to what its layout needs at its width (word-wrapped labels included),
    never beyond the screen; whatever does not fit then scrolls (FittingScrollArea)."""
    layout = window.layout()
    if layout is None or not window.isWindow():
        return
    layout.invalidate()
    layout.activate()
    need = window.sizeHint().height()
    if layout.hasHeightForWidth():
        need = max(need, layout.totalHeightForWidth(window.width()))
    height = min(need, available_height(window))
    if height > window.height():
        window.resize(window.width(), height)
    # Grown past the bottom of the screen: move up (the title bar stays on screen).
    screen = window.screen().availableGeometry()
    frame = window.frameGeometry()
    if frame.bottom() > screen.bottom():
        top = max(screen.top(), frame.top() - (frame.bottom() - screen.bottom()))
        window.move(window.x(), window.y() + top - frame.top())


class FittingScrollArea(QScrollArea):
    """A scroll area as tall as its content when the screen has room, scrolling otherwise.

    QScrollArea's own size hint is capped at a few hundred pixels and ignores height for
    width, so dialogs built on it were either too small or cut wrapped error messages.
    """

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.content = content
        self.setObjectName("fittingScroll")
        content.setObjectName("fittingScrollBody")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content.setAutoFillBackground(False)
        self.setWidget(content)
        self.viewport().setAutoFillBackground(False)
        content.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # (called for the viewport while QScrollArea is still being built: no content yet)
        content = getattr(self, "content", None)
        if watched is content and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # a row or an error appeared: the dialog asks again
        return super().eventFilter(watched, event)

    def _content_height(self, width: int) -> int:
        content = self.content
        if content.hasHeightForWidth():
            return max(content.heightForWidth(width), content.minimumSizeHint().height())
        return content.sizeHint().height()

    def sizeHint(self) -> QSize:
        content = self.content
        width = max(content.sizeHint().width(), self.viewport().width())
        bar = self.verticalScrollBar().sizeHint().width()
        height = min(self._content_height(width), available_height(self) - 120)
        return QSize(content.sizeHint().width() + bar, height)

    def minimumSizeHint(self) -> QSize:
        content = self.content
        return QSize(content.minimumSizeHint().width(), min(120, self._content_height(400)))


def scrolling_layout(layout: QLayout, parent: QWidget) -> FittingScrollArea:
    """`layout` (e.g. a form's fields) in a FittingScrollArea."""
    content = QWidget(parent)
    content.setLayout(layout)
    return FittingScrollArea(content, parent)
