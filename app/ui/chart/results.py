"""The Results tab: every point-of-care test result (newest first: date, test, result, flag,
specimen, source), abnormal ones flagged in words and colour, and one small plot per numeric
test (haemoglobin, glucose) with its reference limits, drawn like the vitals plots
(chart/vitals.py: same value and date axes)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCharts import QChart, QChartView, QDateTimeAxis, QLineSeries, QValueAxis
from PySide6.QtCore import QDateTime, QMargins, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.poc_tests import result_text
from app.i18n import N_, _
from app.services.dto import ChartView, ItemView
from app.ui.chart.actions import ChartActions
from app.ui.chart.vitals import CHART_HEIGHT, CHART_WIDTH, DAY_MS, date_format, value_range
from app.ui.formatting import parse, when
from app.ui.tables import read_only_table

# English msgids (N_), translated where shown.
COLUMNS = (N_("Taken"), N_("Test"), N_("Result"), N_("Flag"), N_("Specimen"), N_("Source"))
FLAGS = {
    "H": N_("▲ High"),
    "L": N_("▼ Low"),
    "POS": N_("Positive"),
    "A": N_("Abnormal"),
    "IND": N_("Invalid — repeat"),
}
ABNORMAL_COLOUR = "#b71c1c"
LINE_COLOUR = "#2f6fb0"
LIMIT_COLOUR = "#9e9e9e"


def flag_text(data: dict[str, Any]) -> str:
    """What the Flag column says: the interpretation in words when it matters, else empty."""
    code = data.get("interpretation")
    if data.get("abnormal"):
        return _(FLAGS.get(str(code), FLAGS["A"]))  # a FLAGS msgid
    if code in ("IND", "POS"):  # an invalid RDT; a positive pregnancy test
        return _(FLAGS[str(code)])  # a FLAGS msgid
    return ""


def source_of(item: ItemView) -> str:
    return str(item.data.get("source") or item.recorded_by or "")


class ResultsWidget(QWidget):
    """The chart's Results tab."""

    def __init__(
        self, actions: ChartActions, catalog_names: dict[str, str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.names = catalog_names  # test key -> the name the bundled list gives it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        self.table = read_only_table(
            self, tuple(_(c) for c in COLUMNS), _("Test results"), stretch=1
        )  # COLUMNS msgids
        row = QHBoxLayout()
        row.addWidget(actions.button("test_result", _("Record test result…"), self, self._record))
        row.addWidget(
            actions.button("entered_in_error", _("Mark entered in error…"), self, self._retract)
        )
        self.empty = QLabel(_("No test results yet"), self)
        self.empty.setObjectName("muted")
        self.empty.setWordWrap(True)  # a label that wraps lets the chart fit a small screen
        row.addWidget(self.empty, 1)
        # The list above, the plots below in a scroll area of their own: on a small screen the
        # plots scroll instead of squeezing the list to one row; the divider can be dragged.
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setChildrenCollapsible(False)
        top = QWidget(self.splitter)
        column = QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.table, 1)
        column.addLayout(row)
        self.table.setMinimumHeight(80)
        plot_area = QScrollArea(self.splitter)
        plot_area.setWidgetResizable(True)
        plot_area.setFrameShape(QFrame.Shape.NoFrame)
        plot_area.setMinimumHeight(60)
        body = QWidget(plot_area)
        self.plots = QGridLayout(body)
        self.plots.setContentsMargins(0, 0, 0, 0)
        self.plots.setSpacing(6)
        plot_area.setWidget(body)
        self.splitter.addWidget(top)
        self.splitter.addWidget(plot_area)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout.addWidget(self.splitter, 1)
        self._user_sized = False  # once the clinician drags the divider, it stays put
        self.splitter.splitterMoved.connect(lambda _pos, _index: self._sized_by_user())
        self.chart_actions = actions
        self.views: dict[str, QChartView] = {}
        self._ids: list[str] = []  # item ids of the table's rows

    def _sized_by_user(self) -> None:
        self._user_sized = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._balance()

    def _balance(self) -> None:
        """Give the plots up to 240 px (two fifths of the room), the list the rest."""
        total = sum(self.splitter.sizes())
        if self._user_sized or total <= 0:
            return
        plots = min(max(total * 2 // 5, 60), 240) if self.views else 60
        self.splitter.setSizes([total - plots, plots])

    def _record(self) -> None:
        self.chart_actions.open("test_result")

    def _retract(self) -> None:
        """Mark the selected result (else the newest) entered in error."""
        row = max(self.table.currentRow(), 0)
        if row < len(self._ids):
            self.chart_actions.open("entered_in_error", self._ids[row])

    def show_chart(self, chart: ChartView) -> None:
        results = sorted(chart.test_results, key=lambda i: i.clinical_time, reverse=True)
        self.empty.setVisible(not results)
        self.table.setRowCount(len(results))
        self._ids = [i.item_id for i in results]
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r, item in enumerate(results):
            d = item.data
            values = (
                when(item.clinical_time),
                self.names.get(str(d.get("test")), str(d.get("name") or "")),
                result_text(d),
                flag_text(d),
                str(d.get("specimen") or "").capitalize(),
                source_of(item),
            )
            for col, value in enumerate(values):
                cell = QTableWidgetItem(value)
                if d.get("abnormal") and col in (2, 3):
                    cell.setForeground(QBrush(QColor(ABNORMAL_COLOUR)))
                    cell.setFont(bold)
                self.table.setItem(r, col, cell)
        self._plot(chart, results)

    # -- plots -----------------------------------------------------------------------------

    def _plot(self, chart: ChartView, results: list[ItemView]) -> None:
        for view in self.views.values():
            self.plots.removeWidget(view)
            view.deleteLater()
        self.views = {}
        for index, (key, rows) in enumerate(sorted(chart.results_series.items())):
            latest = next((i.data for i in results if i.data.get("test") == key), {})
            plot = self._test_chart(key, rows, latest)
            if plot is not None:
                self.views[key] = plot
                self.plots.addWidget(plot, index // 2, index % 2)
        self._balance()

    def _test_chart(
        self, key: str, rows: list[tuple[str, float]], latest: dict[str, Any]
    ) -> QChartView | None:
        points = sorted(
            (moment.timestamp() * 1000, value)
            for iso, value in rows
            if (moment := parse(iso)) is not None
        )
        if not points:
            return None
        unit = str(latest.get("unit_label") or latest.get("unit") or "")
        name = self.names.get(key, key)
        chart = QChart()
        chart.setTitle(name)
        chart.setBackgroundRoundness(6)
        chart.setMargins(QMargins(4, 2, 4, 2))
        chart.legend().setVisible(False)
        x_axis, y_axis = QDateTimeAxis(), QValueAxis()
        x_axis.setTickCount(4)
        y_axis.setLabelFormat("%g")
        # Translators: the value axis of a test result chart without a unit
        y_axis.setTitleText(unit or _("value"))
        chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        low, high = points[0][0], points[-1][0]
        pad = max((high - low) * 0.04, DAY_MS / 2)
        start, end = low - pad, high + pad
        line = QLineSeries()
        line.setName(name)
        line.setPointsVisible(True)
        line.setPen(QPen(QColor(LINE_COLOUR), 2.2))
        for ms, value in points:
            line.append(ms, value)
        shown = [value for _ms, value in points]
        # The reference limits as dashed lines, so a low haemoglobin reads as low at a glance.
        limits = [
            latest[k] for k in ("reference_low", "reference_high") if latest.get(k) is not None
        ]
        for limit in limits:
            edge = QLineSeries()
            pen = QPen(QColor(LIMIT_COLOUR), 1.2)
            pen.setStyle(Qt.PenStyle.DashLine)
            edge.setPen(pen)
            edge.append(start, float(limit))
            edge.append(end, float(limit))
            chart.addSeries(edge)
            edge.attachAxis(x_axis)
            edge.attachAxis(y_axis)
        chart.addSeries(line)
        line.attachAxis(x_axis)
        line.attachAxis(y_axis)
        # Points within two days: name the hours too, or every tick reads the same date.
        # Translators: a Qt date-time format (dd day, MMM month name, HH:mm time)
        x_axis.setFormat(date_format(low, high) if high - low > 2 * DAY_MS else _("dd MMM HH:mm"))
        x_axis.setTickCount(4 if high - low > 2 * DAY_MS else 3)
        x_axis.setRange(
            QDateTime.fromMSecsSinceEpoch(int(start)), QDateTime.fromMSecsSinceEpoch(int(end))
        )
        bottom, top, ticks = value_range(unit, shown + [float(v) for v in limits])
        y_axis.setRange(bottom, top)
        y_axis.setTickCount(ticks)
        view = QChartView(chart, self.plots.parentWidget())
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.setMinimumSize(CHART_WIDTH - 20, CHART_HEIGHT)
        view.setAccessibleName(_("{test} ({unit})").format(test=name, unit=unit) if unit else name)
        return view
