"""Schedule: a day or a week of appointments, what is due today, what is overdue and which
no-shows still need a follow-up; book, move, cancel, mark attended or no-show.

A booking or move that lands outside the days shown says where it went (a notice naming the
day, with a button to show it)."""

from __future__ import annotations

from datetime import date, datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain import commands as c
from app.i18n import N_, _, pgettext, word
from app.i18n.formatting import clock, weekday_day, weekday_day_short
from app.services.dto import AppointmentView, Changes
from app.ui import formatting
from app.ui.chart_text import APPOINTMENT_STATUS as STATUS
from app.ui.formatting import time_of_day, to_datetime
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.schedule_forms import (
    AppointmentRef,
    BookFollowUpDialog,
    CancelAppointmentDialog,
    ConfirmAttendanceDialog,
    MoveAppointmentDialog,
    SlotTimeField,
)
from app.ui.immunization_due_list import ImmunizationDueListView
from app.ui.permissions import gate
from app.ui.session import ClinicSession
from app.ui.tables import read_only_table
from app.ui.widgets import NoticeBarWidget, make_primary, title_label

COLUMNS = (N_("Time"), N_("Patient"), N_("Clinician"), N_("Reason"), N_("Status"))
SIDE_COLUMNS = COLUMNS[:3]
# (tab text, list name): short tab texts, so all three tabs fit beside the day at 910 px
SIDE = (
    # Translators: a short tab title: appointments due today
    (N_("Due"), N_("Due today")),
    # Translators: a short tab title: overdue follow-ups
    (N_("Overdue"), N_("Overdue follow-ups")),
    # Translators: a short tab title: missed appointments to follow up
    (N_("Missed"), N_("Missed, to follow up")),
)


def _table(parent: QWidget, columns: tuple[str, ...], name: str, stretch: int = 1) -> QTableWidget:
    """A read-only list; column `stretch` takes the room left (the others fit their text).
    `columns` are N_-marked; `name` comes translated."""
    titles = [_(title) for title in columns]
    return read_only_table(parent, titles, name, stretch=stretch, single=True, grid=False)


