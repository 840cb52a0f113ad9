"""Vitals over time (QtCharts): one small chart per unit (BP in mmHg, rates per minute, °C,
%, kg, …), each with its own labelled value axis fitted to its data and the same date axis,
so a fever does not flatten against a 0–200 scale. Hover a point for its value; the boxes
above the charts hide or show a vital (the choice persists, not PHI).

Labels and units come from `formatting.VITALS`; vitals sharing a unit share a chart."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

from PySide6.QtCharts import QChart, QChartView, QDateTimeAxis, QLegend, QLineSeries, QValueAxis
from PySide6.QtCore import QDateTime, QMargins, QPointF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QLabel,
    QScrollArea,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.i18n import _
from app.ui.formatting import VITALS, parse, vital, vital_label, when
from app.ui.preferences import Preferences

COLOURS = {
    "systolic": "#c62828",
    "diastolic": "#ef6c00",
    "heart_rate": "#2f6fb0",
    "respiratory_rate": "#43a047",
    "temperature": "#8e24aa",
    "spo2": "#0097a7",
    "weight": "#5d4037",
    "height": "#757575",
    "bmi": "#9e9d24",
}
DEFAULT_HIDDEN = "height,bmi"
DAY_MS = 24 * 3600 * 1000
# Least padding above and below the data, by unit: a steady temperature still shows 36–38 °C,
# not a band a hundredth of a degree wide. Units not listed get 5 % of their values.
MIN_PAD = {"mmHg": 10.0, "/min": 5.0, "°C": 0.5, "%": 2.0, "kg": 2.0, "cm": 5.0, "kg/m²": 1.0}
CEILING = {"%": 100.0}  # no saturation above 100 %
CHART_HEIGHT = 200
CHART_WIDTH = 300  # least width of one chart: two side by side from twice that
TOGGLE_WIDTH = 150  # room for one tick box and its label


def label_of(key: str) -> str:
    """The vital's name in the current language (an unknown key made readable)."""
    return vital_label(key) if key in VITALS else key.replace("_", " ").capitalize()


def unit_of(key: str) -> str:
    return VITALS.get(key, ("", ""))[1]


@dataclass
class UnitChart:
    """The chart of one unit: its vitals, value axis and date axis."""

    unit: str
    keys: list[str]
    title: str  # the vitals it shows
    chart: QChart
    view: QChartView
    y_axis: QValueAxis
    x_axis: QDateTimeAxis


def value_range(unit: str, values: list[float]) -> tuple[float, float, int]:
    """A range around `values` with room above and below, on round tick values, never
    below zero: (bottom, top, tick count)."""
    low, high = min(values), max(values)
    pad = max((high - low) * 0.15, MIN_PAD.get(unit, abs(high) * 0.05 or 1.0))
    bottom, top = max(0.0, low - pad), high + pad
    step = _nice_step((top - bottom) / 4)
    bottom, top = math.floor(bottom / step) * step, math.ceil(top / step) * step
    ceiling = CEILING.get(unit)
    if ceiling is not None and high <= ceiling < top:
        top = ceiling
    return bottom, top, round((top - bottom) / step) + 1


def _nice_step(raw: float) -> float:
    magnitude = 10 ** math.floor(math.log10(raw))
    return float(next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw))


def date_format(low: float, high: float) -> str:
    """Short dates: the year only when the data spans two of them."""
    first, last = (QDateTime.fromMSecsSinceEpoch(int(ms)).date().year() for ms in (low, high))
    # Translators: Qt date formats of the vitals charts' time axis (dd day, MMM month name,
    # yy/yyyy year); reorder them as the language writes dates
    if first == last:
        return _("dd MMM")
    return _("dd MMM yy") if high - low < 300 * DAY_MS else _("MMM yyyy")


