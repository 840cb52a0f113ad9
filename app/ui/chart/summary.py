"""The chart summary: active problems, allergies, active medications, last vitals and booked
follow-ups, each with the actions that apply to a selected entry."""

from __future__ import annotations

from functools import partial
from html import escape

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _
from app.services.dto import ChartView, ItemView
from app.ui.chart.actions import ChartActions
from app.ui.chart.protocol_panel import ProtocolPanelWidget
from app.ui.chart_text import describe
from app.ui.formatting import VITALS, number, vital, vital_label, when

GROUPS = (
    # key, title, buttons (action key, label); English msgids, translated where shown
    (
        "problems",
        N_("Problems"),
        (("resolve", N_("Resolve…")), ("entered_in_error", N_("Entered in error…"))),
    ),
    (
        "allergies",
        N_("Allergies"),
        (("allergy_status", N_("Status…")), ("entered_in_error", N_("Entered in error…"))),
    ),
    (
        "medications",
        N_("Active medications"),
        (
            ("change_dose", N_("Dose…")),
            ("discontinue", N_("Stop…")),
            ("entered_in_error", N_("Entered in error…")),
        ),
    ),
    ("appointments", N_("Booked follow-ups"), (("move", N_("Move…")), ("cancel", N_("Cancel…")))),
)
LIST_MIN_ROWS = 3  # a group's list keeps room for this many lines when the tab is short
LIST_MAX_LINES = 7  # ... and grows to show up to this many lines of its entries


