"""A row of action buttons that gives way on a narrow window: the buttons that do not fit
move, in order, to the top of its "More" menu (never to a hard-to-see overflow arrow)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QMenu, QSizePolicy, QToolButton, QWidget

from app.i18n import _

SPACING = 4


class ActionStripWidget(QWidget):
    def __init__(
        self,
        shown: list[QAction],
        more: list[QAction],
        parent: QWidget | None = None,
        more_name: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("actionStrip")
        self.shown_actions, self.more_actions = shown, more
        self.overflow: list[QAction] = []
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(SPACING)
        self.buttons: list[QToolButton] = []
        for action in shown:
            button = QToolButton(self)
            button.setDefaultAction(action)  # text: the action's short icon text
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            row.addWidget(button)
            self.buttons.append(button)
        self.more_button = QToolButton(self)
        # Translators: the button that opens the menu of the actions that do not fit
        self.more_button.setText(_("More"))
        self.more_button.setObjectName("moreButton")
        self.more_button.setAccessibleName(more_name or _("More actions"))
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.more_button)
        self.menu.setToolTipsVisible(True)  # a disabled entry's tooltip says why
        self.more_button.setMenu(self.menu)
        row.addWidget(self.more_button)
        row.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._fit(len(shown))

    def sizeHint(self) -> QSize:
        widths = [b.sizeHint().width() for b in (*self.buttons, self.more_button)]
        return QSize(
            sum(widths) + SPACING * len(self.buttons), self.more_button.sizeHint().height()
        )

    def minimumSizeHint(self) -> QSize:
        return self.more_button.sizeHint()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        room = event.size().width() - self.more_button.sizeHint().width()
        count = 0
        for button in self.buttons:
            room -= button.sizeHint().width() + SPACING
            if room < 0:
                break
            count += 1
        self._fit(count)

    def _fit(self, count: int) -> None:
        """Show the first `count` buttons; the rest lead the More menu."""
        overflow = self.shown_actions[count:]
        for n, button in enumerate(self.buttons):
            button.setVisible(n < count)
        if overflow == self.overflow and not self.menu.isEmpty():
            return
        self.overflow = overflow
        self.menu.clear()
        for action in overflow:
            self.menu.addAction(action)
        if overflow:
            self.menu.addSeparator()
        for action in self.more_actions:
            self.menu.addAction(action)
