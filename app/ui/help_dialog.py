"""The keyboard shortcuts, listed (F1)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui import shortcuts as k
from app.ui.chart.view import TABS
from app.ui.widgets import available_height

SHORTCUTS = (
    (k.FIND_PATIENT, "Find a patient (search as you type)"),
    (k.NEW_PATIENT, "Register a new patient"),
    (k.RECORD_VITALS, "Record vitals on the open chart"),
    (k.WRITE_NOTE, "Write a note"),
    (k.PRESCRIBE, "Prescribe"),
    (k.RECORD_DIAGNOSIS, "Record a diagnosis"),
    (k.RECORD_ALLERGY, "Record an allergy"),
    (k.START_ENCOUNTER, "Start an encounter"),
    (k.BOOK_FOLLOW_UP, "Book a follow-up"),
    (k.AS_OF, "Show the chart as of a past date (toggle)"),
    ("Ctrl+Enter", "Save the open form"),
    ("Esc", "Close the open form without saving"),
    (f"{k.PAGE_KEYS[0]} … {k.PAGE_KEYS[-1]}", "Patients, Schedule, Sync, Settings, Users, Audit"),
    (
        f"{k.TAB_KEYS[0]} … {k.TAB_KEYS[len(TABS) - 1]}",
        "Chart tabs: " + ", ".join(TABS),
    ),
    (k.REFRESH, "Refresh the page"),
    (k.SYNC_NOW, "Sync now"),
    (k.LOCK, "Lock (hides all patient data at once)"),
    (k.QUIT, "Quit"),
    (k.SHORTCUT_HELP, "This list"),
)


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # 520×560, or less on a small screen (1366×768 at 150 %): the table scrolls.
        room = available_height(parent or self)
        self.resize(520, min(560, room))
        layout = QVBoxLayout(self)
        table = QTableWidget(len(SHORTCUTS), 2, self)
        table.setHorizontalHeaderLabels(["Keys", "Does"])
        table.verticalHeader().hide()
        table.setAccessibleName("Keyboard shortcuts")
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for row, (keys, text) in enumerate(SHORTCUTS):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(text))
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
