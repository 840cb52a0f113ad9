"""Render every main screen to PNG at the sizes clinics have -- 1280×720, 1024×768 and
1366×768 at 150 % (910×512 logical) -- and check that none is blank; each screen is also
checked for widgets cut off or out of reach (tests/ui/layout_checks.py).

Set FIELDCHART_SCREENSHOT_DIR to keep the images somewhere to look at (one folder per size;
docs/screenshot.png and docs/screens/ were taken this way).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QWidget, QWizard
from pytestqt.qtbot import QtBot

from app.domain.roles import Role
from app.ui.app_controller import AppController
from app.ui.backend import Backend
from app.ui.first_run import FirstRunDialog
from app.ui.forms.base import CommandFormDialog
from app.ui.main_window import MainView
from app.ui.unlock_dialog import UnlockDialog
from tests.ui.conftest import ADMIN, ADMIN_PASS, CLINICIAN, CLINICIAN_PASS, open_as
from tests.ui.demo import book_day, record_demo_clinic
from tests.ui.helpers import TIMEOUT, fill, submit_refused
from tests.ui.layout_checks import clipped_labels, out_of_reach, overlapping

SIZES = {"1280x720": (1280, 720), "1024x768": (1024, 768), "1366x768-150pct": (910, 512)}


def _out(tmp_path: Path, size: str) -> Path:
    chosen = os.environ.get("FIELDCHART_SCREENSHOT_DIR")
    out = (Path(chosen) if chosen else tmp_path / "screens") / size
    out.mkdir(parents=True, exist_ok=True)
    return out


def _fits(widget: QWidget) -> None:
    problems = out_of_reach(widget) + clipped_labels(widget) + overlapping(widget)
    assert not problems, "\n".join(problems)


def _save(qtbot: QtBot, widget: QWidget, path: Path) -> QImage:
    qtbot.wait(150)  # let queued layout and paint events settle
    QApplication.processEvents()
    image = widget.grab().toImage()
    assert image.save(str(path)), path
    return image


def _not_blank(image: QImage, min_colours: int = 40) -> None:
    step = 4
    colours = {
        image.pixel(x, y)
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
    }
    assert len(colours) >= min_colours, f"only {len(colours)} colours: looks blank"


def _window_at_size(window: MainView, size: tuple[int, int]) -> None:
    window.resize(*size)
    window.show()


@pytest.mark.parametrize("size_name", list(SIZES))
def test_every_screen_renders(
    qtbot: QtBot, controller: AppController, backend: Backend, tmp_path: Path, size_name: str
) -> None:
    _every_screen(qtbot, controller, backend, _out(tmp_path, size_name), SIZES[size_name], "en")


# Longer words (French) and a mirrored layout (Arabic) on the commonest clinic laptop screen.
@pytest.mark.parametrize("language", ["fr", "ar"])
def test_every_screen_renders_translated(
    qtbot: QtBot, controller: AppController, backend: Backend, tmp_path: Path, language: str
) -> None:
    out = _out(tmp_path, f"1366x768-{language}")
    _every_screen(qtbot, controller, backend, out, (1366, 768), language)


def _every_screen(
    qtbot: QtBot,
    controller: AppController,
    backend: Backend,
    out: Path,
    size: tuple[int, int],
    language: str,
) -> None:
    shots: dict[str, QImage] = {}
    english = language == "en"

    # first run and unlock
    controller.language.apply(language)  # the computer's language before anyone signs in
    controller.start()
    wizard = controller.dialog
    assert isinstance(wizard, FirstRunDialog)
    wizard.resize(720, 560)
    shots["first-run"] = _save(qtbot, wizard, out / "first-run.png")
    wizard.admin_page.passphrase.setText(ADMIN_PASS)
    wizard.admin_page.repeat.setText(ADMIN_PASS)
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentPage() is wizard.recovery_page, timeout=TIMEOUT)
    shots["first-run-recovery"] = _save(qtbot, wizard, out / "first-run-recovery.png")
    wizard.recovery_page.saved.setChecked(True)
    wizard.next()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: controller.window is not None, timeout=TIMEOUT)
    assert controller.session is not None
    controller.session.users().add_user(CLINICIAN, Role.CLINICIAN, CLINICIAN_PASS)
    own = controller.session.clinic
    own.user_settings.set_language(own.actor, language)
    controller.lock()
    dialog = controller.dialog
    assert isinstance(dialog, UnlockDialog)
    shots["unlock"] = _save(qtbot, dialog, out / "unlock.png")
    dialog.close()

    # the clinician's day
    clinic = backend.unlock(CLINICIAN, CLINICIAN_PASS)
    clinic.user_settings.set_language(clinic.actor, language)
    patient_id = record_demo_clinic(clinic, CLINICIAN)
    found = clinic.queries.search_patients("")
    others = [p.patient_id for p in found if p.patient_id != patient_id]
    book_day(clinic, CLINICIAN, others)
    clinic.close()
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    _window_at_size(window, size)
    qtbot.waitUntil(lambda: window.patients.model.rows != [], timeout=TIMEOUT)
    shots["patients"] = _save(qtbot, window, out / "patients.png")  # no chart open yet
    _fits(window)
    window.open_patient(patient_id)
    chart = window.chart
    qtbot.waitUntil(
        lambda: chart.current is not None and window.patients.model.rows != [], timeout=TIMEOUT
    )
    for index, name in enumerate(("chart", "timeline", "vitals", "notes", "encounters")):
        chart.tabs.setCurrentIndex(index)
        shots[name] = _save(qtbot, window, out / f"{name}.png")
        _fits(window)
    chart.tabs.setCurrentIndex(0)
    window.show_page(1)
    qtbot.waitUntil(lambda: window.schedule.loads_done > 0, timeout=TIMEOUT)
    shots["schedule"] = _save(qtbot, window, out / "schedule.png")
    _fits(window)
    window.show_page(2)
    shots["sync"] = _save(qtbot, window, out / "sync.png")
    _fits(window)
    window.show_page(3)
    qtbot.waitUntil(lambda: window.settings.current is not None, timeout=TIMEOUT)
    shots["settings"] = _save(qtbot, window, out / "settings.png")
    _fits(window)
    window.show_page(0)
    chart.chart_actions.open("prescribe")
    form = chart.chart_actions.last_form
    assert isinstance(form, CommandFormDialog)
    qtbot.waitUntil(form.isVisible, timeout=TIMEOUT)
    fill(form, drug="amoxicillin", dose=500, frequency="TID")
    refused = submit_refused(qtbot, form)["override_reason"]
    assert "allergy to Penicillins" in refused if english else "Penicillins" in refused
    shots["prescribe-allergy-clash"] = _save(qtbot, form, out / "prescribe-allergy-clash.png")
    _fits(form)
    form.close()
    chart.chart_actions.open("vitals")
    form = chart.chart_actions.last_form
    assert isinstance(form, CommandFormDialog)
    qtbot.waitUntil(form.isVisible, timeout=TIMEOUT)
    fill(form, systolic=400)
    refused = submit_refused(qtbot, form)["systolic"]
    assert "plausible range" in refused if english else "400" in refused
    shots["vitals-range-error"] = _save(qtbot, form, out / "vitals-range-error.png")
    _fits(form)
    form.close()
    controller.lock()

    # the admin's screens
    window = open_as(controller, qtbot, ADMIN, ADMIN_PASS)
    _window_at_size(window, size)
    window.show_page(4)
    qtbot.waitUntil(lambda: len(window.users.users) == 2, timeout=TIMEOUT)
    shots["users"] = _save(qtbot, window, out / "users.png")
    _fits(window)
    window.show_page(5)
    qtbot.waitUntil(lambda: len(window.audit.entries) > 10, timeout=TIMEOUT)
    shots["audit"] = _save(qtbot, window, out / "audit.png")
    _fits(window)

    for name, image in shots.items():
        assert (out / f"{name}.png").stat().st_size > 5_000, name
        _not_blank(image)
    # the window takes the size asked for: its minimum size fits the screen
    logical = shots["chart"].deviceIndependentSize()  # (physical pixels at QT_SCALE_FACTOR)
    assert abs(logical.width() - size[0]) <= 1 and abs(logical.height() - size[1]) <= 1
