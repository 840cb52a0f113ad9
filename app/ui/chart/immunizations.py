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

from app.services.dto import ChartView, ImmunizationDue, ItemView
from app.ui.chart.actions import ChartActions
from app.ui.formatting import when
from app.ui.tables import read_only_table

GIVEN_COLUMNS = ("Given", "Vaccine", "Dose", "Lot", "Site / route", "Source")
DUE_COLUMNS = ("Vaccine", "Dose", "Due", "Status")
OVERDUE_COLOUR = "#b71c1c"


def given_day(item: ItemView) -> str:
    """A card's dose shows its day only; a dose given here, its date and time."""
    if item.data.get("time_known", True):
        return when(item.clinical_time)
    return str(item.data.get("given_on") or item.clinical_time[:10])


def source_of(item: ItemView) -> str:
    d = item.data
    if d.get("historical"):
        return f"Card: {d['source']}" if d.get("source") else "Card (historical)"
    return f"Given here ({item.recorded_by})" if item.recorded_by else "Given"


# How a vaccination card abbreviates routes.
ROUTE_SHORT = {
    "intramuscular": "IM",
    "subcutaneous": "SC",
    "intradermal": "ID",
    "oral": "oral",
    "intranasal": "nasal",
}


def site_route(item: ItemView) -> str:
    site = str(item.data.get("site") or "").replace("-", " ")
    route = str(item.data.get("route") or "")
    return ", ".join(p for p in (site, ROUTE_SHORT.get(route, route)) if p)


def status_text(due: ImmunizationDue) -> str:
    if due.status == "overdue":
        return f"OVERDUE since {due.overdue_on}"
    return "Due"


def _table(parent: QWidget, columns: tuple[str, ...], name: str) -> QTableWidget:
    return read_only_table(parent, columns, name, stretch=1 if columns is GIVEN_COLUMNS else 0)


class ImmunizationsWidget(QWidget):
    """The chart's Immunizations tab."""

    def __init__(
        self, actions: ChartActions, schedule_name: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.chart_actions = actions
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        self.due_title = QLabel("Due and overdue", self)
        self.due_title.setObjectName("sectionTitle")
        layout.addWidget(self.due_title)
        self.due = _table(self, DUE_COLUMNS, "Immunizations due and overdue")
        layout.addWidget(self.due, 2)
        self.nothing_due = QLabel("Nothing due on the schedule", self)
        self.nothing_due.setObjectName("muted")
        layout.addWidget(self.nothing_due)
        given_title = QLabel("Given", self)
        given_title.setObjectName("sectionTitle")
        layout.addWidget(given_title)
        self.given = _table(self, GIVEN_COLUMNS, "Immunizations given")
        layout.addWidget(self.given, 3)
        row = QHBoxLayout()
        row.addWidget(actions.button("immunization", "Record immunization…", self, self._record))
        self.empty = QLabel("No immunizations recorded yet", self)
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
        self.due_title.setText(
            f"Due and overdue ({sum(d.status == 'overdue' for d in doses)} overdue)"
            if doses
            else "Due and overdue"
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
