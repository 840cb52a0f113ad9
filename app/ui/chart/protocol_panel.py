"""The hypertension protocol's suggestion on the chart summary (WHO HEARTS, app/domain/hearts).

Shown only for a patient with hypertension and a recorded blood pressure, on the chart as it
is now (not an "as of" view). It never records anything by itself: "Accept…" opens the
ordinary prescription (or change-dose) form pre-filled with the suggested drug and dose, and
once that is saved, the follow-up booking form pre-filled with the suggested date; each is
saved, or not, by the clinician. "Decline…" asks for the reason and records it.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDateTime, Qt, QTime
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain import commands as c
from app.domain.hearts.engine import ADD, INCREASE, NONE, START, Suggestion
from app.i18n import N_, _, say
from app.i18n.formatting import day
from app.services.dto import Changes, ChartView
from app.services.protocol_queries import ProtocolAdvice, ProtocolQueries
from app.ui.chart.actions import ChartActions
from app.ui.formatting import qdate_of
from app.ui.forms import chart_forms as cf
from app.ui.forms.protocol_forms import DeclineSuggestionDialog
from app.ui.forms.schedule_forms import BookFollowUpDialog
from app.ui.permissions import gate

TITLE = N_("Hypertension protocol (WHO HEARTS)")  # translated where shown


class ProtocolPanelWidget(QFrame):
    """One suggestion: what, why, when to follow up, and Accept… / Decline…."""

    def __init__(self, actions: ChartActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("protocolPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(_(TITLE))
        self.chart_actions = actions
        self.session = actions.session
        self.chart: ChartView | None = None
        self.advice: ProtocolAdvice | None = None
        self.last_form: QDialog | None = None
        self._seq = 0
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 6, 10, 6)
        column.setSpacing(2)
        row = QHBoxLayout()
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        row.addWidget(self.title, 1)
        self.accept_button = QPushButton(_("Accept…"), self)
        self.accept_button.setAccessibleName(_("Accept the protocol suggestion"))
        self.accept_button.clicked.connect(lambda _=False: self.accept_suggestion())
        self.decline_button = QPushButton(_("Decline…"), self)
        self.decline_button.setAccessibleName(_("Decline the protocol suggestion"))
        self.decline_button.clicked.connect(lambda _=False: self.decline_suggestion())
        row.addWidget(self.accept_button)
        row.addWidget(self.decline_button)
        column.addLayout(row)
        self.detail = QLabel(self)
        self.detail.setObjectName("muted")
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.detail)
        self.hide()

    # -- showing ---------------------------------------------------------------------------

    def show_chart(self, chart: ChartView) -> None:
        """Ask for the suggestion of the chart now shown (off the GUI thread)."""
        self._seq += 1
        self.chart = chart
        if chart.as_of is not None:  # a past view: the suggestion is about today
            self.advice = None
            self.hide()
            return
        seq, pid, actor = self._seq, chart.patient.patient_id, self.session.actor
        queries = ProtocolQueries.of(self.session.clinic)
        self.session.run(
            lambda: queries.advice(pid, actor, self.session.today()),
            success=lambda advice: self._show(seq, advice),
            failure=lambda exc: self._failed(seq, exc),
            owner=self,
            label=_("Checking the hypertension protocol…"),
        )

    def _show(self, seq: int, advice: ProtocolAdvice) -> None:
        if seq != self._seq:
            return
        self.advice = advice
        s = advice.suggestion
        if advice.problem is not None:
            self._fill(
                _("{protocol}: no suggestion").format(protocol=_(TITLE)),
                advice.problem,
                buttons=False,
            )
        elif s is None or not s.applies:
            self.hide()
            return
        elif s.declined_reason is not None:
            self._fill(
                _("{protocol}: suggestion declined — {summary}").format(
                    protocol=_(TITLE), summary=say(s.summary)
                ),
                _("Declined for BP {pressure}: {reason}").format(
                    pressure=s.blood_pressure, reason=s.declined_reason
                ),
                buttons=False,
            )
        else:
            if s.follow_up:
                detail = _("{explanation}. Follow up on {day}.").format(
                    explanation=say(s.explanation), day=_day(s.follow_up)
                )
            else:
                detail = _("{explanation}.").format(explanation=say(s.explanation))
            self._fill(
                _("{protocol}: {summary}").format(protocol=_(TITLE), summary=say(s.summary)),
                detail,
                buttons=True,
            )
            accept_why = self._why_not_accept(s)
            gate(self.accept_button, accept_why, _("Opens the form pre-filled; you save it"))
            gate(
                self.decline_button,
                self.session.why_not(c.DeclineProtocolSuggestion),
                _("Asks for the reason"),
            )
        self.show()

    def _fill(self, title: str, detail: str, *, buttons: bool) -> None:
        self.title.setText(title)
        self.detail.setText(detail)
        self.accept_button.setVisible(buttons)
        self.decline_button.setVisible(buttons)

    def _why_not_accept(self, s: Suggestion) -> str | None:
        if s.kind == NONE:
            return _("Nothing to accept: decide by hand (see the explanation)")
        if s.kind in (START, ADD):
            return self.session.why_not(c.PrescribeMedication)
        if s.kind == INCREASE:
            return self.session.why_not(c.ChangeDose)
        return self.session.why_not(c.ScheduleFollowUp)

    def _failed(self, seq: int, exc: BaseException) -> None:
        if seq == self._seq:
            self.hide()
            self.session.ops.show_error(self, exc)

    # -- acting ----------------------------------------------------------------------------

    @property
    def suggestion(self) -> Suggestion | None:
        return self.advice.suggestion if self.advice is not None else None

    def accept_suggestion(self) -> None:
        """Open the form that carries the suggestion out, pre-filled; nothing is saved here."""
        s, chart = self.suggestion, self.chart
        if s is None or chart is None or not self.accept_button.isEnabled():
            return
        host = self.chart_actions.host
        form: QDialog
        if s.kind in (START, ADD):
            prescribe = cf.PrescribeDialog(self.session, chart, host)
            prescribe.drug.setText(s.drug or "")
            prescribe.dose.setText(f"{s.dose:g}" if s.dose is not None else "")
            prescribe.dose_unit.setCurrentText(s.dose_unit or "")
            _choose(prescribe.route, s.route)
            _choose(prescribe.frequency, s.frequency)
            prescribe.instructions.setText(
                _("Hypertension protocol step {step}").format(step=s.step)
            )
            prescribe.recorded.connect(lambda _c: self.book_follow_up(s))
            form = prescribe
        elif s.kind == INCREASE:
            change = cf.ChangeDoseDialog(self.session, chart, host, s.prescription_id)
            change.dose.setText(f"{s.dose:g}" if s.dose is not None else "")
            change.dose_unit.setCurrentText(s.dose_unit or "")
            _choose(change.frequency, s.frequency)
            change.reason.setText(_("Hypertension protocol step {step}").format(step=s.step))
            change.recorded.connect(lambda _c: self.book_follow_up(s))
            form = change
        else:
            self.book_follow_up(s)
            return
        self._open(form)

    def book_follow_up(self, s: Suggestion, _changes: Changes | None = None) -> None:
        """The follow-up booking form on the suggested day at 09:00, or within the quarter
        hour when that is already past (the clinician saves it)."""
        if self.chart is None or s.follow_up is None:
            return
        form = BookFollowUpDialog(self.session, self.chart.patient, self.chart_actions.host)
        day = date.fromisoformat(s.follow_up)
        assert isinstance(form.start, QDateTimeEdit)
        start = QDateTime(qdate_of(day), QTime(9, 0))
        now = self.session.now_q()
        if start < now:  # seen today (very high BP): the next quarter hour, not this morning
            minutes = now.time().hour() * 60 + now.time().minute()
            start = QDateTime(now.date(), QTime(0, 0)).addSecs((minutes // 15 + 1) * 15 * 60)
        form.start.setDateTime(start)
        form.reason.setText(_("Hypertension review (protocol)"))
        self._open(form)

    def decline_suggestion(self) -> None:
        s, chart = self.suggestion, self.chart
        if s is None or chart is None or not self.decline_button.isEnabled():
            return
        self._open(DeclineSuggestionDialog(self.session, chart.patient, s, self.chart_actions.host))

    def _open(self, form: QDialog) -> None:
        self.last_form = form
        self.chart_actions.last_form = form
        form.open()


def _choose(combo: QComboBox, value: str | None) -> None:
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)


def _day(iso: str) -> str:
    return day(date.fromisoformat(iso))
