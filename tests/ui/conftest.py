"""Fixtures for the desktop UI tests: a vault in tmp_path (cheap Argon2id), QSettings in a
temporary ini file, and an AppController whose error messages are collected, not shown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.domain.commands import RegisterPatient
from app.domain.roles import Role
from app.main import build_backend
from app.services.clinic import Clinic
from app.store.crypto import FAST_FOR_TESTS
from app.ui import gui_thread_gc, style
from app.ui.app_controller import AppController
from app.ui.backend import Backend, CreatedVault
from app.ui.main_window import MainView
from app.ui.operation import OperationRunner
from app.ui.preferences import Preferences
from tests.clock import SettableClock
from tests.ui.demo import book_day, record_demo_clinic
from tests.ui.helpers import TIMEOUT

ADMIN, ADMIN_PASS = "admin", "admin passphrase"
CLINICIAN, CLINICIAN_PASS = "amani", "clinician passphrase"
STAFF, STAFF_PASS = "baraka", "staff passphrase"


@dataclass
class Shown:
    """Error messages the app would have shown in a message box."""

    messages: list[str] = field(default_factory=list)

    def __call__(self, owner: QWidget | None, message: str) -> None:
        self.messages.append(message)


@pytest.fixture(autouse=True)
def gc_in_gui_thread(qapp: QApplication) -> Iterator[None]:
    """As in the app: cyclic garbage collection only in the GUI thread, never in an
    operation's worker thread (where a collected widget's destructor could crash Qt)."""
    gui_thread_gc.install(qapp)
    yield
    gui_thread_gc.collect_due()


@pytest.fixture
def shown() -> Shown:
    return Shown()


@pytest.fixture
def clock() -> SettableClock:
    """The clinic clock of the test's app: the suite's fixed instant, moved by hand."""
    return SettableClock()


@pytest.fixture
def backend(tmp_path: Path, clock: SettableClock) -> Backend:
    return build_backend(tmp_path / "vault", kdf=FAST_FOR_TESTS, clock=clock)


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "preferences.ini"


@pytest.fixture
def prefs(settings_path: Path) -> Preferences:
    return Preferences(QSettings(str(settings_path), QSettings.Format.IniFormat))


ControllerFactory = Callable[[Backend], AppController]


@pytest.fixture
def make_controller(
    qapp: QApplication, qtbot: QtBot, prefs: Preferences, shown: Shown
) -> Iterator[ControllerFactory]:
    """Build AppControllers on a backend; each is taken down after the test (no app.quit)."""
    style.apply(qapp)
    made: list[AppController] = []

    def make(backend: Backend) -> AppController:
        ctl = AppController(qapp, backend, prefs, OperationRunner(present_error=shown))
        made.append(ctl)
        return ctl

    yield make
    for ctl in made:
        ctl._end_session()
        if ctl.dialog is not None:
            ctl.dialog.close()
            ctl.dialog.deleteLater()
        ctl.ops.wait()
        qtbot.waitUntil(lambda c=ctl: c.ops.idle, timeout=10_000)  # type: ignore[misc]
        qapp.removeEventFilter(ctl.idle)
        ctl.idle.stop()
        ctl.deleteLater()
    qapp.processEvents()


@pytest.fixture
def controller(make_controller: ControllerFactory, backend: Backend) -> AppController:
    return make_controller(backend)


def create_confirmed(backend: Backend, user: str, passphrase: str) -> CreatedVault:
    """`backend.create_vault`, then what the wizard does once the admin saved the secret."""
    created = backend.create_vault(user, passphrase)
    assert backend.confirm_created is not None
    backend.confirm_created()
    return created


def create_seeded_vault(backend: Backend) -> str:
    """Create a vault with an admin, a clinician and a staff member directly (no wizard); its
    recovery secret."""
    created = create_confirmed(backend, ADMIN, ADMIN_PASS)
    users = backend.users(created.clinic)
    users.add_user(CLINICIAN, Role.CLINICIAN, CLINICIAN_PASS)
    users.add_user(STAFF, Role.STAFF, STAFF_PASS)
    created.clinic.close()
    return created.recovery_secret


@pytest.fixture
def seeded(backend: Backend) -> Backend:
    """A vault with an admin, a clinician and a staff member (created directly, no wizard)."""
    create_seeded_vault(backend)
    return backend


def register_patient(backend: Backend, given: str = "Juma", family: str = "Otieno") -> str:
    """Record one patient directly through the services (as the clinician); returns the id."""
    clinic = backend.unlock(CLINICIAN, CLINICIAN_PASS)
    try:
        command = RegisterPatient(given=given, family=family, birth_date="1975-02-14", sex="male")
        return clinic.commands.execute(command, clinic.vault.actor).patient_id
    finally:
        clinic.close()


def open_as(controller: AppController, qtbot: QtBot, user: str, passphrase: str) -> MainView:
    """Unlock directly (no dialog) and wait for the main window."""
    clinic: Clinic = controller.backend.unlock(user, passphrase)
    controller.open_session(clinic)
    window = controller.window
    assert window is not None
    qtbot.waitUntil(lambda: controller.ops.idle, timeout=10_000)
    return window


def open_demo_chart(
    qtbot: QtBot, controller: AppController, backend: Backend
) -> tuple[MainView, str]:
    """The demo clinic (its day booked) open as the clinician on the full chart; its patient."""
    clinic = backend.unlock(CLINICIAN, CLINICIAN_PASS)
    patient_id = record_demo_clinic(clinic, CLINICIAN)
    book_day(clinic, CLINICIAN, [patient_id])
    clinic.close()
    window = open_as(controller, qtbot, CLINICIAN, CLINICIAN_PASS)
    window.open_patient(patient_id)
    qtbot.waitUntil(lambda: window.chart.current is not None, timeout=TIMEOUT)
    return window, patient_id
