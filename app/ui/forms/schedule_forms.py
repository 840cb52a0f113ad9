"""Book, move and cancel follow-ups; confirm attended / no-show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from PySide6.QtCore import QDateTime, QTime, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QSpinBox, QWidget

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
            f"{a.patient_name} — {time_of_day(a.start)} with {a.clinician}",
        )

    @classmethod
    def of_item(cls, patient_id: str, item: ItemView) -> AppointmentRef:
        d = item.data
        return cls(
            patient_id,
            item.item_id,
            d["start"],
            _minutes(d["start"], d.get("end", "")),
            f"{time_of_day(d['start'])} with {d.get('clinician', '?')}",
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
        self.query.setPlaceholderText("Name, identifier or birth date")
        self.query.setAccessibleName("Find patient")
        self.results = QComboBox(self)
        self.results.setAccessibleName("Matching patients")
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
            label="Searching…",
        )

    def _show(self, seq: int, found: list[PatientSummary]) -> None:
        if seq != self._seq:
            return  # a newer search is on its way
        self.results.clear()
        for p in found:
            self.results.addItem(f"{p.family}, {p.given} ({p.birth_date})", p.patient_id)

    def patient_id(self) -> str | None:
        value = self.results.currentData()
        return str(value) if value else None


class BookFollowUpDialog(CommandFormDialog):
    COMMAND = ScheduleFollowUp
    SAVE_LABEL = "Book"
    ALIASES: ClassVar[dict[str, str]] = {"patient_id": "patient"}

    def __init__(
        self,
        session: ClinicSession,
        patient: PatientSummary | None = None,
        parent: QWidget | None = None,
    ) -> None:
        name = f" — {patient.family}, {patient.given}" if patient else ""
        super().__init__(session, f"Book follow-up{name}", parent)
        self.patient = patient
        self.picker: PatientPickerWidget | None = None
        if patient is None:
            self.picker = PatientPickerWidget(session, self)
            self.add_field("patient", "Patient", self.picker)
        clinician = QLineEdit(session.actor.user if session.role is Role.CLINICIAN else "", self)
        self.clinician = self.add_field("clinician", "Clinician", clinician)
        self.start = self.add_field(
            "start", "Start", TimeField(self, _tomorrow_at_nine(session), touched=True)
        )
        minutes = QSpinBox(self)
        minutes.setRange(5, 480)
        minutes.setSingleStep(5)
        minutes.setValue(15)
        minutes.setSuffix(" min")
        self.minutes = self.add_field("duration_minutes", "Duration", minutes)
        self.reason = self.add_field("reason", "Reason", QLineEdit(self))

    def build_command(self) -> Command:
        assert isinstance(self.start, TimeField) and isinstance(self.minutes, QSpinBox)
        patient_id = self.patient.patient_id if self.patient else None
        if self.picker is not None:
            patient_id = self.picker.patient_id()
        if not patient_id:
            raise ValidationError("Find and choose the patient", "patient")
        return ScheduleFollowUp(
            command_id=self.command_id,
            patient_id=patient_id,
            clinician=self.text(self.clinician) or "",
            start=self.start.iso(),
            duration_minutes=self.minutes.value(),
            reason=self.text(self.reason),
        )


class MoveAppointmentDialog(CommandFormDialog):
    COMMAND = RescheduleAppointment
    SAVE_LABEL = "Move"
    ALIASES: ClassVar[dict[str, str]] = {"appointment_id": "start", "expected_start": "start"}

    def __init__(
        self, session: ClinicSession, appointment: AppointmentRef, parent: QWidget | None = None
    ) -> None:
        super().__init__(session, "Move follow-up", parent, appointment.label)
        self.appointment = appointment
        current = QDateTime.fromSecsSinceEpoch(
            int(parse(appointment.start).timestamp())  # type: ignore[union-attr]
        )
        self.start = self.add_field("start", "New start", TimeField(self, current, touched=True))
        minutes = QSpinBox(self)
        minutes.setRange(5, 480)
        minutes.setSingleStep(5)
        minutes.setValue(appointment.minutes)
        minutes.setSuffix(" min")
        self.minutes = self.add_field("duration_minutes", "Duration", minutes)

    def build_command(self) -> Command:
        assert isinstance(self.start, TimeField) and isinstance(self.minutes, QSpinBox)
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
    SAVE_LABEL = "Cancel follow-up"
    ALIASES: ClassVar[dict[str, str]] = {"appointment_id": "reason"}

    def __init__(
        self, session: ClinicSession, appointment: AppointmentRef, parent: QWidget | None = None
    ) -> None:
        super().__init__(session, "Cancel follow-up", parent, appointment.label)
        self.appointment = appointment
        self.reason = self.add_field("reason", "Reason", QLineEdit(self))

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
        title = "Mark attended" if attended else "Mark no-show"
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
