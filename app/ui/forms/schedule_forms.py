"""Book, move and cancel follow-ups; confirm attended / no-show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from PySide6.QtCore import QDateTime, Qt, QTime, QTimer
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from app.domain.commands import (
    CancelAppointment,
    Command,
    MarkAttended,
    MarkNoShow,
    RescheduleAppointment,
    ScheduleFollowUp,
)
from app.domain.errors import ValidationError
from app.domain.roles import Role
from app.i18n import N_, _
from app.services.dto import AppointmentView, ItemView, PatientSummary
from app.ui import formatting
from app.ui.formatting import parse, time_of_day
from app.ui.forms.base import CommandFormDialog, TimeField
from app.ui.session import ClinicSession


@dataclass(frozen=True)
class AppointmentRef:
    """An appointment as the forms need it, from the schedule or from a chart."""

    patient_id: str
    appointment_id: str
    start: str
    minutes: int
    label: str

    @classmethod
    def of_view(cls, a: AppointmentView) -> AppointmentRef:
        return cls(
            a.patient_id,
            a.appointment_id,
            a.start,
            _minutes(a.start, a.end_utc),
            _("{name} — {time} with {clinician}").format(
                name=a.patient_name, time=time_of_day(a.start), clinician=a.clinician
            ),
        )

    @classmethod
    def of_item(cls, patient_id: str, item: ItemView) -> AppointmentRef:
        d = item.data
        return cls(
            patient_id,
            item.item_id,
            d["start"],
            _minutes(d["start"], d.get("end", "")),
            _("{time} with {clinician}").format(
                time=time_of_day(d["start"]), clinician=d.get("clinician", "?")
            ),
        )


def _minutes(start: str, end: str) -> int:
    a, b = parse(start), parse(end)
    return int((b - a).total_seconds() // 60) if a and b else 15


def _tomorrow_at_nine(session: ClinicSession) -> QDateTime:
    return QDateTime(formatting.qdate_of(session.today()).addDays(1), QTime(9, 0))


class PatientPickerWidget(QWidget):
    """Find a patient by typing (searched off the GUI thread) and pick one from the results."""

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.query = QLineEdit(self)
        self.query.setPlaceholderText(_("Name, identifier or birth date"))
        self.query.setAccessibleName(_("Find patient"))
        self.results = QComboBox(self)
        self.results.setAccessibleName(_("Matching patients"))
        self.results.setMinimumWidth(220)
        layout.addWidget(self.query, 1)
        layout.addWidget(self.results, 1)
        self._timer = QTimer(self, singleShot=True, interval=250)
        self._timer.timeout.connect(self._search)
        self.query.textChanged.connect(lambda _t: self._timer.start())
        self._seq = 0

    def _search(self) -> None:
        self._seq += 1
        seq, text, queries = self._seq, self.query.text(), self.session.clinic.queries
        self.session.run(
            lambda: queries.search_patients(text, limit=20),
            success=lambda found: self._show(seq, found),
            owner=self,
            label=_("Searching…"),
        )

    def _show(self, seq: int, found: list[PatientSummary]) -> None:
        if seq != self._seq:
            return  # a newer search is on its way
        self.results.clear()
        for p in found:
            self.results.addItem(
                _("{family}, {given} ({birth_date})").format(
                    family=p.family, given=p.given, birth_date=p.birth_date
                ),
                p.patient_id,
            )

    def patient_id(self) -> str | None:
        value = self.results.currentData()
        return str(value) if value else None


class SlotTimeField(TimeField):
    """An appointment start in 5-minute steps: ↑/↓ on the minutes move by 5, and typed
    minutes are rounded to the nearest 5 when the field is left (09:07 -> 09:05). A time
    the form was opened with is kept while its time of day is not changed."""

    STEP = 5
    HINT = N_("Minutes go in 5-minute steps; typed minutes are rounded (09:07 → 09:05).")

    def __init__(self, parent: QWidget | None, value: QDateTime) -> None:
        super().__init__(parent, value, touched=True)
        # An existing appointment's time (09:07 from older data or another system) stays as
        # it is unless the person changes the time of day: moving only its day must not
        # shift it silently.
        self._given_time = value.time()
        self.editingFinished.connect(self.round_to_step)

    def stepBy(self, steps: int) -> None:
        if self.currentSection() != QDateTimeEdit.Section.MinuteSection:
            super().stepBy(steps)
            return
        value = self.dateTime()
        minute = value.time().minute()
        # 09:07 ↑ is 09:10 and ↓ is 09:05: first onto the step, then by whole steps
        base = minute - minute % self.STEP if steps > 0 else -(-minute // self.STEP) * self.STEP
        moved = value.addSecs((base - minute) * 60 - value.time().second())
        self.setDateTime(moved.addSecs(steps * self.STEP * 60))
        self.setSelectedSection(QDateTimeEdit.Section.MinuteSection)

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:
        if self.currentSection() == QDateTimeEdit.Section.MinuteSection:
            return (
                QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
                | QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
            )
        return super().stepEnabled()

    def round_to_step(self) -> None:
        if self.dateTime().time() == self._given_time:
            return
        value = rounded(self.dateTime(), self.STEP)
        if value != self.dateTime():
            self.setDateTime(value)


def rounded(value: QDateTime, step: int) -> QDateTime:
    """`value` at the nearest whole `step` of minutes (seconds dropped)."""
    time = value.time()
    minute = time.minute() + (1 if time.second() >= 30 else 0)
    target = (minute + step // 2) // step * step
    return value.addSecs((target - time.minute()) * 60 - time.second())


class ClinicianPicker(QComboBox):
    """The device's active clinicians; a clinician booking sees themself chosen. Read when the
    form opens (a few rows of the users table: quick, and the choice is there before anyone
    types). A device without clinician users cannot say who is one: then the name is typed."""

    def __init__(self, session: ClinicSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(200)
        self.names = session.clinic.queries.clinicians()
        for name in self.names:
            self.addItem(name, name)
        me = session.actor.user if session.role is Role.CLINICIAN else None
        if not self.names:
            self.setEditable(True)
            line = self.lineEdit()
            if line is not None:
                line.setPlaceholderText(_("No clinician users on this device: type a name"))
        elif me in self.names:
            self.setCurrentIndex(self.names.index(me))
        else:
            self.setPlaceholderText(_("Choose a clinician"))
            self.setCurrentIndex(-1)  # choose one: no silent default


class PastTimeCheck:
    """Forms with a start time ask before recording it in the past. `past_question` is the
    open question (None when none is asked)."""

    start: QWidget
    past_question: QMessageBox | None = None
    _past_confirmed: QDateTime | None = None
    PAST_TITLE = N_("Book in the past?")
    PAST_QUESTION = N_("{time} is in the past (it is now {now}). Book it anyway?")
    PAST_ANSWER = N_("Book in the past")

    def submit(self) -> None:
        assert isinstance(self, CommandFormDialog) and isinstance(self.start, SlotTimeField)
        self.start.round_to_step()
        chosen = self.start.dateTime()
        if chosen >= self.session.now_q() or chosen == self._past_confirmed:
            CommandFormDialog.submit(self)
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            _(self.PAST_TITLE),
            _(self.PAST_QUESTION).format(
                time=formatting.when(formatting.to_iso(chosen)),
                now=formatting.when(formatting.to_iso(self.session.now_q())),
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        yes = box.button(QMessageBox.StandardButton.Yes)
        yes.setText(_(self.PAST_ANSWER))
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r: self._past_answered(chosen, box.clickedButton() is yes))
        self.past_question = box
        box.open()

    def _past_answered(self, chosen: QDateTime, yes: bool) -> None:
        self.past_question = None
        if yes:
            self._past_confirmed = chosen
            self.submit()


class BookFollowUpDialog(PastTimeCheck, CommandFormDialog):
    COMMAND = ScheduleFollowUp
    SAVE_LABEL = N_("Book")
    ALIASES: ClassVar[dict[str, str]] = {"patient_id": "patient"}

    def __init__(
        self,
        session: ClinicSession,
        patient: PatientSummary | None = None,
        parent: QWidget | None = None,
    ) -> None:
        title = (
            _("Book follow-up — {family}, {given}").format(
                family=patient.family, given=patient.given
            )
            if patient
            else _("Book follow-up")
        )
        super().__init__(session, title, parent)
        self.patient = patient
        self.picker: PatientPickerWidget | None = None
        if patient is None:
            self.picker = PatientPickerWidget(session, self)
            self.add_field("patient", _("Patient"), self.picker)
        self.clinician = self.add_field("clinician", _("Clinician"), ClinicianPicker(session, self))
        self.start = self.add_field(
            "start",
            _("Start"),
            SlotTimeField(self, _tomorrow_at_nine(session)),
            _(SlotTimeField.HINT),
        )
        minutes = QSpinBox(self)
        minutes.setRange(5, 480)
        minutes.setSingleStep(5)
        minutes.setValue(15)
        # Translators: after a number of minutes in a spin box
        minutes.setSuffix(_(" min"))
        self.minutes = self.add_field("duration_minutes", _("Duration"), minutes)
        self.reason = self.add_field("reason", _("Reason"), QLineEdit(self))

    def build_command(self) -> Command:
        assert isinstance(self.start, SlotTimeField) and isinstance(self.minutes, QSpinBox)
        patient_id = self.patient.patient_id if self.patient else None
        if self.picker is not None:
            patient_id = self.picker.patient_id()
        if not patient_id:
            raise ValidationError(_("Find and choose the patient"), "patient")
        return ScheduleFollowUp(
            command_id=self.command_id,
            patient_id=patient_id,
            clinician=self.text(self.clinician) or "",
            start=self.start.iso(),
            duration_minutes=self.minutes.value(),
            reason=self.text(self.reason),
        )


class MoveAppointmentDialog(PastTimeCheck, CommandFormDialog):
    COMMAND = RescheduleAppointment
    SAVE_LABEL = N_("Move")
    PAST_TITLE = N_("Move in the past?")
    PAST_QUESTION = N_("{time} is in the past (it is now {now}). Move it anyway?")
    PAST_ANSWER = N_("Move in the past")
    ALIASES: ClassVar[dict[str, str]] = {"appointment_id": "start", "expected_start": "start"}

    def __init__(
        self, session: ClinicSession, appointment: AppointmentRef, parent: QWidget | None = None
    ) -> None:
        super().__init__(session, _("Move follow-up"), parent, appointment.label)
        self.appointment = appointment
        current = QDateTime.fromSecsSinceEpoch(
            int(parse(appointment.start).timestamp())  # type: ignore[union-attr]
        )
        self.start = self.add_field(
            "start", _("New start"), SlotTimeField(self, current), _(SlotTimeField.HINT)
        )
        minutes = QSpinBox(self)
        minutes.setRange(5, 480)
        minutes.setSingleStep(5)
        minutes.setValue(appointment.minutes)
        # Translators: after a number of minutes in a spin box
        minutes.setSuffix(_(" min"))
        self.minutes = self.add_field("duration_minutes", _("Duration"), minutes)

    def build_command(self) -> Command:
        assert isinstance(self.start, SlotTimeField) and isinstance(self.minutes, QSpinBox)
        return RescheduleAppointment(
            command_id=self.command_id,
            patient_id=self.appointment.patient_id,
            appointment_id=self.appointment.appointment_id,
            start=self.start.iso(),
            expected_start=self.appointment.start,
            duration_minutes=self.minutes.value(),
        )


class CancelAppointmentDialog(CommandFormDialog):
    COMMAND = CancelAppointment
    SAVE_LABEL = N_("Cancel follow-up")
    ALIASES: ClassVar[dict[str, str]] = {"appointment_id": "reason"}

    def __init__(
        self, session: ClinicSession, appointment: AppointmentRef, parent: QWidget | None = None
    ) -> None:
        super().__init__(session, _("Cancel follow-up"), parent, appointment.label)
        self.appointment = appointment
        self.reason = self.add_field("reason", _("Reason"), QLineEdit(self))

    def build_command(self) -> Command:
        return CancelAppointment(
            command_id=self.command_id,
            patient_id=self.appointment.patient_id,
            appointment_id=self.appointment.appointment_id,
            reason=self.text(self.reason),
        )


class ConfirmAttendanceDialog(CommandFormDialog):
    """Attended or no-show: nothing to fill in, one confirmation."""

    def __init__(
        self,
        session: ClinicSession,
        appointment: AppointmentRef,
        attended: bool,
        parent: QWidget | None = None,
    ) -> None:
        title = _("Mark attended") if attended else _("Mark no-show")
        super().__init__(session, title, parent, appointment.label)
        self.save_button.setText(title)
        self.appointment = appointment
        self.attended = attended

    def build_command(self) -> Command:
        kind = MarkAttended if self.attended else MarkNoShow
        return kind(
            command_id=self.command_id,
            patient_id=self.appointment.patient_id,
            appointment_id=self.appointment.appointment_id,
        )