class ChartSummaryWidget(QWidget):
    """The groups sit in a scroll area and reflow into 3, 2 or 1 columns as the tab narrows;
    clinical values (vitals with units, doses, allergy names) wrap or scroll, never elide."""

    def __init__(self, actions: ChartActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chart_actions = actions
        self.lists: dict[str, QListWidget] = {}
        self.columns = 0
        self.last_vitals: ItemView | None = None
        # lists are fitted to their entries once the layout has settled at the new width
        self._fit_timer = QTimer(self, singleShot=True, interval=0)
        self._fit_timer.timeout.connect(self._fit_lists)
        self.body_scroll = QScrollArea(self)
        self.body_scroll.setWidgetResizable(True)
        self.body_scroll.setObjectName("summaryScroll")
        self.body_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.body_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        body = QWidget(self.body_scroll)
        body.setObjectName("summaryBody")
        self.grid = QGridLayout(body)
        self.grid.setContentsMargins(4, 4, 4, 6)
        self.grid.setHorizontalSpacing(8)
        self.boxes: dict[str, QGroupBox] = {}
        for key, title, buttons in GROUPS[:3]:
            self.boxes[key] = self._group(key, _(title), buttons)  # a GROUPS msgid
        self.vitals_box = QGroupBox(_("Last vitals"), body)
        vbox = QVBoxLayout(self.vitals_box)
        # Not word-wrapped: a value and its unit ("124/80 mmHg") are never split or cut; the
        # label is as wide as its widest row and the summary scrolls if the tab is narrower.
        self.vitals = QLabel(self.vitals_box)
        self.vitals.setTextFormat(Qt.TextFormat.RichText)
        self.vitals.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.vitals.setAccessibleName(_("Last vitals"))
        self.vitals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        vbox.addWidget(self.vitals)
        self.vitals_taken = QLabel(self.vitals_box)
        self.vitals_taken.setObjectName("muted")
        # Not wrapped either: a word-wrapped label would make the scroll area size the lists
        # by their preferred height (height-for-width), so the groups could not shrink.
        vbox.addWidget(self.vitals_taken)
        vbox.addStretch(1)
        self.boxes["vitals"] = self.vitals_box
        key, title, buttons = GROUPS[3]
        self.boxes[key] = self._group(key, _(title), buttons)  # a GROUPS msgid
        for box in self.boxes.values():
            box.setParent(body)
        self.body_scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        # The hypertension protocol's suggestion, above the groups (hidden when none applies).
        self.protocol = ProtocolPanelWidget(actions, self)
        outer.addWidget(self.protocol)
        outer.addWidget(self.body_scroll)
        self._reflow(3)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        width = event.size().width() - self.body_scroll.verticalScrollBar().sizeHint().width()
        widest = max(
            box.minimumSizeHint().width() for key, box in self.boxes.items() if key != "vitals"
        )
        margins = self.grid.contentsMargins()
        room = width - margins.left() - margins.right()
        spacing = self.grid.horizontalSpacing()
        columns = next((n for n in (3, 2) if n * widest + (n - 1) * spacing <= room), 1)
        self._reflow(columns)
        self._fit_timer.start()

    def _fit_lists(self) -> None:
        """Give each list the height its entries take at its width (wrapped lines counted),
        up to LIST_MAX_LINES lines; longer lists scroll."""
        for listing in self.lists.values():
            listing.doItemsLayout()
            rows = sum(
                listing.visualItemRect(listing.item(r)).height() for r in range(listing.count())
            )
            line = listing.fontMetrics().lineSpacing()
            rows = max(min(rows, line * LIST_MAX_LINES), line * LIST_MIN_ROWS)
            listing.setMinimumHeight(rows + 2 * listing.frameWidth() + 6)

    def _reflow(self, columns: int) -> None:
        """Place the groups in `columns` columns (problems, allergies, medications first)."""
        if columns == self.columns:
            return
        self.columns = columns
        for box in self.boxes.values():
            self.grid.removeWidget(box)
        for column in range(3):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)
        if columns == 3:
            places = {
                "problems": (0, 0, 1, 1),
                "allergies": (0, 1, 1, 1),
                "medications": (0, 2, 1, 1),
                "vitals": (1, 0, 1, 2),
                "appointments": (1, 2, 1, 1),
            }
        elif columns == 2:
            places = {
                "allergies": (0, 0, 1, 1),
                "medications": (0, 1, 1, 1),
                "vitals": (1, 0, 1, 2),
                "problems": (2, 0, 1, 1),
                "appointments": (2, 1, 1, 1),
            }
        else:
            order = ("allergies", "medications", "problems", "vitals", "appointments")
            places = {key: (row, 0, 1, 1) for row, key in enumerate(order)}
        for key, (row, column, rows, span) in places.items():
            self.grid.addWidget(self.boxes[key], row, column, rows, span)
        for row in range(5):
            self.grid.setRowStretch(row, 0)
        self._show_vitals(self.last_vitals)

    def _group(self, key: str, title: str, buttons: tuple[tuple[str, str], ...]) -> QGroupBox:
        """A group titled `title` (translated) with `buttons` (labels: GROUPS msgids)."""
        box = QGroupBox(title, self)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 6, 6, 6)  # narrow margins: two groups fit at 1024 px
        listing = QListWidget(box)
        listing.setAccessibleName(title)
        # Clinical entries (drug and dose, allergy and reaction) wrap; they are never elided.
        listing.setWordWrap(True)
        listing.setTextElideMode(Qt.TextElideMode.ElideNone)
        listing.setResizeMode(QListView.ResizeMode.Adjust)
        listing.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        rows = listing.fontMetrics().lineSpacing() * LIST_MIN_ROWS
        listing.setMinimumHeight(rows + 2 * listing.frameWidth() + 8)
        listing.setAlternatingRowColors(True)
        self.lists[key] = listing
        layout.addWidget(listing, 1)
        # Two buttons per row: a third would be clipped in a third of a 1280-px window.
        row = QGridLayout()
        row.setColumnStretch(2, 1)
        for index, (action_key, msgid) in enumerate(buttons):
            label = _(msgid)  # a GROUPS msgid
            button = self.chart_actions.button(
                action_key, label, box, partial(self._run, action_key, listing)
            )
            # Translators: a button's name for screen readers: its label and its group
            button.setAccessibleName(
                _("{button} ({group})").format(button=label.rstrip("…"), group=title)
            )
            row.addWidget(button, index // 2, index % 2)
        layout.addLayout(row)
        return box

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
        self.protocol.show_chart(chart)
        self._fit_timer.start()

    @staticmethod
    def _fill(listing: QListWidget, items: list[ItemView]) -> None:
        listing.clear()
        for item in items:
            entry = QListWidgetItem(describe(item))
            entry.setData(Qt.ItemDataRole.UserRole, item.item_id)
            entry.setToolTip(
                _("Recorded {time} by {user}").format(
                    time=when(item.recorded_at), user=item.recorded_by
                )
            )
            listing.addItem(entry)
        if not items:
            placeholder = QListWidgetItem(_("None recorded"))
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            listing.addItem(placeholder)
        else:
            listing.setCurrentRow(0)

    def _show_vitals(self, item: ItemView | None) -> None:
        self.last_vitals = item
        if item is None:
            self.vitals.setText(f"<i>{escape(_('No vitals recorded'))}</i>")
            self.vitals_taken.clear()
            return
        m = dict(item.data.get("measurements") or {})
        if item.data.get("bmi") is not None:
            m["bmi"] = item.data["bmi"]
        rows = []
        if "systolic" in m and "diastolic" in m:
            pressure = _("{systolic}/{diastolic} mmHg").format(
                systolic=number(m.pop("systolic")), diastolic=number(m.pop("diastolic"))
            )
            rows.append((_("Blood pressure"), pressure))
        rows += [(vital_label(k), vital(k, m[k])) for k in VITALS if k in m]
        # Two readings a row where the box spans two columns, else one a row.
        per_row = 2 if self.columns > 1 else 1
        cells = [
            f"<td style='color:#5b6b7c;padding-right:10px'>{escape(label)}</td>"  # i18n: ignore
            f"<td style='white-space:pre;padding-right:24px'><b>{escape(value)}</b></td>"
            for label, value in rows
        ]
        table = "".join(
            "<tr>" + "".join(cells[n : n + per_row]) + "</tr>"
            for n in range(0, len(cells), per_row)
        )
        self.vitals.setText(f"<table cellspacing='3'>{table}</table>")  # i18n: ignore (markup)
        self.vitals_taken.setText(
            _("Taken {time} by {user}").format(time=when(item.clinical_time), user=item.recorded_by)
        )
