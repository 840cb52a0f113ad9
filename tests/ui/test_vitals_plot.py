"""The vitals plot: one chart per unit, each with a labelled value axis fitted to its data, so a
38.5 °C fever stands out instead of lying flat on a 0–200 scale; hover shows the value."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from PySide6.QtCharts import QLineSeries
from PySide6.QtCore import QPoint
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.i18n.formatting import day
from app.ui.chart.vitals import VitalsChartView
from app.ui.preferences import Preferences
from tests.clock import SettableClock


def _series(clock: SettableClock) -> dict[str, list[tuple[str, float]]]:
    days = [(clock.now - timedelta(days=d)).isoformat() for d in (14, 7, 0)]

    def rows(*values: float) -> list[tuple[str, float]]:
        return list(zip(days, values, strict=True))

    return {
        "systolic": rows(142, 135, 128),
        "diastolic": rows(92, 88, 82),
        "heart_rate": rows(88, 76, 104),
        "respiratory_rate": rows(16, 18, 24),
        "temperature": rows(36.8, 37.0, 38.5),
        "spo2": rows(98, 97, 93),
        "weight": rows(71.5, 71.0, 70.2),
        "height": rows(172, 172, 172),
    }


def _plot(qtbot: QtBot, prefs: Preferences, clock: SettableClock) -> VitalsChartView:
    plot = VitalsChartView(prefs)
    qtbot.addWidget(plot)
    plot.resize(900, 700)
    plot.set_series(_series(clock))
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def test_one_chart_per_unit_with_a_labelled_axis_around_its_data(
    qtbot: QtBot, prefs: Preferences, clock: SettableClock
) -> None:
    plot = _plot(qtbot, prefs, clock)
    data = _series(clock)
    # height is hidden by default: no chart for cm, but it can be ticked on
    assert list(plot.charts) == ["mmHg", "/min", "°C", "%", "kg"]
    assert plot.charts["mmHg"].keys == ["systolic", "diastolic"]
    assert plot.charts["/min"].keys == ["heart_rate", "respiratory_rate"]
    assert plot.charts["°C"].title == "Temperature"
    for unit, built in plot.charts.items():
        axis = built.y_axis
        assert axis.titleText() == unit
        values = [v for key in built.keys for _t, v in data[key]]
        assert axis.min() <= min(values) and max(values) <= axis.max(), unit
    # the same date axis on every chart
    ranges = {(b.x_axis.min(), b.x_axis.max()) for b in plot.charts.values()}
    assert len(ranges) == 1
    assert plot.charts["%"].y_axis.max() <= 100


def test_a_fever_is_visibly_off_the_baseline(
    qtbot: QtBot, prefs: Preferences, clock: SettableClock
) -> None:
    plot = _plot(qtbot, prefs, clock)
    axis = plot.charts["°C"].y_axis
    assert axis.max() - axis.min() < 10
    # 36.8 -> 38.5 °C climbs more than a third of the chart's height
    assert (38.5 - 36.8) / (axis.max() - axis.min()) > 1 / 3
    assert 36.8 - axis.min() > 0  # the normal readings are not on the axis either


def test_hover_names_the_measure_value_unit_and_date(
    qtbot: QtBot, prefs: Preferences, clock: SettableClock
) -> None:
    plot = _plot(qtbot, prefs, clock)
    line = plot.series["temperature"]
    assert isinstance(line, QLineSeries)
    last = line.at(line.count() - 1)
    # the mouse over the fever's point (a real hover: emitting `hovered` from Python with a
    # Python bool drops a reference to True in PySide6 and crashes the interpreter later)
    built = plot.charts["°C"]
    plot.ensureWidgetVisible(built.view)
    on_scene = built.chart.mapToScene(built.chart.mapToPosition(last, line))
    at = built.view.mapFromScene(on_scene)
    QTest.mouseMove(built.view.viewport(), at + QPoint(0, 12))  # off the line first
    QTest.mouseMove(built.view.viewport(), at)
    qtbot.waitUntil(lambda: plot.last_tooltip != "")
    assert plot.last_tooltip.startswith("Temperature: 38.5 °C\n")
    assert day(clock.now.astimezone().date()) in plot.last_tooltip  # "2 Dec 2026"
    assert plot.hover_text("heart_rate", last.x()).startswith("Heart rate: 104 /min")


def test_ticking_a_vital_shows_its_chart_and_is_remembered(
    qtbot: QtBot, prefs: Preferences, clock: SettableClock
) -> None:
    plot = _plot(qtbot, prefs, clock)
    assert "cm" not in plot.charts
    plot.toggles["height"].click()
    assert "cm" in plot.charts and plot.charts["cm"].y_axis.titleText() == "cm"
    plot.toggles["temperature"].click()
    assert "°C" not in plot.charts
    again = _plot(qtbot, prefs, clock)
    assert "cm" in again.charts and "°C" not in again.charts


def test_a_narrow_tab_stacks_the_charts_without_scrolling_sideways(
    qtbot: QtBot, prefs: Preferences, clock: SettableClock
) -> None:
    plot = _plot(qtbot, prefs, clock)
    assert plot.columns == 2
    plot.resize(420, 600)
    qtbot.waitUntil(lambda: plot.columns == 1)
    QApplication.processEvents()
    assert plot.horizontalScrollBar().maximum() == 0
    assert plot.per_row == 2  # the tick boxes wrap too


def test_no_data_says_so(qtbot: QtBot, prefs: Preferences) -> None:
    plot = VitalsChartView(prefs)
    qtbot.addWidget(plot)
    plot.set_series({})
    assert plot.charts == {} and not plot.empty.isHidden()


def test_render_the_plot(
    qtbot: QtBot, prefs: Preferences, clock: SettableClock, tmp_path: Path
) -> None:
    plot = _plot(qtbot, prefs, clock)
    qtbot.wait(100)
    image = plot.grab().toImage()
    assert image.save(str(tmp_path / "vitals.png"))
    if out := os.environ.get("FIELDCHART_SCREENSHOT_DIR"):
        image.save(str(Path(out) / "vitals-plot.png"))
    assert len({image.pixel(x, y) for x in range(0, 900, 25) for y in range(0, 600, 25)}) > 5
