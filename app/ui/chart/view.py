"""A patient's chart: header with allergy banner, actions, "as of" picker and the tabs
(summary, timeline, vitals plot, notes, encounters). Loads off the GUI thread and reloads
when a recorded command changed this patient's chart."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.i18n import N_, _
from app.services.dto import Changes, ChartView
from app.ui import shortcuts
from app.ui.chart.action_strip import ActionStripWidget
from app.ui.chart.actions import ChartActions
from app.ui.chart.header import ChartHeaderWidget
from app.ui.chart.immunizations import ImmunizationsWidget
from app.ui.chart.lists import EncountersWidget, NotesView
from app.ui.chart.other_records import OtherRecordsWidget
from app.ui.chart.referrals import ReferralsWidget
from app.ui.chart.results import ResultsWidget
from app.ui.chart.summary import ChartSummaryWidget
from app.ui.chart.timeline import TimelineView
from app.ui.chart.vitals import VitalsChartView
from app.ui.formatting import to_datetime, when
from app.ui.printing.print_menu import PrintMenu, print_action
from app.ui.session import ClinicSession
from app.ui.widgets import NoticeBarWidget

# English msgids (N_), translated where shown; TABS are also looked up by their English name.
TOOLBAR = (
    ("vitals", N_("Vitals")),
    ("note", N_("Note")),
    ("prescribe", N_("Prescribe")),
    ("diagnosis", N_("Diagnosis")),
    ("allergy", N_("Allergy")),
)
MORE = (
    "encounter",
    "finish_encounter",
    "follow_up",
    "demographics",
    "resolve",
    "allergy_status",
    "change_dose",
    "discontinue",
    "refer",
    "cancel_referral",
    "test_result",
    "dipstick",
    "immunization",
    "entered_in_error",
    "merge",
    "undo_merge",
)
TABS = (
    N_("Summary"),
    N_("Timeline"),
    N_("Vitals"),
    N_("Notes"),
    N_("Encounters"),
    N_("Results"),
    N_("Immunizations"),
    N_("Referrals"),
    N_("Other records"),
)
EMPTY = N_("Select a patient from the list, or press Ctrl+N to register a new one.")


class PatientChartView(QWidget):
    chart_shown = Signal(object)  # ChartView, after it was painted into the widgets

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.patient_id: str | None = None
        self.current: ChartView | None = None
        self._seq = 0
        self.chart_actions = ChartActions(session, self)
        self.stack = QStackedWidget(self)
        self.placeholder = QLabel(_(EMPTY), self)
        self.placeholder.setObjectName("hint")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self._build_chart_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._as_of_timer = QTimer(self, singleShot=True, interval=400)
        # Moving the "as of" time is not a new view: the opening of the chart was recorded.
        self._as_of_timer.timeout.connect(lambda: self.reload(record_view=False))
        session.changed.connect(self._on_changed)
        self.tabs.setCurrentIndex(session.prefs.integer("chart/tab", 0))
        self.tabs.currentChanged.connect(lambda i: session.prefs.set("chart/tab", i))

    # -- layout ----------------------------------------------------------------------------

    def _build_chart_page(self) -> QWidget:
        page = QWidget(self)
        column = QVBoxLayout(page)
        column.setContentsMargins(8, 8, 8, 8)
        column.setSpacing(8)
        self.header = ChartHeaderWidget(page)
        column.addWidget(self.header)
        # Actions and "As of" share a row; the actions give way first (those that do not fit
        # lead the More menu) so the "As of" control always stays on screen.
        actions_row = QHBoxLayout()
        actions_row.setSpacing(6)
        actions_row.addWidget(self._build_toolbar(page), 1)
        actions_row.addWidget(self._build_as_of(page))
        column.addLayout(actions_row)
        self.notice = NoticeBarWidget(page)
        column.addWidget(self.notice)
        self.tabs = QTabWidget(page)
        self.summary = ChartSummaryWidget(self.chart_actions, page)
        self.timeline = TimelineView(page)
        self.timeline.mark_in_error.connect(
            lambda item_id, text: self.chart_actions.open("entered_in_error", item_id, text)
        )
        self.vitals = VitalsChartView(self.session.prefs, page)
        self.notes = NotesView(page)
        self.encounters = EncountersWidget(self.chart_actions, page)
        self.other_records = OtherRecordsWidget(page)
        names = {t.key: t.name for t in self.session.catalog.poc_tests.values()}
        self.results = ResultsWidget(self.chart_actions, names, page)
        self.referrals = ReferralsWidget(self.chart_actions, page)
        self.referrals.print_requested.connect(
            lambda rid: self.print_menu.open("referral", rid or None)
        )
        schedule = self.session.catalog.immunization_schedule
        self.immunizations = ImmunizationsWidget(
            self.chart_actions,
            _("Schedule version {version}").format(version=schedule.version),
            page,
        )
        for widget, title in zip(
            (
                self.summary,
                self.timeline,
                self.vitals,
                self.notes,
                self.encounters,
                self.results,
                self.immunizations,
                self.referrals,
                self.other_records,
            ),
            TABS,
            strict=True,
        ):
            self.tabs.addTab(widget, _(title))  # a TABS msgid
        column.addWidget(self.tabs, 1)
        return page

    def _build_toolbar(self, parent: QWidget) -> ActionStripWidget:
        actions = self.chart_actions.actions
        for key, short in TOOLBAR:
            actions[key].setIconText(_(short))  # a TOOLBAR msgid
        self.print_menu = PrintMenu(self.session, self)
        self.print_action = print_action(self.print_menu, self)
        self.toolbar = ActionStripWidget(
            [*(actions[key] for key, _short in TOOLBAR), self.print_action],
            [actions[key] for key in MORE],
            parent,
            _("More chart actions"),
        )
        self.toolbar.setAccessibleName(_("Chart actions"))
        return self.toolbar

    def _build_as_of(self, parent: QWidget) -> QWidget:
        box = QWidget(parent)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.as_of_box = QCheckBox(_("As of"), box)
        self.as_of_box.setToolTip(
            _("Show the chart as it was at a past moment ({shortcut})").format(
                shortcut=shortcuts.AS_OF
            )
        )
        self.as_of_box.setShortcut(QKeySequence(shortcuts.AS_OF))
        self.as_of_box.setAccessibleName(_("Show the chart as of a past date"))
        self.as_of_box.toggled.connect(self._as_of_toggled)
        row.addWidget(self.as_of_box)
        self.as_of_edit = QDateTimeEdit(self.session.now_q(), box)
        self.as_of_edit.setCalendarPopup(True)
        # Translators: a Qt date-time display format (dd day, MMM month, yyyy year, HH:mm time)
        self.as_of_edit.setDisplayFormat(_("dd MMM yyyy  HH:mm"))
        self.as_of_edit.setAccessibleName(_("As of date and time"))
        self.as_of_edit.setEnabled(False)
        # Shown only while "As of" is ticked: on a narrow chart its room goes to the actions.
        self.as_of_edit.hide()
        self.as_of_edit.dateTimeChanged.connect(lambda _v: self._as_of_timer.start())
        row.addWidget(self.as_of_edit)
        return box

    def show_tab(self, index: int) -> None:
        """Show tab `index` and put the keyboard focus in it."""
        self.tabs.setCurrentIndex(index)
        page = self.tabs.currentWidget()
        target = page.focusProxy() or page
        if not target.focusPolicy() & Qt.FocusPolicy.TabFocus:
            target = next(
                (
                    w
                    for w in page.findChildren(QWidget)
                    if w.isVisible() and w.focusPolicy() & Qt.FocusPolicy.TabFocus
                ),
                self.tabs.tabBar(),
            )
        target.setFocus(Qt.FocusReason.ShortcutFocusReason)

    # -- loading ---------------------------------------------------------------------------

    def show_patient(self, patient_id: str) -> None:
        """Open a patient's chart (recorded in the audit as a view)."""
        if patient_id == self.patient_id and self.current is not None:
            return
        self.patient_id = patient_id
        self.current = None
        self.notice.hide()
        self.placeholder.setText(_("Opening chart…"))
        self.stack.setCurrentIndex(0)
        self.chart_actions.update(None, None)
        self.print_menu.update_chart(None)
        self.reload(record_view=True)

    def clear(self) -> None:
        self.patient_id, self.current = None, None
        self.placeholder.setText(_(EMPTY))
        self.stack.setCurrentIndex(0)
        self.chart_actions.update(None, None)
        self.print_menu.update_chart(None)

    def as_of(self) -> QDateTime | None:
        return self.as_of_edit.dateTime() if self.as_of_box.isChecked() else None

    def reload(self, record_view: bool = False) -> None:
        if self.patient_id is None:
            return
        self._seq += 1
        seq, pid = self._seq, self.patient_id
        queries, actor = self.session.clinic.queries, self.session.actor
        as_of = self.as_of()
        moment = to_datetime(as_of) if as_of is not None else None
        self.session.run(
            lambda: queries.chart(pid, actor, moment, record_view),
            success=lambda view: self._show(seq, view),
            failure=lambda exc: self._failed(seq, exc),
            owner=self,
            label=_("Opening chart…"),
        )

    def _show(self, seq: int, chart: ChartView) -> None:
        if seq != self._seq or chart.patient.patient_id != self.patient_id:
            return  # the user moved on to another patient or time
        self.current = chart
        self.header.show_chart(chart)
        self.summary.show_chart(chart)
        self.timeline.set_entries(chart.timeline)
        self.vitals.set_series(chart.vitals_series)
        self.notes.show_chart(chart)
        self.encounters.show_chart(chart)
        self.other_records.show_chart(chart)
        self.results.show_chart(chart)
        self.referrals.show_chart(chart)
        self.immunizations.show_chart(chart)
        read_only = (
            _(
                "You are viewing the chart as it was on {time}; untick “As of” to make changes."
            ).format(time=when(chart.as_of))
            if chart.as_of
            else None
        )
        if chart.replaced_by and read_only is None:
            read_only = _("This record was merged into another chart: record on that chart.")
        self.chart_actions.update(chart, read_only)
        self.print_menu.update_chart(chart)
        self.timeline.allow_corrections = read_only is None
        self.stack.setCurrentIndex(1)
        self.repaint()
        self.chart_shown.emit(chart)

    def _failed(self, seq: int, exc: BaseException) -> None:
        if seq != self._seq:
            return
        if self.current is None:
            self.placeholder.setText(_(EMPTY))
        self.session.ops.show_error(self, exc)

    def _as_of_toggled(self, on: bool) -> None:
        self.as_of_edit.setEnabled(on)
        self.as_of_edit.setVisible(on)
        if on:
            self.as_of_edit.setDateTime(self.session.now_q())
        self._as_of_timer.start()

    def _on_changed(self, changes: Changes) -> None:
        if changes.patient_id != self.patient_id or "chart" not in changes.areas:
            return
        if changes.warnings:
            self.notice.show_notice(
                _("Saved, with a warning: {warnings}").format(warnings=" ".join(changes.warnings))
            )
        self.reload(record_view=False)
