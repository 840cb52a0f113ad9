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

from app.i18n import N_, _
from app.ui import shortcuts as k
from app.ui.chart.view import TABS
from app.ui.widgets import available_height

# (keys, what they do): N_-marked; shortcut_rows() gives them translated.
SHORTCUTS = (
    (k.FIND_PATIENT, N_("Find a patient (search as you type)")),
    (k.NEW_PATIENT, N_("Register a new patient")),
    (k.RECORD_VITALS, N_("Record vitals on the open chart")),
    (k.WRITE_NOTE, N_("Write a note")),
    (k.PRESCRIBE, N_("Prescribe")),
    (k.RECORD_DIAGNOSIS, N_("Record a diagnosis")),
    (k.RECORD_ALLERGY, N_("Record an allergy")),
    (k.START_ENCOUNTER, N_("Start an encounter")),
    (k.BOOK_FOLLOW_UP, N_("Book a follow-up")),
    (k.AS_OF, N_("Show the chart as of a past date (toggle)")),
    ("Ctrl+Enter", N_("Save the open form")),
    ("Esc", N_("Close the open form without saving")),
    (
        f"{k.PAGE_KEYS[0]} … {k.PAGE_KEYS[-1]}",
        N_("Patients, Schedule, Sync, Settings, Users, Audit"),
    ),
    (
        f"{k.TAB_KEYS[0]} … {k.TAB_KEYS[len(TABS) - 1]}",
        # Translators: {tabs} lists the chart's tabs ("Summary, Timeline, Vitals, …")
        N_("Chart tabs: {tabs}"),
    ),
    (k.REFRESH, N_("Refresh the page")),
    (k.SYNC_NOW, N_("Sync now")),
    (k.LOCK, N_("Lock (hides all patient data at once)")),
    (k.QUIT, N_("Quit")),
    (k.SHORTCUT_HELP, N_("This list")),
)


def shortcut_rows() -> list[tuple[str, str]]:
    """SHORTCUTS as shown: what each key does, in the current language."""
    # TABS are N_-marked in app/ui/chart/view.py; the texts are N_-marked above.
    # Translators: between the items of a list ("Summary, Timeline, Vitals")
    tabs = _(", ").join(_(title) for title in TABS)
    return [(keys, _(text).format(tabs=tabs)) for keys, text in SHORTCUTS]


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Keyboard shortcuts"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # 520×560, or less on a small screen (1366×768 at 150 %): the table scrolls.
        room = available_height(parent or self)
        self.resize(520, min(560, room))
        layout = QVBoxLayout(self)
        rows = shortcut_rows()
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(
            [
                # Translators: column of the shortcuts list: the keys to press
                _("Keys"),
                # Translators: column of the shortcuts list: what the keys do
                _("Does"),
            ]
        )
        table.verticalHeader().hide()
        table.setAccessibleName(_("Keyboard shortcuts"))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for row, (keys, text) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(text))
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
