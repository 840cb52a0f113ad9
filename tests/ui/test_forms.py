"""Every task form: reachable, labelled for screen readers, and refusals shown in place.

A clinician works through the less common commands on a full (invented) chart: finishing an
encounter, resolving a problem, changing an allergy's status, stopping a medication, editing
demographics that someone else changed meanwhile, and attended / no-show / cancel on the
schedule. The first-run wizard enrols a server.
"""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
    QWizard,
)
from pytestqt.qtbot import QtBot

from app.domain.commands import FieldChange, UpdateDemographics
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.chart.actions import SPECS
from app.ui.formatting import parse, to_qdatetime
from app.ui.forms.base import CommandFormDialog
from app.ui.forms.schedule_forms import BookFollowUpDialog
from tests.clock import SettableClock
from tests.peer.harness import PeerServer
from tests.ui.conftest import open_demo_chart
from tests.ui.helpers import (
    TIMEOUT,
    cell,
    enable_every_chart_action,
    fill,
    submit_ok,
    submit_refused,
    type_into,
)
from tests.ui.helpers import open_chart_form as _open
from tests.ui.scope_server import peer_organization
from tests.ui.test_auth_settings import server_page


def test_every_chart_form_opens_with_labelled_inputs(
    qtbot: QtBot, controller: AppController, seeded: Backend
) -> None:
    window, _ = open_demo_chart(qtbot, controller, seeded)
    enable_every_chart_action(qtbot, window)
    for key in SPECS:
        form = _open(qtbot, window, key)
        inputs = [
            w
            for w in form.findChildren(QLineEdit)
            + form.findChildren(QComboBox)
            + form.findChildren(QPlainTextEdit)
            + form.findChildren(QAbstractSpinBox)
            if w.parent() is not None and not isinstance(w.parent(), QAbstractSpinBox | QComboBox)
        ]
        assert inputs, key
        assert all(w.accessibleName() for w in inputs), (
            key,
            [w for w in inputs if not w.accessibleName()],
        )
        chain: list[QWidget] = []
        widget = form.nextInFocusChain()
        while widget is not None and widget is not form and len(chain) < 200:
            chain.append(widget)
            widget = widget.nextInFocusChain()
        assert form.save_button in chain
        form.reject()


def test_less_common_chart_commands(
    qtbot: QtBot, controller: AppController, seeded: Backend, clock: SettableClock
) -> None:
    window, patient_id = open_demo_chart(qtbot, controller, seeded)
    chart = window.chart

    def current() -> object:
        assert chart.current is not None
        return chart.current

    # start and finish an encounter
    submit_ok(qtbot, fill_and(_open(qtbot, window, "encounter"), reason="Cough for 3 days"))
    qtbot.waitUntil(
        lambda: any(e.status == "in-progress" for e in chart.current.encounters),  # type: ignore[union-attr]
        timeout=TIMEOUT,
    )
    submit_ok(qtbot, _open(qtbot, window, "finish_encounter"))
    qtbot.waitUntil(
        lambda: all(e.status == "finished" for e in chart.current.encounters),  # type: ignore[union-attr]
        timeout=TIMEOUT,
    )
    assert not chart.chart_actions.actions["finish_encounter"].isEnabled()
    assert chart.chart_actions.actions["finish_encounter"].toolTip() == (
        "There is no encounter in progress."
    )

    # resolve a problem picked in the summary list
    problems = chart.summary.lists["problems"]
    problems.setCurrentRow(1)
    second = chart.current.problems[1]  # type: ignore[union-attr]
    resolve = next(
        b
        for b in chart.summary.findChildren(type(window.patients.new_button))
        if b.text() == "Resolve…"
    )
    resolve.click()
    form = chart.chart_actions.last_form
    assert isinstance(form, CommandFormDialog)
    assert form.rows["diagnosis_id"].widget.currentData() == second.item_id  # type: ignore[attr-defined]
    submit_ok(qtbot, form)
    qtbot.waitUntil(lambda: len(chart.current.problems) == 1, timeout=TIMEOUT)  # type: ignore[union-attr]

    # allergy status, then stop a medication (a reason is required)
    peanut = next(a for a in chart.current.allergies if a.data["substance"] == "Peanut")  # type: ignore[union-attr]
    submit_ok(
        qtbot, fill_and(_open(qtbot, window, "allergy_status", peanut.item_id), status="inactive")
    )
    qtbot.waitUntil(
        lambda: chart.current.allergy_banner == ["Penicillins (HIGH criticality)"],  # type: ignore[union-attr]
        timeout=TIMEOUT,
    )
    # change a dose (the dose seen travels along, so a concurrent change is not overwritten)
    form = _open(qtbot, window, "change_dose")
    assert submit_refused(qtbot, form) == {"dose": "Dose is required."}
    before = {m.item_id: m.data["dose"] for m in chart.current.medications}  # type: ignore[union-attr]
    submit_ok(qtbot, fill_and(form, dose="250", reason="Kidney function"))
    qtbot.waitUntil(
        lambda: (
            sorted(m.data["dose"] for m in chart.current.medications)  # type: ignore[union-attr]
            != sorted(before.values())
        ),
        timeout=TIMEOUT,
    )
    assert 250 in [m.data["dose"] for m in chart.current.medications]  # type: ignore[union-attr]
    assert chart.current.timeline[0].text.startswith("Dose changed:")  # type: ignore[union-attr]
    form = _open(qtbot, window, "discontinue")
    assert submit_refused(qtbot, form) == {"reason": "Reason is required."}
    submit_ok(qtbot, fill_and(form, reason="Glucose controlled by diet"))
    qtbot.waitUntil(lambda: len(chart.current.medications) == 1, timeout=TIMEOUT)  # type: ignore[union-attr]

    # demographics: someone else changes the phone while the form is open
    form = _open(qtbot, window, "demographics")
    done: list[object] = []
    window.session.execute(
        UpdateDemographics(
            patient_id=patient_id,
            changes={"phone": FieldChange(new="+254 700 000 111", expected="+254 712 480 316")},
        ),
        owner=None,
        success=done.append,
    )
    qtbot.waitUntil(lambda: bool(done), timeout=TIMEOUT)
    fill(form, phone="+254 722 999 000")
    errors = submit_refused(qtbot, form)
    assert errors == {"phone": "Phone was changed by someone else since you opened the chart."}
    form.reject()

    # the schedule: cancel the booked follow-up, mark another attended, and a past one no-show
    booked = [a for a in chart.current.appointments if a.status == "booked"]  # type: ignore[union-attr]
    follow_up = next(a for a in booked if a.data["reason"] == "BP and glucose review")
    window.show_page(1)
    schedule = window.schedule
    qtbot.waitUntil(lambda: schedule.loads_done > 0, timeout=TIMEOUT)
    overdue = schedule.overdue_table  # booked 3 hours ago: overdue whatever the time of day
    qtbot.waitUntil(lambda: overdue.rowCount() == 1, timeout=TIMEOUT)
    overdue.selectRow(0)
    assert schedule.no_show_button.isEnabled()
    schedule.no_show_button.click()
    assert schedule.last_form is not None
    submit_ok(qtbot, schedule.last_form)
    qtbot.waitUntil(lambda: overdue.rowCount() == 0, timeout=TIMEOUT)
    day = schedule.day_table
    # The demo follow-up is in 2 hours: late in the evening that is tomorrow, and attended is
    # refused before its day. The patient comes when the day has come.
    start = parse(follow_up.data["start"])
    assert start is not None
    clock.now = max(clock.now, start.astimezone().replace(hour=0, minute=0, second=0))
    schedule.day.setDate(to_qdatetime(follow_up.data["start"]).date())
    schedule.week_mode.setChecked(True)
    qtbot.waitUntil(
        lambda: any(a.appointment_id == follow_up.item_id for a in schedule.rows[id(day)]),
        timeout=TIMEOUT,
    )
    day.selectRow([a.appointment_id for a in schedule.rows[id(day)]].index(follow_up.item_id))
    schedule.attended_button.click()
    submit_ok(qtbot, schedule.last_form)
    qtbot.waitUntil(
        lambda: any(a.status == "fulfilled" for a in schedule.rows[id(day)]), timeout=TIMEOUT
    )
    statuses = {cell(day, r, 4) for r in range(day.rowCount())}
    assert "Attended" in statuses

    # book from the schedule: find the patient in the form itself
    schedule.book()
    form = schedule.last_form
    assert isinstance(form, BookFollowUpDialog) and form.picker is not None
    assert submit_refused(qtbot, form) == {"patient": "Find and choose the patient."}
    far = (window.session.now() + timedelta(days=2)).replace(hour=11, minute=0, second=0)
    fill(form, start=far.isoformat())  # clear of every demo appointment
    qtbot.keyClicks(form.picker.query, "odhiambo")
    qtbot.waitUntil(lambda: form.picker.results.count() == 1, timeout=TIMEOUT)  # type: ignore[union-attr]
    submit_ok(qtbot, form)
    assert form.last_changes is not None and form.last_changes.patient_id == patient_id