class ScheduleView(QWidget):
    open_patient = Signal(str)

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.rows: dict[int, list[AppointmentView]] = {}
        self.selected: AppointmentView | None = None
        self.last_form: CommandFormDialog | None = None
        self.loads_done = 0
        self._seq = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addLayout(self._build_top())
        self.notice = NoticeBarWidget(self)
        self.show_day_button = QPushButton(self.notice)
        self.show_day_button.hide()
        self.show_day_button.clicked.connect(self._show_noticed_day)
        notice_row = self.notice.layout()
        assert isinstance(notice_row, QHBoxLayout)
        notice_row.insertWidget(1, self.show_day_button)  # after the text, before Dismiss
        self.noticed_day: date | None = None
        layout.addWidget(self.notice)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setChildrenCollapsible(False)
        # the reason gives way first: names stay whole
        self.day_table = _table(
            splitter, COLUMNS, _("Appointments"), stretch=COLUMNS.index("Reason")
        )
        # Due, overdue and missed share one column of tabs: three stacked lists do not fit a
        # small window (910×512) above the action buttons.
        self.side = QTabWidget(splitter)
        self.side.setAccessibleName(_("Follow-up lists"))
        self.side.setUsesScrollButtons(False)  # every tab shown whole
        self.due_table, self.overdue_table, self.missed_table = (
            self._side_tab(tab, name) for tab, name in SIDE
        )
        self.missed_table.setToolTip(
            _("No-shows whose patient has no later appointment yet: book them again.")
        )
        # Children with a vaccine dose due or overdue today (app/ui/immunization_due_list.py).
        self.vaccines = ImmunizationDueListView(session, self.side)
        self.side.addTab(self.vaccines, _("Vaccines"))
        self.side.setTabToolTip(self.side.count() - 1, _("Immunizations due and overdue today"))
        self.vaccines.counted.connect(self._vaccines_counted)
        self.vaccines.open_patient.connect(self.open_patient)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout.addWidget(splitter, 1)
        layout.addLayout(self._build_actions())
        for table in self._tables():
            table.itemSelectionChanged.connect(lambda t=table: self._pick(t))
            table.doubleClicked.connect(lambda _i: self._open_chart())
        session.changed.connect(self._on_changed)
        self._update_actions()

    def _build_top(self) -> QHBoxLayout:
        top = QHBoxLayout()
        top.addWidget(title_label(_("Schedule"), self))
        top.addSpacing(20)
        self.prev_button = QPushButton("◀", self)
        self.prev_button.setAccessibleName(_("Previous"))
        self.day = QDateEdit(formatting.qdate_of(self.session.today()), self)
        self.day.setCalendarPopup(True)
        self.day.setDisplayFormat(
            # Translators: a Qt date format (ddd weekday, dd day, MMM month, yyyy year): order
            # it as your language writes a day; the names come from the language's locale
            pgettext("Qt date format", "ddd dd MMM yyyy")
        )
        # Translators: the day the schedule shows
        self.day.setAccessibleName(_("Day"))
        self.next_button = QPushButton("▶", self)
        self.next_button.setAccessibleName(_("Next"))
        self.today_button = QPushButton(_("Today"), self)
        # Translators: show one day of appointments (beside "Week")
        self.day_mode = QRadioButton(pgettext("schedule view", "Day"), self)
        # Translators: show a week of appointments (beside "Day")
        self.week_mode = QRadioButton(pgettext("schedule view", "Week"), self)
        group = QButtonGroup(self)
        group.addButton(self.day_mode)
        group.addButton(self.week_mode)
        week = self.session.prefs.text("schedule/mode", "day") == "week"
        (self.week_mode if week else self.day_mode).setChecked(True)
        for w in (self.prev_button, self.day, self.next_button, self.today_button):
            top.addWidget(w)
        top.addSpacing(12)
        top.addWidget(self.day_mode)
        top.addWidget(self.week_mode)
        top.addStretch(1)
        self.prev_button.clicked.connect(lambda: self._step(-1))
        self.next_button.clicked.connect(lambda: self._step(1))
        self.today_button.clicked.connect(
            lambda: self.day.setDate(formatting.qdate_of(self.session.today()))
        )
        self.day.dateChanged.connect(lambda _d: self.refresh())
        self.week_mode.toggled.connect(self._mode_changed)
        return top

    def _side_tab(self, tab: str, name: str) -> QTableWidget:
        """A tab of SIDE (N_-marked texts)."""
        table = _table(self.side, SIDE_COLUMNS, _(name))
        self.side.addTab(table, _(tab))
        self.side.setTabToolTip(self.side.count() - 1, _(name))
        return table

    def _tables(self) -> tuple[QTableWidget, ...]:
        return (self.day_table, self.due_table, self.overdue_table, self.missed_table)

    def _build_actions(self) -> QVBoxLayout:
        # The selection on a line of its own, so the buttons keep their room at 910 px.
        column = QVBoxLayout()
        column.setSpacing(4)
        row = QHBoxLayout()
        self.book_button = QPushButton(_("Book follow-up…"), self)
        make_primary(self.book_button)
        self.move_button = QPushButton(_("Move…"), self)
        # Translators: a button: cancel the selected appointment
        self.cancel_button = QPushButton(_("Cancel…"), self)
        # Translators: a button: mark the selected appointment attended
        self.attended_button = QPushButton(pgettext("mark appointment", "Attended"), self)
        # Translators: a button: mark the selected appointment a no-show
        self.no_show_button = QPushButton(pgettext("mark appointment", "No-show"), self)
        self.open_button = QPushButton(_("Open chart"), self)
        self.selection_label = QLabel(self)
        self.selection_label.setObjectName("muted")
        for button in (
            self.book_button,
            self.move_button,
            self.cancel_button,
            self.attended_button,
            self.no_show_button,
            self.open_button,
        ):
            row.addWidget(button)
        row.addStretch(1)
        column.addWidget(self.selection_label)
        column.addLayout(row)
        self.book_button.clicked.connect(self.book)
        self.move_button.clicked.connect(lambda: self._form("move"))
        self.cancel_button.clicked.connect(lambda: self._form("cancel"))
        self.attended_button.clicked.connect(lambda: self._form("attended"))
        self.no_show_button.clicked.connect(lambda: self._form("noshow"))
        self.open_button.clicked.connect(self._open_chart)
        return column

    # -- data ------------------------------------------------------------------------------

    def refresh(self) -> None:
        self._seq += 1
        seq, queries = self._seq, self.session.clinic.queries
        picked = self.day.date()
        day = date(picked.year(), picked.month(), picked.day())
        days = 7 if self.week_mode.isChecked() else 1

        def load() -> tuple[list[AppointmentView], ...]:
            return (
                queries.schedule(day, days),
                queries.due_today(),
                queries.overdue_followups(),
                queries.missed_followups(),
            )

        self.session.run(
            load, success=lambda r: self._show(seq, *r), owner=self, label=_("Loading schedule…")
        )
        self.vaccines.refresh()

    def _vaccines_counted(self, count: int, overdue: int) -> None:
        index = self.side.indexOf(self.vaccines)
        # Translators: the vaccines tab with the number of children due
        self.side.setTabText(index, _("Vaccines ({count})").format(count=count))
        self.side.tabBar().setTabTextColor(index, QColor("#b00020" if overdue else "#1d2733"))

    def _show(
        self,
        seq: int,
        appointments: list[AppointmentView],
        due: list[AppointmentView],
        overdue: list[AppointmentView],
        missed: list[AppointmentView],
    ) -> None:
        if seq != self._seq:
            return
        keep = self.selected.appointment_id if self.selected else None
        self.selected = None
        one_day = not self.week_mode.isChecked()
        self._fill(self.day_table, appointments, full=True, clock_only=one_day)
        self._fill(self.due_table, due, full=False, clock_only=True)
        self._fill(self.overdue_table, overdue, full=False, alert=True)
        self._fill(self.missed_table, missed, full=False, alert=True)
        for index, ((title, _name), rows) in enumerate(
            zip(SIDE, (due, overdue, missed), strict=True)
        ):
            # Translators: a tab title with the number of items in it ("Due (3)")
            self.side.setTabText(index, _("{tab} ({count})").format(tab=_(title), count=len(rows)))
            alert = index > 0 and bool(rows)  # overdue or missed: red while there are any
            self.side.tabBar().setTabTextColor(index, QColor("#b00020" if alert else "#1d2733"))
        if keep:
            for table in self._tables():
                rows = self.rows[id(table)]
                hit = next((i for i, a in enumerate(rows) if a.appointment_id == keep), -1)
                if hit >= 0:
                    table.selectRow(hit)
                    break
        self.loads_done += 1
        self._update_actions()

    def _fill(
        self,
        table: QTableWidget,
        rows: list[AppointmentView],
        full: bool,
        alert: bool = False,
        clock_only: bool = False,
    ) -> None:
        """Fill a list; `clock_only`: every row is on one known day, so show just the time."""
        table.blockSignals(True)
        table.clearSelection()
        table.setRowCount(len(rows))
        self.rows[id(table)] = rows
        for r, a in enumerate(rows):
            moment = formatting.local(a.start)
            shown = clock(moment) if clock_only and moment else time_of_day(a.start)
            values = [shown, a.patient_name, a.clinician]
            if full:
                values += [a.reason or "", word(STATUS, a.status)]
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)  # the whole text where a narrow column cuts it
                if alert:
                    item.setForeground(QBrush(QColor("#b00020")))
                if a.status in ("cancelled", "noshow") and full:
                    item.setForeground(QBrush(QColor("#8a94a0")))
                table.setItem(r, col, item)
        table.blockSignals(False)

    # -- actions ---------------------------------------------------------------------------

    def _pick(self, table: QTableWidget) -> None:
        rows = self.rows.get(id(table), [])
        row = table.currentRow()
        if table.selectedItems() and 0 <= row < len(rows):
            self.selected = rows[row]
            for other in self._tables():
                if other is not table:
                    other.blockSignals(True)
                    other.clearSelection()
                    other.blockSignals(False)
        self._update_actions()

    def _update_actions(self) -> None:
        a = self.selected
        booked = a is not None and a.status == "booked"
        none = _("Select an appointment first.")
        not_booked = self._not_booked(a.status) if a else none
        for button, command in (
            (self.move_button, c.RescheduleAppointment),
            (self.cancel_button, c.CancelAppointment),
            (self.attended_button, c.MarkAttended),
            (self.no_show_button, c.MarkNoShow),
        ):
            gate(button, self.session.why_not(command) or (None if booked else not_booked))
        gate(self.book_button, self.session.why_not(c.ScheduleFollowUp))
        gate(self.open_button, None if a else none)
        text = ""
        if a is not None and a.status == "noshow":
            text = _(
                "{patient} — {time} with {clinician} — missed: Book follow-up… books this "
                "patient again"
            ).format(patient=a.patient_name, time=time_of_day(a.start), clinician=a.clinician)
        elif a is not None:
            # Translators: the selected appointment: patient — day and time with clinician
            text = _("{patient} — {time} with {clinician}").format(
                patient=a.patient_name, time=time_of_day(a.start), clinician=a.clinician
            )
        self.selection_label.setText(text)

    @staticmethod
    def _not_booked(status: str) -> str:
        """Why a button needs a booked appointment, for one that is not."""
        if status == "fulfilled":
            return _("This appointment is attended.")
        if status == "noshow":
            return _("This appointment is no-show.")
        if status == "cancelled":
            return _("This appointment is cancelled.")
        return _("This appointment is {status}.").format(status=status)

    def book(self) -> None:
        """Book a follow-up; for a selected missed appointment, for that patient."""
        if not self.book_button.isEnabled():
            return
        missed = self.selected if self.selected and self.selected.status == "noshow" else None
        if missed is None:
            self._show_form(BookFollowUpDialog(self.session, None, self))
            return
        queries, patient_id = self.session.clinic.queries, missed.patient_id
        self.session.run(
            lambda: queries.patient(patient_id),
            success=lambda p: self._show_form(BookFollowUpDialog(self.session, p, self)),
            owner=self,
            label=_("Opening…"),
        )

    def _form(self, kind: str) -> None:
        if self.selected is None:
            return
        ref = AppointmentRef.of_view(self.selected)
        if kind == "move":
            dialog: CommandFormDialog = MoveAppointmentDialog(self.session, ref, self)
        elif kind == "cancel":
            dialog = CancelAppointmentDialog(self.session, ref, self)
        else:
            dialog = ConfirmAttendanceDialog(self.session, ref, kind == "attended", self)
        self._show_form(dialog)

    def _show_form(self, dialog: CommandFormDialog) -> None:
        self.last_form = dialog
        if isinstance(dialog, BookFollowUpDialog | MoveAppointmentDialog):
            start = dialog.start
            assert isinstance(start, SlotTimeField)
            moved = isinstance(dialog, MoveAppointmentDialog)
            dialog.recorded.connect(lambda _c: self._landed(moved, to_datetime(start.dateTime())))
        dialog.open()

    def shown_days(self) -> tuple[date, date]:
        """The first and the last day the schedule shows."""
        picked = self.day.date()
        first = date(picked.year(), picked.month(), picked.day())
        days = 7 if self.week_mode.isChecked() else 1
        return first, date.fromordinal(first.toordinal() + days - 1)

    def _landed(self, moved: bool, start: datetime) -> None:
        """Say where a booking went when that is not on the days shown."""
        first, last = self.shown_days()
        day = start.date()
        if first <= day <= last:
            self.notice.dismiss()
            return
        self.noticed_day = day
        if moved:
            said = _("Moved to {day} at {time} — not on the day shown.")
        else:
            said = _("Booked {day} at {time} — not on the day shown.")
        self.notice.show_notice(said.format(day=weekday_day(day), time=clock(start)), "info")
        # Translators: a button that shows the schedule of {day} ("Show Sat 21 Nov")
        self.show_day_button.setText(_("Show {day}").format(day=weekday_day_short(day)))
        self.show_day_button.show()

    def _show_noticed_day(self) -> None:
        if self.noticed_day is not None:
            self.day.setDate(formatting.qdate_of(self.noticed_day))
        self.notice.dismiss()

    def _open_chart(self) -> None:
        if self.selected is not None:
            self.open_patient.emit(self.selected.patient_id)

    def _step(self, direction: int) -> None:
        days = 7 if self.week_mode.isChecked() else 1
        self.day.setDate(self.day.date().addDays(direction * days))

    def _mode_changed(self, week: bool) -> None:
        self.session.prefs.set("schedule/mode", "week" if week else "day")
        self.refresh()

    def _on_changed(self, changes: Changes) -> None:
        if "schedule" in changes.areas:
            self.refresh()
