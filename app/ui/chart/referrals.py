"""The chart's "Referrals" tab: every referral of the patient (facility, urgency, reason,
status and since when), and for the selected one the clinical summary as it was sent, the
clinician's note and what the receiving facility wrote back."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _, ngettext
from app.services.dto import ChartView, ItemView
from app.ui.chart.actions import ChartActions
from app.ui.formatting import when
from app.ui.referral_text import OPEN_STATUSES, status_line, urgency_text
from app.ui.tables import read_only_table

# English msgids (N_), translated where shown.
COLUMNS = (N_("Facility"), N_("Urgency"), N_("Reason"), N_("Status"), N_("Referred"))
EMPTY = N_("No referrals. Use “Refer patient…” to refer this patient to another facility.")


def row_values(item: ItemView) -> tuple[str, ...]:
    d = item.data
    return (
        str(d.get("to_facility") or _("— not stated —")),
        urgency_text(str(d.get("urgency") or "—")),
        str(d.get("reason") or "—"),
        status_line(item),
        when(d.get("referred_at")),
    )


def details(item: ItemView) -> str:
    """Everything about one referral, as plain text."""
    d: dict[str, Any] = item.data
    lines = [
        _("Referred to {facility} on {time} by {user}").format(
            facility=d.get("to_facility") or _("— not stated —"),
            time=when(d.get("referred_at")),
            user=item.recorded_by,
        ),
        _("Urgency: {urgency}").format(urgency=urgency_text(str(d.get("urgency") or "—"))),
        _("Reason: {reason}").format(reason=d.get("reason") or "—"),
        _("Status: {status}").format(status=status_line(item)),
    ]
    if d.get("status_reason"):
        # Translators: why a referral's status changed
        lines.append(_("Why: {reason}").format(reason=d["status_reason"]))
    lines.append("")
    summary = d.get("summary") or []
    lines.append(_("Clinical summary as sent:") if summary else _("No clinical summary was sent."))
    lines += [f"  • {entry.get('text')}" for entry in summary]
    if d.get("note"):
        lines += ["", _("Note: {note}").format(note=d["note"])]
    for note in d.get("facility_notes") or []:
        lines += ["", _("From the receiving facility: {note}").format(note=note)]
    return "\n".join(lines)


class ReferralsWidget(QWidget):
    """The patient's referrals, newest first, and the selected one's details."""

    print_requested = Signal(str)  # the referral id ("" when none is selected)

    def __init__(self, actions: ChartActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chart_actions = actions
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        buttons = QHBoxLayout()
        self.refer_button = actions.button("refer", _("Refer patient…"), self, self._refer)
        self.cancel_button = actions.button(
            "cancel_referral", _("Cancel referral…"), self, self._cancel
        )
        buttons.addWidget(self.refer_button)
        buttons.addWidget(self.cancel_button)
        # The selected referral's letter (app/ui/printing: the chart's Print menu opens it).
        self.print_button = QPushButton(_("Print &letter…"), self)
        self.print_button.setToolTip(_("Print or save as PDF the letter of the selected referral"))
        self.print_button.clicked.connect(
            lambda _=False: self.print_requested.emit(self.selected_id() or "")
        )
        buttons.addWidget(self.print_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.count = QLabel(self)
        self.count.setObjectName("hint")
        layout.addWidget(self.count)
        split = QSplitter(Qt.Orientation.Vertical, self)
        # Facility and reason share the room left and wrap; urgency, status and date fit
        # their text, so a long hospital name never pushes the status off a 1366 px screen.
        self.table = read_only_table(
            split,
            tuple(_(c) for c in COLUMNS),  # COLUMNS msgids
            _("Referrals"),
            stretch=(0, 2),
            wrap=True,
            single=True,
        )
        self.table.currentCellChanged.connect(lambda row, *_: self._select(row))
        self.detail = QTextBrowser(split)
        self.detail.setAccessibleName(_("Referral details"))
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout.addWidget(split, 1)
        self.setFocusProxy(self.table)
        self._shown: list[ItemView] = []

    def show_chart(self, chart: ChartView) -> None:
        chosen = self.selected_id()
        # The chart lists items oldest first (clinical time, then the order they were recorded).
        self._shown = list(reversed(getattr(chart, "referrals", [])))
        self.table.setRowCount(len(self._shown))
        for r, item in enumerate(self._shown):
            for col, value in enumerate(row_values(item)):
                self.table.setItem(r, col, QTableWidgetItem(value))
        total = len(self._shown)
        open_ones = sum(1 for i in self._shown if i.status in OPEN_STATUSES)
        counted = ngettext(
            "{total} referral, {open} open", "{total} referrals, {open} open", total
        ).format(total=total, open=open_ones)
        self.count.setText(counted if total else _(EMPTY))
        rows = [i.item_id for i in self._shown]
        self.table.setCurrentCell(rows.index(chosen) if chosen in rows else 0 if rows else -1, 0)
        self._select(self.table.currentRow())

    def visible_rows(self) -> list[tuple[str, ...]]:
        return [row_values(i) for i in self._shown]

    def selected_id(self) -> str | None:
        row = self.table.currentRow()
        return self._shown[row].item_id if 0 <= row < len(self._shown) else None

    def _select(self, row: int) -> None:
        if not 0 <= row < len(self._shown):
            self.detail.setPlainText(_("Select a referral to see its clinical summary."))
            return
        self.detail.setPlainText(details(self._shown[row]))

    def _refer(self) -> None:
        self.chart_actions.open("refer")

    def _cancel(self) -> None:
        self.chart_actions.open("cancel_referral", self.selected_id())