class VitalsChartView(QScrollArea):
    """The vitals tab: toggles for each vital with data, then one chart per unit."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._prefs = prefs
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName(_("Vitals plot"))
        self.setAccessibleDescription(
            _(
                "One chart per unit. Hover a point for its value; tick or untick a vital above "
                "the charts to show or hide it."
            )
        )
        body = QWidget(self)
        outer = QVBoxLayout(body)
        outer.setContentsMargins(6, 6, 6, 6)
        self.toggle_row = QGridLayout()
        self.toggle_row.setHorizontalSpacing(14)
        outer.addLayout(self.toggle_row)
        self.empty = QLabel(_("No vitals recorded yet"), body)
        self.empty.setObjectName("muted")
        outer.addWidget(self.empty)
        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        outer.addLayout(self.grid)
        outer.addStretch(1)
        self.setWidget(body)
        self.series: dict[str, QLineSeries] = {}
        self.points: dict[str, list[tuple[float, str, float]]] = {}  # (ms, iso, value)
        self.charts: dict[str, UnitChart] = {}  # by unit, only those shown
        self.toggles: dict[str, QCheckBox] = {}
        self.columns, self.per_row = 2, 5  # charts and tick boxes side by side
        self._data: dict[str, list[tuple[str, float]]] = {}
        self.last_tooltip = ""

    @property
    def hidden(self) -> set[str]:
        raw = self._prefs.text("vitals/hidden", DEFAULT_HIDDEN)
        return {k for k in raw.split(",") if k}

    # -- building --------------------------------------------------------------------------

    def set_series(self, data: dict[str, list[tuple[str, float]]]) -> None:
        self._data = data
        self._clear()
        self.points = {key: self._points(rows) for key, rows in data.items()}
        keys = [k for k in VITALS if self.points.get(k)]
        keys += [k for k in data if k not in VITALS and self.points.get(k)]
        self.empty.setVisible(not keys)
        if not keys:
            return
        hidden = self.hidden
        for key in keys:
            box = QCheckBox(label_of(key), self.widget())
            box.setChecked(key not in hidden)
            box.setStyleSheet(f"QCheckBox {{ color: {COLOURS.get(key, '#455a64')}; }}")
            box.toggled.connect(partial(self._toggle, key))
            self.toggles[key] = box
        stamps = [ms for key in keys for ms, _iso, _v in self.points[key]]
        units: dict[str, list[str]] = {}
        for key in keys:
            units.setdefault(unit_of(key), []).append(key)
        for unit, members in units.items():
            for key in members:
                self.series[key] = self._line(key)
            visible = [k for k in members if k not in hidden]
            if not visible:
                continue
            self.charts[unit] = self._unit_chart(unit, members, visible, stamps)
        self._arrange(force=True)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self, force: bool = False) -> None:
        """Tick boxes and charts in as many columns as the width holds (charts: 1 or 2)."""
        width = self.viewport().width()
        columns = 2 if width >= 2 * CHART_WIDTH else 1
        per_row = max(1, min(5, width // TOGGLE_WIDTH))
        if not force and (columns, per_row) == (self.columns, self.per_row):
            return
        self.columns, self.per_row = columns, per_row
        for index, box in enumerate(self.toggles.values()):
            self.toggle_row.removeWidget(box)
            self.toggle_row.addWidget(box, index // per_row, index % per_row)
        for index, built in enumerate(self.charts.values()):
            self.grid.removeWidget(built.view)
            self.grid.addWidget(built.view, index // columns, index % columns)

    def _clear(self) -> None:
        for box in self.toggles.values():
            self.toggle_row.removeWidget(box)
            box.deleteLater()
        for built in self.charts.values():
            self.grid.removeWidget(built.view)
            built.view.deleteLater()
        self.series, self.points, self.charts, self.toggles = {}, {}, {}, {}

    @staticmethod
    def _points(rows: list[tuple[str, float]]) -> list[tuple[float, str, float]]:
        kept = []
        for iso, value in rows:
            moment = parse(iso)
            if moment is not None:
                kept.append((moment.timestamp() * 1000, iso, float(value)))
        return sorted(kept)

    def _line(self, key: str) -> QLineSeries:
        line = QLineSeries()
        line.setName(label_of(key))
        line.setPointsVisible(True)
        line.setPen(QPen(QColor(COLOURS.get(key, "#455a64")), 2.2))
        for ms, _iso, value in self.points[key]:
            line.append(ms, value)
        line.hovered.connect(partial(self._hover, key))
        return line

    def _unit_chart(
        self, unit: str, members: list[str], visible: list[str], stamps: list[float]
    ) -> UnitChart:
        chart = QChart()
        names = _(" · ").join(label_of(k) for k in visible)
        chart.setTitle("" if len(visible) > 1 else names)  # else the legend names them
        chart.setBackgroundRoundness(6)
        chart.setMargins(QMargins(4, 2, 4, 2))
        chart.legend().setVisible(len(visible) > 1)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignTop)
        chart.legend().setMarkerShape(QLegend.MarkerShape.MarkerShapeCircle)
        x_axis = QDateTimeAxis()
        x_axis.setTickCount(4)
        y_axis = QValueAxis()
        y_axis.setLabelFormat("%g")
        # Translators: the value axis of a vitals chart without a unit
        y_axis.setTitleText(unit or _("value"))
        chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        for key in members:
            line = self.series[key]
            chart.addSeries(line)
            line.attachAxis(x_axis)
            line.attachAxis(y_axis)
            line.setVisible(key in visible)
            for marker in chart.legend().markers(line):
                marker.setVisible(key in visible)
        low, high = min(stamps), max(stamps)
        x_axis.setFormat(date_format(low, high))
        pad = max((high - low) * 0.04, DAY_MS / 2)
        x_axis.setRange(
            QDateTime.fromMSecsSinceEpoch(int(low - pad)),
            QDateTime.fromMSecsSinceEpoch(int(high + pad)),
        )
        bottom, top, ticks = value_range(unit, [v for k in visible for _m, _i, v in self.points[k]])
        y_axis.setRange(bottom, top)
        y_axis.setTickCount(ticks)
        view = QChartView(chart, self.widget())
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.setMinimumSize(CHART_WIDTH - 20, CHART_HEIGHT)
        view.setAccessibleName(
            _("{vitals} ({unit})").format(vitals=names, unit=unit) if unit else names
        )
        return UnitChart(unit, members, names, chart, view, y_axis, x_axis)

    # -- interaction -----------------------------------------------------------------------

    def _toggle(self, key: str, shown: bool) -> None:
        hidden = self.hidden - {key} if shown else self.hidden | {key}
        self._prefs.set("vitals/hidden", ",".join(sorted(hidden)))
        self.set_series(self._data)

    def hover_text(self, key: str, x: float) -> str:
        """What hovering the point of `key` nearest to time `x` (ms) shows."""
        points = self.points.get(key) or []
        if not points:
            return ""
        _ms, iso, value = min(points, key=lambda p: abs(p[0] - x))
        # Translators: a vitals chart point's tooltip ("Temperature: 38.5 °C" and its time)
        return _("{vital}: {value}\n{time}").format(
            vital=label_of(key), value=vital(key, value), time=when(iso)
        )

    def _hover(self, key: str, point: QPointF, state: bool) -> None:
        if not state:
            QToolTip.hideText()
            return
        text = self.hover_text(key, point.x())
        if text:
            self.last_tooltip = text
            QToolTip.showText(QCursor.pos(), text, self)
