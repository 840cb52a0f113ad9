"""Reports (staff and clinicians): a month's indicators in a table, the selected indicator's
last twelve months as a QtCharts plot, and Export to a CSV, DHIS2 or MeasureReport file
(docs/reports/indicators.md). Everything is computed off the GUI thread; the month's unsynced
commands are said above the table and again when a file is saved."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCharts import QBarCategoryAxis, QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _
from app.i18n.formatting import count, month_year, month_year_short, number
from app.services.indicators.compute import IndicatorValue, Month
from app.services.indicators.definitions import BY_ID, INDICATORS
from app.services.indicators.exports import warning
from app.services.indicators.report import MonthReport
from app.services.indicators.service import ReportService
from app.ui.errors import plain_message
from app.ui.session import ClinicSession
from app.ui.tables import read_only_table
from app.ui.widgets import title_label

COLUMNS = (N_("Indicator"), N_("Numerator"), N_("Denominator"), N_("Value"))  # shown as _()
MONTHS_OFFERED = 24
# Format names are product names (CSV, DHIS2, FHIR): not translated.
FORMATS = (("CSV", "csv", ".csv"), ("DHIS2 dataValueSet", "dhis2", ".json"),
           ("FHIR MeasureReport", "measurereport", ".json"))  # fmt: skip
# Shown as `_(ADMINS_NO_REPORTS)`.
ADMINS_NO_REPORTS = N_("Admins manage users, devices and sync; reports are for clinic staff.")


def value_text(v: IndicatorValue) -> str:
    """A count as it is; a proportion as a percentage ("—" when no one is in it)."""
    if v.denominator is None:
        return count(v.numerator)
    if v.score is None:
        return "—"
    # Translators: a percentage ("12.5 %")
    return _("{value} %").format(value=number(round(v.score * 100, 1)))


def plotted(v: IndicatorValue) -> float | None:
    if v.denominator is None:
        return float(v.numerator)
    return None if v.score is None else round(v.score * 100, 1)


def _two_lines(label: QLabel) -> None:
    """Wrap, within room for two lines. Without heightForWidth: a page that has it makes the
    page stack ask every page's height for the width, and the tallest page (Settings) then
    sets this page's height too, pushing Export out of the window."""
    label.setWordWrap(True)
    policy = label.sizePolicy()
    policy.setHeightForWidth(False)
    label.setSizePolicy(policy)
    label.setMinimumHeight(2 * label.fontMetrics().lineSpacing() + 4)


