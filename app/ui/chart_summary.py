"""The chart summary: active problems, allergies, active medications, last vitals and booked
follow-ups, each with the actions that apply to a selected entry."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.dto import ChartView, ItemView
from app.ui.chart_actions import ChartActions
from app.ui.chart_text import describe
from app.ui.formatting import VITALS, number, when

GROUPS = (
    # key, title, buttons (action key, label)
    ("problems", "Problems", (("resolve", "Resolve…"), ("entered_in_error", "Entered in error…"))),
    (
        "allergies",
        "Allergies",
        (("allergy_status", "Status…"), ("entered_in_error", "Entered in error…")),
    ),
    (
        "medications",
        "Active medications",
        (
            ("change_dose", "Dose…"),
            ("discontinue", "Stop…"),
            ("entered_in_error", "Entered in error…"),
        ),
    ),
    ("appointments", "Booked follow-ups", (("move", "Move…"), ("cancel", "Cancel…"))),
)


class ChartSummaryWidget(QWidget):
    def __init__(self, actions: ChartActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chart_actions = actions
        self.lists: dict[str, QListWidget] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 4, 8, 8)
        grid.setHorizontalSpacing(10)
        for n, (key, title, buttons) in enumerate(GROUPS[:3]):
            grid.addWidget(self._group(key, title, buttons), 0, n)
        self.vitals_box = QGroupBox("Last vitals", self)
        vbox = QVBoxLayout(self.vitals_box)
        self.vitals = QLabel(self.vitals_box)
        self.vitals.setTextFormat(Qt.TextFormat.RichText)
        self.vitals.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.vitals.setWordWrap(True)
        self.vitals.setAccessibleName("Last vitals")
        vbox.addWidget(self.vitals, 1)
        grid.addWidget(self.vitals_box, 1, 0)
        key, title, buttons = GROUPS[3]
        grid.addWidget(self._group(key, title, buttons), 1, 1, 1, 2)
        for column in range(3):
            grid.setColumnStretch(column, 1)

    def _group(self, key: str, title: str, buttons: tuple[tuple[str, str], ...]) -> QGroupBox:
        box = QGroupBox(title, self)
        layout = QVBoxLayout(box)
        listing = QListWidget(box)
        listing.setAccessibleName(title)
        listing.setWordWrap(True)
        listing.setAlternatingRowColors(True)
        self.lists[key] = listing
        layout.addWidget(listing, 1)
        # Two buttons per row: a third would be clipped in a third of a 1280-px window.
        row = QGridLayout()
        row.setColumnStretch(2, 1)
        for index, (action_key, label) in enumerate(buttons):
            button = QPushButton(label, box)
            button.setAccessibleName(f"{label.rstrip('…')} ({title})")
            action = self.chart_actions.actions[action_key]
            self._mirror(button, action_key)
            action.changed.connect(lambda b=button, k=action_key: self._mirror(b, k))
            button.clicked.connect(lambda _=False, k=action_key, lst=listing: self._run(k, lst))
            row.addWidget(button, index // 2, index % 2)
        layout.addLayout(row)
        return box

    def _mirror(self, button: QPushButton, key: str) -> None:
        action = self.chart_actions.actions[key]
        button.setEnabled(action.isEnabled())
        button.setToolTip(action.toolTip())

    def _run(self, key: str, listing: QListWidget) -> None:
        item = listing.currentItem()
        selected = item.data(Qt.ItemDataRole.UserRole) if item else None
        self.chart_actions.open(key, selected, item.text() if item else "")

    def show_chart(self, chart: ChartView) -> None:
        booked = [a for a in chart.appointments if a.status == "booked"]
        for key, items in (
            ("problems", chart.problems),
            ("allergies", chart.allergies),
            ("medications", chart.medications),
            ("appointments", booked),
        ):
            self._fill(self.lists[key], items)
        self._show_vitals(chart.last_vitals)

    @staticmethod
    def _fill(listing: QListWidget, items: list[ItemView]) -> None:
        listing.clear()
        for item in items:
            entry = QListWidgetItem(describe(item))
            entry.setData(Qt.ItemDataRole.UserRole, item.item_id)
            entry.setToolTip(f"Recorded {when(item.recorded_at)} by {item.recorded_by}")
            listing.addItem(entry)
        if not items:
            placeholder = QListWidgetItem("None recorded")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            listing.addItem(placeholder)
        else:
            listing.setCurrentRow(0)

    def _show_vitals(self, item: ItemView | None) -> None:
        if item is None:
            self.vitals.setText("<i>No vitals recorded</i>")
            return
        m = dict(item.data.get("measurements") or {})
        if item.data.get("bmi") is not None:
            m["bmi"] = item.data["bmi"]
        rows = []
        if "systolic" in m and "diastolic" in m:
            rows.append(
                ("Blood pressure", f"{number(m.pop('systolic'))}/{number(m.pop('diastolic'))} mmHg")
            )
        rows += [(label, f"{number(m[k])} {unit}") for k, (label, unit) in VITALS.items() if k in m]
        cells = "".join(
            f"<tr><td style='color:#5b6b7c;padding-right:14px'>{label}</td>"
            f"<td><b>{value}</b></td></tr>"
            for label, value in rows
        )
        self.vitals.setText(
            f"<table cellspacing='3'>{cells}</table>"
            f"<p style='color:#5b6b7c'>Taken {when(item.clinical_time)} by {item.recorded_by}</p>"
        )
