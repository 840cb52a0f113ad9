"""Vitals over time (QtCharts): one line per vital sign on a date axis, values on hover.
Clicking a legend entry hides or shows that vital; the choice persists (not PHI)."""

from __future__ import annotations

from functools import partial

from PySide6.QtCharts import QChart, QChartView, QDateTimeAxis, QLegend, QLineSeries, QValueAxis
from PySide6.QtCore import QDateTime, QPointF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from app.ui.formatting import VITALS, number, parse, when
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
LEGEND = {
    "systolic": "Systolic",
    "diastolic": "Diastolic",
    "heart_rate": "Heart rate",
    "respiratory_rate": "Resp. rate",
    "temperature": "Temp.",
    "spo2": "SpO₂",
    "weight": "Weight",
    "height": "Height",
    "bmi": "BMI",
}
DAY_MS = 24 * 3600 * 1000


class VitalsChartView(QChartView):
    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        self._chart = QChart()
        super().__init__(self._chart, parent)
        self._prefs = prefs
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setAccessibleName("Vitals plot")
        self.setMinimumHeight(260)
        self.setAccessibleDescription(
            "Hover a point for its value; click a legend entry to hide or show it."
        )
        self._chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self._chart.legend().setMarkerShape(QLegend.MarkerShape.MarkerShapeCircle)
        self._chart.setBackgroundRoundness(6)
        self._chart.setMargins(self._chart.margins())
        self.series: dict[str, QLineSeries] = {}
        self.points: dict[str, list[tuple[float, str, float]]] = {}  # (ms, iso, value)
        self._data: dict[str, list[tuple[str, float]]] = {}
        self.last_tooltip = ""

    @property
    def hidden(self) -> set[str]:
        raw = self._prefs.text("vitals/hidden", DEFAULT_HIDDEN)
        return {k for k in raw.split(",") if k}

    def set_series(self, data: dict[str, list[tuple[str, float]]]) -> None:
        chart = self._chart
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        self.series, self.points, self._data = {}, {}, data
        if not data:
            chart.setTitle("No vitals recorded yet")
            return
        chart.setTitle("")
        x_axis = QDateTimeAxis()
        x_axis.setFormat("dd MMM yy")
        x_axis.setTitleText("Date taken")
        y_axis = QValueAxis()
        y_axis.setLabelFormat("%g")
        chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        hidden = self.hidden
        stamps: list[float] = []
        values: list[float] = []
        for key in [k for k in VITALS if k in data] + [k for k in data if k not in VITALS]:
            label = VITALS.get(key, (key, ""))[0]
            line = QLineSeries()
            line.setName(LEGEND.get(key, label))
            line.setPointsVisible(True)
            line.setPen(QPen(QColor(COLOURS.get(key, "#455a64")), 2.2))
            kept = []
            for iso, value in data[key]:
                moment = parse(iso)
                if moment is None:
                    continue
                ms = moment.timestamp() * 1000
                line.append(ms, value)
                kept.append((ms, iso, value))
                if key not in hidden:
                    stamps.append(ms)
                    values.append(value)
            chart.addSeries(line)
            line.attachAxis(x_axis)
            line.attachAxis(y_axis)
            line.hovered.connect(partial(self._hover, key))
            line.setVisible(key not in hidden)
            self.series[key], self.points[key] = line, kept
        for key, line in self.series.items():
            for marker in chart.legend().markers(line):
                marker.setVisible(True)
                marker.clicked.connect(partial(self._toggle, key))
                self._dim(key)
        self._fit(x_axis, y_axis, stamps or [0.0], values or [0.0])

    @staticmethod
    def _fit(x: QDateTimeAxis, y: QValueAxis, stamps: list[float], values: list[float]) -> None:
        low, high = min(stamps), max(stamps)
        pad = max((high - low) * 0.05, DAY_MS / 2)
        x.setRange(
            QDateTime.fromMSecsSinceEpoch(int(low - pad)),
            QDateTime.fromMSecsSinceEpoch(int(high + pad)),
        )
        bottom, top = min(values), max(values)
        margin = max((top - bottom) * 0.1, 5)
        y.setRange(max(0.0, bottom - margin), top + margin)
        y.applyNiceNumbers()

    def _toggle(self, key: str) -> None:
        hidden = self.hidden ^ {key}
        self._prefs.set("vitals/hidden", ",".join(sorted(hidden)))
        self.set_series(self._data)

    def _dim(self, key: str) -> None:
        line = self.series[key]
        for marker in self._chart.legend().markers(line):
            colour = QColor("#1d2733")
            colour.setAlphaF(1.0 if line.isVisible() else 0.35)
            marker.setLabelBrush(colour)

    def _hover(self, key: str, point: QPointF, state: bool) -> None:
        if not state:
            QToolTip.hideText()
            return
        points = self.points.get(key) or []
        if not points:
            return
        _ms, iso, value = min(points, key=lambda p: abs(p[0] - point.x()))
        label, unit = VITALS.get(key, (key, ""))
        self.last_tooltip = f"{label}: {number(value)} {unit}\n{when(iso)}"
        QToolTip.showText(QCursor.pos(), self.last_tooltip, self)