class ReportsView(QWidget):
    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.service = ReportService(session.clinic.vault, session.clinic.catalog)
        self.series: list[MonthReport] = []
        self._seq = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        top = QHBoxLayout()
        top.addWidget(title_label(_("Reports"), self))
        top.addStretch(1)
        month_label = QLabel(_("&Month:"), self)
        self.month = QComboBox(self)
        self.month.setAccessibleName(_("Month"))
        month_label.setBuddy(self.month)
        top.addWidget(month_label)
        top.addWidget(self.month)
        layout.addLayout(top)
        self.warning = QLabel(self)
        self.warning.setObjectName("reportWarning")
        _two_lines(self.warning)
        self.warning.setStyleSheet("color: #8a4b00;")
        self.warning.hide()
        layout.addWidget(self.warning)
        export = QHBoxLayout()
        # Translators: the export file's format (CSV, DHIS2, …)
        format_label = QLabel(_("&Format:"), self)
        self.format = QComboBox(self)
        self.format.setAccessibleName(_("Export format"))
        for name, key, _suffix in FORMATS:
            self.format.addItem(name, key)
        format_label.setBuddy(self.format)
        file_label = QLabel(_("F&ile:"), self)
        self.path = QLineEdit(self)
        self.path.setAccessibleName(_("Export file"))
        self.path.setPlaceholderText(_("where to save the file"))
        file_label.setBuddy(self.path)
        self.browse = QPushButton(_("&Browse…"), self)
        self.export_button = QPushButton(_("&Export"), self)
        for w in (format_label, self.format, file_label):
            export.addWidget(w)
        export.addWidget(self.path, 1)
        export.addWidget(self.browse)
        export.addWidget(self.export_button)
        layout.addLayout(export)
        self.message = QLabel(self)
        _two_lines(self.message)
        self.message.setAccessibleName(_("Export result"))
        layout.addWidget(self.message)
        body = QHBoxLayout()
        self.table = read_only_table(
            self, [_(title) for title in COLUMNS], _("Indicators"), stretch=0, single=True
        )
        self.table.setMinimumWidth(330)
        body.addWidget(self.table, 3)
        self.chart = QChart()
        self.chart.legend().hide()
        self.chart_view = QChartView(self.chart, self)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumSize(280, 220)
        self.chart_view.setAccessibleName(_("Indicator over 12 months"))
        body.addWidget(self.chart_view, 2)
        layout.addLayout(body, 1)
        self._fill_months(session.today())
        self.month.currentIndexChanged.connect(lambda _i: self.refresh())
        self.table.currentCellChanged.connect(lambda row, *_: self._plot(row))
        self.browse.clicked.connect(self._browse)
        self.export_button.clicked.connect(self.export)
        self.path.returnPressed.connect(self.export)
        self.path.textEdited.connect(lambda _t: self.path.setProperty("suggested", False))
        self.format.currentIndexChanged.connect(lambda _i: self._suggest_path())
        allowed = not session.is_admin
        self.setEnabled(allowed)
        self.setToolTip("" if allowed else _(ADMINS_NO_REPORTS))

    def _fill_months(self, today: date) -> None:
        """This month (so far) and the 23 before it; last month first chosen (the one
        reported)."""
        this = Month(today.year, today.month)
        for back in range(MONTHS_OFFERED):
            m = this.minus(back)
            label = month_year(m.first)
            if back == 0:
                # Translators: this month, not over yet ("November 2026 (so far)")
                label = _("{month} (so far)").format(month=label)
            self.month.addItem(label, str(m))
        self.month.setCurrentIndex(1)

    @property
    def chosen_month(self) -> str:
        return str(self.month.currentData())

    def refresh(self) -> None:
        if self.session.is_admin:
            return
        self._seq += 1
        seq, service, actor, month = self._seq, self.service, self.session.actor, self.chosen_month
        self._suggest_path()
        self.session.run(
            lambda: service.series(actor, month),
            success=lambda found: self._show(seq, found),
            owner=self,
            label=_("Computing the month's indicators…"),
        )

    def _show(self, seq: int, series: list[MonthReport]) -> None:
        if seq != self._seq or not series:
            return
        self.series = series
        report = series[-1]
        note = warning(report)  # in the current language (exports.warning)
        self.warning.setText(_("Warning: {warning}.").format(warning=note) if note else "")
        self.warning.setVisible(bool(note))
        row = max(self.table.currentRow(), 0)
        self.table.setRowCount(len(report.values))
        for r, v in enumerate(report.values):
            d = BY_ID[v.id]
            cells = (
                _(d.name),  # indicator names are N_-marked (services/indicators/definitions)
                count(v.numerator),
                "" if v.denominator is None else count(v.denominator),
                value_text(v),
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                # The numerator and denominator texts are N_-marked in definitions.py.
                tip = (
                    _(d.numerator)
                    if d.denominator is None
                    else _("{numerator} ÷ {denominator}").format(
                        numerator=_(d.numerator), denominator=_(d.denominator)
                    )
                )
                item.setToolTip(tip)
                if col:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(r, col, item)
        self.table.setCurrentCell(row, 0)
        self._plot(row)

    def _plot(self, row: int) -> None:
        if not self.series or not 0 <= row < len(INDICATORS):
            return
        indicator = INDICATORS[row]
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        line = QLineSeries()
        line.setPointsVisible(True)
        labels = []
        values: list[float] = []
        for x, report in enumerate(self.series):
            labels.append(month_year_short(Month.parse(report.month).first))
            y = plotted(report.value(indicator.id))
            if y is not None:
                line.append(x, y)
                values.append(y)
        self.chart.addSeries(line)
        percent = indicator.denominator is not None
        name = _(indicator.name)  # N_-marked in definitions.py
        if percent:
            # Translators: the plot's title for a proportion
            title = _("{indicator} (%), last 12 months").format(indicator=name)
        else:
            title = _("{indicator}, last 12 months").format(indicator=name)
        self.chart.setTitle(title)
        x_axis = QBarCategoryAxis()
        x_axis.append(labels)
        x_axis.setLabelsAngle(-60)
        y_axis = QValueAxis()
        y_axis.setLabelFormat("%g")
        top = 100.0 if percent else max([*values, 1.0]) * 1.15
        y_axis.setRange(0, top)
        self.chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        line.attachAxis(x_axis)
        line.attachAxis(y_axis)
        self.chart_view.setAccessibleDescription(
            ", ".join(
                _("{label}: {value}").format(label=label, value=value_text(r.value(indicator.id)))
                for label, r in zip(labels, self.series, strict=True)
            )
        )

    def _suggest_path(self) -> None:
        """Suggest a file name for the month and format unless the person typed their own."""
        suffix = FORMATS[self.format.currentIndex()][2]
        key = self.format.currentData()
        current = self.path.text().strip()
        if current and not self.path.property("suggested"):
            return
        folder = Path(current).parent if current else Path.home()
        self.path.setText(str(folder / f"fieldchart-{self.chosen_month}-{key}{suffix}"))
        self.path.setProperty("suggested", True)

    def _browse(self) -> None:
        chosen, _filter = QFileDialog.getSaveFileName(self, _("Export the month"), self.path.text())
        if chosen:
            self.path.setText(chosen)
            self.path.setProperty("suggested", False)

    def export(self) -> None:
        text = self.path.text().strip()
        if not text:
            self.message.setText(_("File: give the file to save the month to."))
            self.path.setFocus()
            return
        path = Path(text).expanduser()
        service, actor, month = self.service, self.session.actor, self.chosen_month
        fmt = str(self.format.currentData())

        def work() -> str | None:
            exported = service.export(actor, month, fmt)
            path.write_text(exported.text, encoding="utf-8")
            return exported.warning

        self.message.setText(_("Exporting…"))
        self.session.run(
            work,
            success=lambda note: self._saved(path, note),
            failure=self._failed,
            owner=self,
            label=_("Exporting the month…"),
        )

    def _saved(self, path: Path, note: str | None) -> None:
        if not note:
            self.message.setText(_("Saved {file}.").format(file=path.name))
            return
        # `note` is exports.warning: already in the current language.
        self.message.setText(
            _("Saved {file}. Warning: {warning}.").format(file=path.name, warning=note)
        )

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, OSError):
            self.message.setText(
                _("File: cannot write there ({reason}).").format(
                    reason=exc.strerror or type(exc).__name__
                )
            )
        else:
            self.message.setText(plain_message(exc))
