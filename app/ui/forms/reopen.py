"""The reopen registry: what a draft must remember to open its form again, and how.

A draft stores the form's class name and its constructor context (plain JSON): the patient
of a chart form, the patient summary or appointment a form was opened on. Chart forms are
rebuilt on the chart as it is now (loaded again, so pickers list today's items); forms that
send the values the user saw (demographics, appointments) keep exactly what was seen, so an
edit made meanwhile elsewhere is still caught. The field values themselves are restored
generically afterwards (DraftableDialog.restore_draft).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from PySide6.QtWidgets import QWidget

from app.services.call_worklist import WorklistRow
from app.services.dto import ChartView, PatientSummary
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.call_forms import RecordCallDialog, RemoveFromListDialog
from app.ui.forms.chart_forms import BY_NAME as CHART_FORMS
from app.ui.forms.chart_forms import ChartFormDialog, EnteredInErrorDialog
from app.ui.forms.patient_forms import EditDemographicsDialog, RegisterPatientDialog
from app.ui.forms.schedule_forms import (
    AppointmentRef,
    BookFollowUpDialog,
    CancelAppointmentDialog,
    ConfirmAttendanceDialog,
    MoveAppointmentDialog,
)
from app.ui.session import ClinicSession

Context = dict[str, Any]
PlainBuilder = Callable[[ClinicSession, QWidget, Context], CommandFormDialog]


def _patient(ctx: Context) -> PatientSummary | None:
    data = ctx.get("patient")
    return PatientSummary(**data) if isinstance(data, dict) else None


def _appointment(ctx: Context) -> AppointmentRef:
    return AppointmentRef(**ctx["appointment"])


def _demographics(s: ClinicSession, host: QWidget, ctx: Context) -> CommandFormDialog:
    patient = _patient(ctx)
    if patient is None:
        raise ValueError("a demographics draft without its patient")
    return EditDemographicsDialog(s, patient, host)


PLAIN_FORMS: dict[str, PlainBuilder] = {
    "RegisterPatientDialog": lambda s, host, _c: RegisterPatientDialog(s, host),
    "EditDemographicsDialog": _demographics,
    "BookFollowUpDialog": lambda s, host, c: BookFollowUpDialog(s, _patient(c), host),
    "MoveAppointmentDialog": lambda s, host, c: MoveAppointmentDialog(s, _appointment(c), host),
    "CancelAppointmentDialog": lambda s, host, c: CancelAppointmentDialog(s, _appointment(c), host),
    "ConfirmAttendanceDialog": lambda s, host, c: ConfirmAttendanceDialog(
        s, _appointment(c), bool(c.get("attended")), host
    ),
    "RecordCallDialog": lambda s, host, c: RecordCallDialog(s, WorklistRow(**c["row"]), host),
    "RemoveFromListDialog": lambda s, host, c: RemoveFromListDialog(
        s, WorklistRow(**c["row"]), host
    ),
}


def describe(form: CommandFormDialog) -> tuple[str, Context] | None:
    """(registry name, constructor context) of an open form; None for a form this registry
    does not know (its draft cannot be reopened, so it is not kept)."""
    name = type(form).__name__
    ctx: Context = {}
    if isinstance(form, ChartFormDialog):
        ctx["patient_id"] = form.patient_id
        if isinstance(form, EnteredInErrorDialog):
            # An item missing from the chart's lists (older vitals) was added by hand.
            ctx["selected"] = form.item.currentData()
            ctx["selected_text"] = form.item.currentText()
    elif isinstance(form, EditDemographicsDialog | BookFollowUpDialog):
        ctx["patient"] = asdict(form.patient) if form.patient is not None else None
    elif isinstance(form, MoveAppointmentDialog | CancelAppointmentDialog):
        ctx["appointment"] = asdict(form.appointment)
    elif isinstance(form, ConfirmAttendanceDialog):
        ctx["appointment"] = asdict(form.appointment)
        ctx["attended"] = form.attended
    elif isinstance(form, RecordCallDialog | RemoveFromListDialog):
        ctx["row"] = asdict(form.row)  # the worklist row as it was seen
    if name not in CHART_FORMS and name not in PLAIN_FORMS:
        return None
    return name, ctx


def chart_patient(form_name: str, ctx: Context) -> str | None:
    """The patient whose chart must be loaded before the form can be rebuilt (or None)."""
    if form_name in CHART_FORMS:
        return str(ctx["patient_id"])
    return None


def build(
    session: ClinicSession,
    form_name: str,
    ctx: Context,
    host: QWidget,
    chart: ChartView | None = None,
) -> CommandFormDialog:
    """A new form like the one the draft was taken from (values not yet restored)."""
    if form_name in CHART_FORMS:
        if chart is None:
            raise ValueError("a chart form needs its chart")
        selected = ctx.get("selected")
        return CHART_FORMS[form_name](
            session,
            chart,
            host,
            str(selected) if selected else None,
            str(ctx.get("selected_text", "")),
        )
    return PLAIN_FORMS[form_name](session, host, ctx)
