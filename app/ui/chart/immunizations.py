"""The Immunizations tab: the doses given (here, from a card, or by another system such as a
campaign), newest first, and the scheduled doses due or overdue on the chart's day, overdue
ones flagged in words and colour."""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _, pgettext
from app.services.dto import ChartView, ImmunizationDue, ItemView
from app.ui.chart.actions import ChartActions
from app.ui.formatting import when
from app.ui.tables import read_only_table

# English msgids (N_), translated where shown.
GIVEN_COLUMNS = (
    # Translators: the doses given: the column of when each was given, and the list's title
    N_("Given"),
    N_("Vaccine"),
    N_("Dose"),
    # Translators: a vaccine's lot (batch) number
    N_("Lot"),
    N_("Site / route"),
    N_("Source"),
)
DUE_COLUMNS = (N_("Vaccine"), N_("Dose"), N_("Due"), N_("Status"))
OVERDUE_COLOUR = "#b71c1c"


def given_day(item: ItemView) -> str:
    """A card's dose shows its day only; a dose given here, its date and time."""
    if item.data.get("time_known", True):
        return when(item.clinical_time)
    return str(item.data.get("given_on") or item.clinical_time[:10])


def source_of(item: ItemView) -> str:
    d = item.data
    if d.get("historical"):
        if d.get("source"):
            # Translators: a dose copied from a vaccination card, and where the card is from
            return _("Card: {source}").format(source=d["source"])
        return _("Card (historical)")
    if item.recorded_by:
        return _("Given here ({user})").format(user=item.recorded_by)
    # Translators: a dose's source: it was given (by someone not named)
    return pgettext("immunization source", "Given")


# How a vaccination card abbreviates routes (English msgids, translated where shown).
# Translators: vaccination routes as a vaccination card abbreviates them
ROUTE_SHORT = {
    "intramuscular": N_("IM"),
    "subcutaneous": N_("SC"),
    "intradermal": N_("ID"),
    "oral": N_("oral"),
    "intranasal": N_("nasal"),
}


def site_route(item: ItemView) -> str:
    site = str(item.data.get("site") or "").replace("-", " ")
    route = str(item.data.get("route") or "")
    short = ROUTE_SHORT.get(route)
    shown = _(short) if short else route  # a ROUTE_SHORT msgid
    return _(", ").join(p for p in (site, shown) if p)


def status_text(due: ImmunizationDue) -> str:
    if due.status == "overdue":
        return _("OVERDUE since {day}").format(day=due.overdue_on)
    # Translators: an immunization's status: due now
    return pgettext("immunization status", "Due")


def _table(parent: QWidget, columns: tuple[str, ...], name: str) -> QTableWidget:
    stretch = 1 if columns is GIVEN_COLUMNS else 0
    headers = tuple(_(c) for c in columns)  # GIVEN_COLUMNS / DUE_COLUMNS msgids
    return read_only_table(parent, headers, name, stretch=stretch)


class ImmunizationsWidget(QWidget):
    """The chart's Immunizations tab."""

    def __init__(
        self, actions: ChartActions, schedule_name: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.chart_actions = actions
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        self.due_title = QLabel(_("Due and overdue"), self)
        self.due_title.setObjectName("sectionTitle")
        layout.addWidget(self.due_title)
        self.due = _table(self, DUE_COLUMNS, _("Immunizations due and overdue"))
        layout.addWidget(self.due, 2)
        self.nothing_due = QLabel(_("Nothing due on the schedule"), self)
        self.nothing_due.setObjectName("muted")
        layout.addWidget(self.nothing_due)
        given_title = QLabel(_("Given"), self)
        given_title.setObjectName("sectionTitle")
        layout.addWidget(given_title)
        self.given = _table(self, GIVEN_COLUMNS, _("Immunizations given"))
        layout.addWidget(self.given, 3)
        row = QHBoxLayout()
        row.addWidget(actions.button("immunization", _("Record immunization…"), self, self._record))
        self.empty = QLabel(_("No immunizations recorded yet"), self)
        self.empty.setObjectName("muted")
        self.empty.setWordWrap(True)  # labels that wrap let the chart fit a small screen
        row.addWidget(self.empty, 1)
        layout.addLayout(row)
        # Which schedule the due doses come from (IT may have installed a country's own).
        self.schedule = QLabel(schedule_name, self)
        self.schedule.setObjectName("muted")
        self.schedule.setWordWrap(True)
        layout.addWidget(self.schedule)

    def _record(self) -> None:
        self.chart_actions.open("immunization")

    def show_chart(self, chart: ChartView) -> None:
        self._show_due(chart.immunizations_due)
        given = sorted(chart.immunizations, key=lambda i: i.clinical_time, reverse=True)
        self.empty.setVisible(not given)
        self.given.setRowCount(len(given))
        for r, item in enumerate(given):
            dose = item.data.get("dose_number")
            values = (
                given_day(item),
                str(item.data.get("vaccine") or ""),
                "" if dose is None else str(dose),
                str(item.data.get("lot") or ""),
                site_route(item),
                source_of(item),
            )
            for col, value in enumerate(values):
                self.given.setItem(r, col, QTableWidgetItem(value))

    def _show_due(self, doses: list[ImmunizationDue]) -> None:
        ordered = sorted(doses, key=lambda d: (d.status != "overdue", d.due_on, d.series_name))
        overdue = sum(d.status == "overdue" for d in doses)
        self.due_title.setText(
            _("Due and overdue ({count} overdue)").format(count=overdue)
            if doses
            else _("Due and overdue")
        )
        self.nothing_due.setVisible(not doses)
        self.due.setRowCount(len(ordered))
        bold = QFont(self.due.font())
        bold.setBold(True)
        for r, d in enumerate(ordered):
            for col, value in enumerate((d.series_name, str(d.dose), d.due_on, status_text(d))):
                cell = QTableWidgetItem(value)
                if d.status == "overdue":
                    cell.setForeground(QBrush(QColor(OVERDUE_COLOUR)))
                    cell.setFont(bold)
                self.due.setItem(r, col, cell)