def fill_and(form: CommandFormDialog, **values: object) -> CommandFormDialog:
    fill(form, **values)
    return form


def test_first_run_enrols_a_server(
    qtbot: QtBot, controller: AppController, fhir_peer: PeerServer
) -> None:
    organization = peer_organization(fhir_peer, "mbeya-hc")  # IT made it on the server first
    wizard, page = server_page(qtbot, controller)
    page.server.setText("fhir.example.org")
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    finish.click()
    qtbot.waitUntil(lambda: not page.error.isHidden(), timeout=TIMEOUT)
    assert page.error.text() == "Server address: The server address must start with https://."
    page.server.setText(fhir_peer.base_url)  # plain http: allowed for this machine only
    page.organization.setText(organization)
    page.auth.setCurrentIndex(page.auth.findData("bearer"))
    page.token.setText("s3cret-token")
    finish.click()
    qtbot.waitUntil(lambda: controller.session is not None, timeout=TIMEOUT)
    assert controller.session is not None
    settings = controller.session.clinic.settings.get()
    assert settings.server_url == fhir_peer.base_url
    assert settings.scope_organization == "Organization/mbeya-hc"
    assert settings.auth_mode == "bearer" and settings.bearer_token == "s3cret-token"
    assert wizard.property("recovery") is None  # the secret is not kept once shown


def test_first_run_refuses_an_organization_the_server_does_not_have(
    qtbot: QtBot, controller: AppController, fhir_peer: PeerServer
) -> None:
    peer_organization(fhir_peer, "mbeya-hc")  # the server has another facility, not this one
    wizard, page = server_page(qtbot, controller)
    type_into(qtbot, page.server, fhir_peer.base_url)
    type_into(qtbot, page.organization, "Organization/mbeya-h")  # one letter short
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    finish.click()
    qtbot.waitUntil(lambda: not page.error.isHidden(), timeout=TIMEOUT)
    assert page.error.text() == (
        "Facility: The server has no Organization mbeya-h — check the id with IT."
    )
    assert page.error.isVisibleTo(wizard)
    assert wizard.isVisible() and controller.session is None, "the wizard stays open"
    assert wizard.created is not None
    settings = wizard.created.clinic.settings.get()
    assert settings.server_url is None and settings.scope_organization is None, "nothing saved"
